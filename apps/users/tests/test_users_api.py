import pytest


def create(client, name="Ada Lovelace", email="ada@example.com"):
    return client.post("/api/users", json={"name": name, "email": email})


def test_create_and_read_user(client, count_users):
    response = create(client, name="  Ada Lovelace ", email="Ada@Example.com")
    assert response.status_code == 201
    user = response.get_json()
    assert user == {"id": user["id"], "name": "Ada Lovelace", "email": "ada@example.com"}
    assert response.headers["Location"] == f"/api/users/{user['id']}"
    assert client.get(f"/api/users/{user['id']}").get_json() == user
    assert count_users() == 1


def test_list_is_ordered_and_paginated(client):
    for i in range(5):
        assert create(client, name=f"user {i}", email=f"u{i}@example.com").status_code == 201
    page = client.get("/api/users?limit=2&offset=1").get_json()
    assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == 1
    assert [u["name"] for u in page["items"]] == ["user 1", "user 2"]
    assert client.get("/api/users").get_json()["limit"] == 50
    newest = client.get("/api/users?order=desc&limit=2").get_json()["items"]
    assert [u["name"] for u in newest] == ["user 4", "user 3"]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "offset=-1", "offset=x", "order=up"])
def test_bad_pagination_is_400(client, query):
    response = client.get(f"/api/users?{query}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_query"


def test_unknown_user_is_404_json(client):
    response = client.get("/api/users/999")
    assert response.status_code == 404
    assert response.is_json
    assert response.get_json()["error"]["code"] == "user_not_found"


def test_duplicate_email_is_409_and_stores_nothing(client, count_users):
    assert create(client).status_code == 201
    response = create(client, name="Other", email="ADA@example.com")
    assert response.status_code == 409
    assert response.get_json()["error"]["fields"] == {"email": "is already registered"}
    assert count_users() == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"email": "a@example.com"}, "name"),
        ({"name": "", "email": "a@example.com"}, "name"),
        ({"name": "   ", "email": "a@example.com"}, "name"),
        ({"name": 5, "email": "a@example.com"}, "name"),
        ({"name": "x" * 201, "email": "a@example.com"}, "name"),
        ({"name": "Ada"}, "email"),
        ({"name": "Ada", "email": "not-an-email"}, "email"),
        ({"name": "Ada", "email": "a@b"}, "email"),
        ({"name": "Ada", "email": ["a@example.com"]}, "email"),
    ],
)
def test_invalid_fields_are_400_naming_the_field(client, count_users, body, field):
    response = client.post("/api/users", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert field in error["fields"]
    assert count_users() == 0


@pytest.mark.parametrize(
    "kwargs, status, code",
    [
        ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json"),
        ({"data": "[1, 2]", "content_type": "application/json"}, 400, "invalid_body"),
        ({"data": "name=Ada", "content_type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"),
        ({"data": "x" * (65 * 1024), "content_type": "application/json"}, 413, "payload_too_large"),
    ],
)
def test_malformed_requests(client, count_users, kwargs, status, code):
    response = client.post("/api/users", **kwargs)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.get_json()["error"]["code"] == code
    assert count_users() == 0


def test_wrong_method_is_405_json(client):
    response = client.delete("/api/users")
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


def test_healthcheck_answers_when_database_does(client):
    response = client.get("/healthcheck")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "service": "users"}


def test_healthcheck_is_503_when_database_is_broken(tmp_path):
    from shopcommon import db
    from users import create_app

    path = tmp_path / "users.db"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        db.engine.dispose()
    for leftover in tmp_path.glob("users.db*"):
        leftover.unlink()
    path.write_bytes(b"this is not a database" * 100)
    response = app.test_client().get("/healthcheck")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"


def test_request_id_is_echoed(client):
    response = client.get("/api/users", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    assert len(client.get("/api/users").headers["X-Request-Id"]) == 32


@pytest.mark.parametrize("path", ["/api/users/0", "/api/users/-1", "/api/users/99999999999999999999",
                                  "/api/users/2147483648", "/api/users/abc", "/api/users?offset=99999999999999"])
def test_out_of_range_ids_are_4xx_not_5xx(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert response.is_json
