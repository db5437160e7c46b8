"""The contract as each service publishes it: its OpenAPI 3.1 document, its docs page, and the refusals
the models make (the services' own suites check every field's message)."""

import json

import jsonschema_rs
import pytest
from pydantic import ValidationError

from shopcommon import contract
from shoptesting import APP_NAMES, any_app


@pytest.fixture(params=APP_NAMES)
def service(request, tmp_path):
    return request.param, any_app(request.param, tmp_path).test_client()


def _schemas_with_examples(node, found):
    """Every schema in the document that carries an ``example``."""
    if isinstance(node, dict):
        if "example" in node and ("type" in node or "$ref" in node or "properties" in node):
            found.append(node)
        for value in node.values():
            _schemas_with_examples(value, found)
    elif isinstance(node, list):
        for value in node:
            _schemas_with_examples(value, found)
    return found


def test_each_service_publishes_openapi_31_with_named_operations(service):
    name, client = service
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"] == "3.1.0" and document["info"]["title"] == name
    assert client.get("/docs/openapi.json").get_json() == document
    operations = [op for item in document["paths"].values() for op in item.values()]
    assert operations and all(op.get("operationId") and op.get("summary") for op in operations)
    assert len({op["operationId"] for op in operations}) == len(operations)
    for operation in operations:
        # flask-openapi3's own validation answer is replaced by the shop's envelope wherever it is named
        for status, answer in operation["responses"].items():
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            if status != "414" and status[0] in "45":  # 414 is gunicorn's, in HTML
                assert schema == {"$ref": "#/components/schemas/Error"}, (operation["operationId"], status)
    assert "securitySchemes" not in document["components"]


def test_every_example_in_the_document_is_valid(service):
    name, client = service
    document = client.get("/openapi.json").get_json()
    examples = _schemas_with_examples(document["paths"], []) + _schemas_with_examples(document["components"], [])
    assert examples, f"{name} documents no examples"
    for schema in examples:
        example = schema["example"]
        validator = jsonschema_rs.validator_for({**schema, "components": document["components"]})
        errors = [error.message for error in validator.iter_errors(example)]
        assert not errors, f"{name}: example {json.dumps(example)} is not valid: {errors}"


def test_created_resources_link_to_where_they_are_read(service):
    name, client = service
    document = client.get("/openapi.json").get_json()
    links = {link["operationId"] for item in document["paths"].values() for op in item.values()
             for answer in op["responses"].values() for link in answer.get("links", {}).values()}
    wanted = {"users": {"getUser"}, "products": {"getProduct", "getReservation", "confirmReservation",
                                                  "releaseReservation"},
              "orders": {"getOrder"}, "frontend": {"getUser", "getProduct", "getOrder"}}[name]
    assert wanted <= links


def test_the_docs_page_runs_from_the_services_own_files(service):
    name, client = service
    page = client.get("/docs/swagger")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "http://" not in html and "https://" not in html and "<style" not in html
    assert "<script>" not in html  # no inline script: the init is a file of its own
    assert client.get("/docs/swagger-init.js").mimetype == "text/javascript"
    with client.get("/docs/swagger/js/swagger-ui-bundle.js") as script:
        assert script.status_code == 200
    assert "style-src 'self' 'unsafe-inline'" in page.headers["Content-Security-Policy"]


def test_money_is_a_decimal_string_on_the_wire_and_cents_inside():
    product = contract.Product.model_validate({"id": 1, "name": "Lamp", "price": "19.99", "stock": 2})
    assert product.price_cents == 1999
    assert product.wire() == {"id": 1, "name": "Lamp", "price": "19.99", "stock": 2}
    # a total beyond what one price may be is still read exactly
    order_total = contract.Order.model_validate({"id": 1, "user_id": 1, "items": [], "total": "99999999999999.99",
                                                 "status": "confirmed", "created_at": "2026-11-28T15:00:00Z"})
    assert order_total.total_cents == 9_999_999_999_999_999
    for price in ("19.9", 20, 19.99, "1e3"):  # an answer's amount is the two-place string, nothing else
        with pytest.raises(ValidationError):
            contract.Product.model_validate({"id": 1, "name": "Lamp", "price": price, "stock": 2})


@pytest.mark.parametrize("value, problem", [
    ("abc", "must be a whole number"), ("-1", "must be a whole number"), ("0", "must be between 1 and 200"),
    ("201", "must be between 1 and 200"), (" 5", "must be a whole number"),
])
def test_a_bad_query_parameter_is_named_as_before(value, problem):
    with pytest.raises(ValidationError) as failed:
        contract.PageQuery.model_validate({"limit": value})
    refusal = contract.refusal_for(failed.value)
    assert (refusal.status, refusal.code, refusal.message, refusal.fields) == \
        (400, "invalid_query", f"limit {problem}", {"limit": problem})


def test_whitespace_in_the_patterns_is_what_strip_removes():
    # the document's patterns and the service's strip() agree on every character
    assert all(not contract.re.match(contract.EMAIL_PATTERN, f"a{c}@b.c") for c in contract.WHITESPACE)
    assert contract.parse(contract.NewUser, {"name": "\u2003Ada\u3000", "email": "ADA@example.com"}).name == "Ada"
    with pytest.raises(contract.APIError) as refused:
        contract.parse(contract.NewUser, {"name": "\u0085\u00a0", "email": "ada@example.com"})
    assert refused.value.fields == {"name": "must not be empty"}


def test_json_numbers_that_are_whole_are_integers():
    # 2.0 and 2 are the same JSON number (and the same JSON Schema integer); 2.5 and true are not
    order = contract.parse(contract.NewOrder, {"user_id": 2.0, "items": [{"product_id": 1, "quantity": 3.0}]})
    assert (order.user_id, order.lines[0].quantity) == (2, 3)
    with pytest.raises(contract.APIError) as refused:
        contract.parse(contract.NewOrder, {"user_id": True, "items": [{"product_id": 1, "quantity": 2.5}]})
    assert refused.value.fields == {"user_id": "must be an integer", "items[0].quantity": "must be an integer"}
