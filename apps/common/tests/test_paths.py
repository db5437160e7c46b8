"""A request whose path, as sent, is not in normal form never reaches a view (shopcommon.paths): every
service and the frontend refuse it first, with the 400 envelope, whatever the path would route to."""

import pytest

from shopcommon.paths import problem, raw_path
from shoptesting import APP_NAMES, any_app

# spellings an attacker would try of a path an intention denies (/products/reservations…, /metrics),
# from CVE-2024-10005's class and what Envoy's normalize_path, merge_slashes and escaped-slash
# actions exist for; each with the words of the refusal
NOT_NORMAL = [
    ("/products/%72eservations/r1", "%72 encodes 'r', which needs no encoding"),
    ("/products/%52eservations/r1", "%52 encodes 'R'"),
    ("/products/reservation%73/r1", "%73 encodes 's'"),
    ("/%70roducts/reservations/r1", "%70 encodes 'p'"),
    ("/%6detrics", "%6d encodes 'm'"),
    ("/%6Detrics", "%6D encodes 'm'"),
    ("/products/reservations/r%31", "%31 encodes '1'"),
    ("/products/reservations/r%2D1", "%2D encodes '-'"),
    ("/products/reservations/r%5F1", "%5F encodes '_'"),
    ("/products/reservations/r%7E1", "%7E encodes '~'"),
    ("/products%2Freservations/r1", "%2F encodes a slash"),
    ("/products%2freservations/r1", "%2f encodes a slash"),
    ("/products%5Creservations/r1", "%5C encodes a backslash"),
    ("/products%5creservations/r1", "%5c encodes a backslash"),
    ("/products\\reservations/r1", "it holds a backslash"),
    ("/products/%2e/reservations/r1", "%2e encodes '.'"),
    ("/products/%2E%2E/products/reservations/r1", "%2E encodes '.'"),
    ("/products/./reservations/r1", "it holds a dot segment"),
    ("/products/x/../reservations/r1", "it holds a dot segment"),
    ("/x/../metrics", "it holds a dot segment"),
    ("/./metrics", "it holds a dot segment"),
    ("/products/reservations/..", "it holds a dot segment"),
    ("//metrics", "it holds an empty segment (//)"),
    ("/products//reservations/r1", "it holds an empty segment (//)"),
    ("/products/reservations//r1", "it holds an empty segment (//)"),
    ("/products/%zzreservations", "%zz is not a percent-encoded byte"),
    ("/products/reservations/r1%", "% is not a percent-encoded byte"),
    ("/products/reservations/r1%4", "%4 is not a percent-encoded byte"),
    ("products/reservations/r1", "it does not start with /"),
]

NORMAL = ["/", "/products", "/products/", "/products/12", "/products/reservations/r-1_x~",
          "/api/users/1", "/products/a%20b", "/products/%3A", "/products/%25", "/products/%C3%A9",
          "/docs/swagger", "/products/.hidden", "/products/a..b"]


@pytest.mark.parametrize("path, why", NOT_NORMAL)
def test_a_path_not_in_normal_form_is_named_with_what_is_wrong(path, why):
    assert why in problem(path)


@pytest.mark.parametrize("path", NORMAL)
def test_a_path_in_normal_form_passes(path):
    assert problem(path) is None


@pytest.mark.parametrize("environ, path", [
    ({"RAW_URI": "/a/%72?x=%2F", "PATH_INFO": "/a/r"}, "/a/%72"),  # gunicorn
    ({"REQUEST_URI": "/a/b#c"}, "/a/b"),  # werkzeug
    ({"RAW_URI": "http://shop:5001/%6detrics?x"}, "/%6detrics"),  # an absolute-form request target
    ({"RAW_URI": "http://shop:5001"}, "/"),
    ({"PATH_INFO": "/a"}, None),  # a server that keeps no request line: nothing to check
])
def test_the_raw_path_comes_from_the_request_line_without_its_query(environ, path):
    assert raw_path(environ) == path


@pytest.fixture(params=APP_NAMES)
def client(request, tmp_path):
    return any_app(request.param, tmp_path).test_client()


@pytest.mark.parametrize("path, why", NOT_NORMAL[:1] + [
    ("/api/users/%31", "%31 encodes '1'"), ("/api/orders/%31", "%31 encodes '1'"), ("/product%73", "%73 encodes 's'"),
    ("/api/product%73", "%73 encodes 's'"), ("/healthcheck/.", "it holds a dot segment"),
    ("/api//users", "it holds an empty segment"), ("/openapi%2Ejson", "%2E encodes '.'")])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
def test_every_service_refuses_it_before_any_view_with_the_envelope(client, method, path, why):
    answer = client.open(path, method=method, json={"items": [{"product_id": 1, "quantity": 1}]})
    assert answer.status_code == 400, (path, answer.status_code, answer.get_data(as_text=True)[:200])
    if answer.mimetype == "text/html":  # the frontend's pages: a person reads why on a page
        assert not path.startswith("/api/") and "Not a plain address" in answer.get_data(as_text=True)
        return
    error = answer.get_json()["error"]
    assert error["code"] == "path_not_normal" and why in error["message"], error
    assert why in error["fields"]["path"]


def test_every_operation_documents_the_refusal(client):
    document = client.get("/openapi.json").get_json()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            refusal = operation["responses"].get("400")
            assert refusal and refusal["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}, (path, method)


def test_a_person_gets_a_page_and_an_api_client_the_envelope_from_the_frontend(tmp_path):
    client = any_app("frontend", tmp_path).test_client()
    page = client.get("/product%73")
    assert page.status_code == 400 and page.mimetype == "text/html"
    assert "Not a plain address" in page.get_data(as_text=True)
    api = client.get("/api/product%73")
    assert api.status_code == 400 and api.get_json()["error"]["code"] == "path_not_normal"
