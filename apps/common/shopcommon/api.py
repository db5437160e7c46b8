"""A service's HTTP API as flask-openapi3 builds it from the contract's models (``shopcommon.contract``).

A view declares what it takes (``body``, ``query``, ``path``, ``header`` arguments typed with the
contract's models) and what it answers (``responses``); flask-openapi3 validates the first, and both
make the service's OpenAPI 3.1 document, served at ``/openapi.json``, with Swagger UI at
``/docs/swagger`` (its files come in the flask-openapi3-swagger wheel: no CDN). A refusal keeps the
shop's envelope: the body's media type and JSON are checked first (415, 400 ``malformed_json``), then
each bad field is named with the same words as always (400 ``validation_failed``, ``invalid_query`` …).
"""

import inspect
from typing import Any

from flask import current_app, request
from flask_openapi3 import APIBlueprint, Info, OpenAPI, Tag
from pydantic import BaseModel, ValidationError

from shopcommon import contract
from shopcommon.app import init_service
from shopcommon.contract import Error

__all__ = ["BODY_REFUSALS", "QUERY_REFUSALS", "APIBlueprint", "Tag", "refused", "service_app"]

VERSION = "1.0.0"
# an answer every operation with a JSON body can give, besides its own
BODY_REFUSALS = {400: Error, 413: Error, 415: Error}
# what an operation with a query string can also answer: gunicorn's own refusal of a request line over
# its 4094-byte limit, in HTML, before the app sees it
QUERY_REFUSALS = {400: Error, 414: {"description": "URI Too Long: the request line is over 4094 bytes "
                                   "(gunicorn's limit; its answer is HTML)",
                                   "content": {"text/html": {"schema": {"type": "string"}}}}}
# what every operation can answer: its path, as sent, not in normal form (shopcommon.paths)
PATH_REFUSAL = {"description": "Bad Request: the path as sent is not in normal form (path_not_normal)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}: API</title>
  <link rel="stylesheet" href="swagger/css/swagger-ui.css">
</head>
<body data-spec="{{ doc_url }}">
  <div id="swagger-ui"></div>
  <script src="swagger/js/swagger-ui-bundle.js"></script>
  <script src="swagger/js/swagger-ui-standalone-preset.js"></script>
  <script src="swagger-init.js"></script>
</body>
</html>
"""

DOCS_SCRIPT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL(document.body.dataset.spec, window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout"
  });
});
"""


def refused(*statuses: int) -> dict[int, type[BaseModel]]:
    """``responses`` entries for refusals, each with the envelope."""
    return {status: Error for status in statuses}


class ShopAPI(OpenAPI):
    """flask-openapi3's app, whose document says only what the service can answer, with the links
    from each created resource to where it is read (schemathesis follows them)."""

    def generate_spec_json(self):
        super().generate_spec_json()
        for path, item in self.spec_json["paths"].items():
            for operation in item.values():
                for parameter in operation.get("parameters", []):
                    if parameter["in"] == "query" and parameter["name"] in contract.EMPTY_IS_DEFAULT:
                        parameter["allowEmptyValue"] = True
                refusal = operation["responses"].get("400")
                # flask-openapi3 adds its validation answer to every operation; ours say where they have
                # one, and every operation refuses a path not in normal form (shopcommon.paths)
                if refusal is None or refusal.get("content", {}).get("application/json", {}).get(
                        "schema", {}).get("type") == "array":
                    operation["responses"]["400"] = PATH_REFUSAL
            _link(self.spec_json["paths"], path, item)
        components = self.spec_json["components"]
        if not components.get("securitySchemes"):
            components.pop("securitySchemes", None)  # null is not an OpenAPI value


def _link(paths: dict[str, Any], path: str, item: dict[str, Any]) -> None:
    """POST ``/things`` answering ``{id}`` links to GET ``/things/{thing_id}``; an operation on
    ``/things/{key}`` links to the others on that path and below it, with the same key."""
    for method, operation in item.items():
        links = {}
        for other_path, other_item in paths.items():
            one_below = other_path.startswith(path + "/{") and other_path.count("/") == path.count("/") + 1
            if method == "post" and one_below:
                name = other_path.rsplit("{", 1)[1].rstrip("}")
                target = {name: "$response.body#/id"}
            elif "{" in path and other_path.startswith(path) and method in ("put", "post"):
                target = {name: f"$request.path.{name}" for name in _params(path)}
            else:
                continue
            for other in other_item.values():
                if other is not operation and "operationId" in other:
                    links[other["operationId"]] = {"operationId": other["operationId"], "parameters": target}
        for status, answer in operation["responses"].items():
            if links and status in ("200", "201"):
                answer["links"] = links


def _params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def service_app(import_name: str, service: str, description: str, test_config: dict | None = None,
                models: tuple = ()) -> ShopAPI:
    """The service's app (``init_service``'s wiring), on flask-openapi3's app class: refusing in the
    shop's envelope, documented at /openapi.json and /docs/swagger."""
    app = ShopAPI(import_name, info=Info(title=service, version=VERSION, description=description),
                  doc_prefix="/docs", validation_error_status=400, validation_error_model=Error,
                  validation_error_callback=_refuse,
                  # in tests every answer is checked against the model its status declares
                  validate_response=bool(test_config and test_config.get("TESTING")))
    init_service(app, service, test_config, models)
    app.add_url_rule("/openapi.json", "openapi_json", lambda: current_app.api_doc)
    # Swagger UI with no inline script or style, so a strict Content-Security-Policy lets it run
    app.config["SWAGGER_HTML_STRING"] = DOCS_PAGE.replace("{{ title }}", service)
    app.add_url_rule("/docs/swagger-init.js", "swagger_init",
                     lambda: current_app.response_class(DOCS_SCRIPT, mimetype="text/javascript"))
    # after init_service's hooks: a refused body is logged, counted and traced like any answer
    app.before_request(_body_is_json)
    app.after_request(_docs_policy)
    return app


# Swagger UI sets inline styles and draws its icons from data: URIs; its pages, and only they, may
DOCS_POLICY = ("default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
               "frame-ancestors 'none'; base-uri 'self'; form-action 'self'")


def _docs_policy(response):
    if request.path.startswith("/docs/"):
        response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response


def _takes_body(endpoint: str | None) -> bool:
    known = current_app.extensions.setdefault("shop.takes_body", {})
    if endpoint not in known:
        view = current_app.view_functions.get(endpoint) if endpoint else None
        known[endpoint] = view is not None and "body" in getattr(inspect.unwrap(view), "__annotations__", {})
    return known[endpoint]


def _body_is_json() -> None:
    """An operation that takes a JSON body refuses any other first (415, 400), before its fields."""
    if _takes_body(request.endpoint):
        contract.json_body()


def _refuse(err: ValidationError):
    """flask-openapi3's validation error, as the envelope the model's refusal makes."""
    raise contract.refusal_for(err)
