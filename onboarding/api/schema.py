"""OpenAPI post-processing: the one error schema, error responses on every operation, the common headers
(`Idempotency-Key`, `X-Request-ID`), the error catalogue in the description, and the webhook events (one
typed component per event, `WebhookEvent` as their `oneOf` by `type`, and an `x-webhooks` section). Registered in
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] after drf-spectacular's own enum hook."""
from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiParameter

from .. import webhook_events
from .errors import NON_FIELD_KEY, catalogue, catalogue_markdown

IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", {"type": "string", "maxLength": 255}, OpenApiParameter.HEADER, required=False,
    description="Makes this POST safe to retry: the first response is stored and replayed for a retry with the "
                "same key and body (header `Idempotent-Replayed: true`); the same key with another body answers "
                "422 `idempotency_key_reused`; at most 255 characters (else 400 `idempotency_key_invalid`).")


class AutoSchema(openapi.AutoSchema):
    """Marks the operations that honour `Idempotency-Key` (views wrapped by onboarding.api.idempotency),
    so the header is documented exactly where it works."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        method = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        if getattr(method, "idempotent", False):
            return [*parameters, IDEMPOTENCY_KEY]
        return parameters

ERROR_REF = {"$ref": "#/components/schemas/Error"}
WRITE_METHODS = ("post", "put", "patch", "delete")


def error_schema() -> dict:
    codes = sorted({e.code for e in catalogue()})
    return {
        "type": "object",
        "description": "The one error body of the API. `code` is stable (see the error catalogue in the API "
                       "description); `detail` is null or maps a field path (dotted for nested fields, "
                       f"`{NON_FIELD_KEY}` for the object as a whole) to its messages.",
        "properties": {
            "code": {"type": "string", "enum": codes, "description": "stable machine-readable code"},
            "message": {"type": "string", "description": "human-readable, may change"},
            "detail": {"type": "object", "nullable": True,
                       "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "request_id": {"type": "string", "nullable": True, "description": "also in the X-Request-ID header"},
        },
        "required": ["code", "message", "detail", "request_id"],
        "additionalProperties": False,
    }


def _response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR_REF}},
            "headers": {"X-Request-ID": {"$ref": "#/components/headers/X-Request-ID"}}}


ERROR_DESCRIPTIONS = {
    "400": "validation_failed, parse_error or another 400 code of the catalogue",
    "401": "not_authenticated or authentication_failed",
    "403": "permission_denied, four_eyes_required or another 403 code",
    "404": "not_found or another 404 code",
    "405": "method_not_allowed",
    "409": "invalid_transition, requirements_outstanding or another 409 code",
    "415": "unsupported_media_type",
    "422": "idempotency_key_reused or another 422 code",
    "429": "throttled",
    "500": "server_error",
}


def _statuses_for(path: str, method: str, operation: dict) -> list[str]:
    statuses = ["400", "401", "403", "404", "429"]  # 404 also for a list's page past the end
    if method in WRITE_METHODS:
        statuses += ["409", "422"]
    if "requestBody" in operation:
        statuses.append("415")
    return sorted(set(statuses))


def add_links(paths: dict) -> None:
    """OpenAPI links from each creation (POST /x/ answering 201 with an `id`) to every operation on that
    resource (/x/{id}/...): they tell a client, and schemathesis's stateful run, how the id flows."""
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if "{" in path or not created:
            continue
        for other, other_item in paths.items():
            if not other.startswith(path + "{id}/"):
                continue
            for method, operation in other_item.items():
                if method in ("get", "post", "put", "patch", "delete") and operation.get("operationId"):
                    name = operation["operationId"]
                    created.setdefault("links", {})[name] = {
                        "operationId": name, "parameters": {"id": "$response.body#/id"},
                        "description": f"{method.upper()} {other} on the resource just created"}


SIGNATURE_HEADERS = [
    {"name": "Meridian-Signature", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "`t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\" with the endpoint's secret>`: verify "
                    "it, and refuse a timestamp older than five minutes"},
    {"name": "Meridian-Event", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "the event type (the body's `type`)"},
    {"name": "Meridian-Delivery", "in": "header", "required": True, "schema": {"type": "string"},
     "description": "the delivery's id (GET /api/v1/webhooks/{id}/deliveries/); a redelivery has its own"},
]


def add_webhook_events(result: dict) -> None:
    """Every event of the catalogue as components (`<Name>Data` for its `data`, `<Name>Event` for the body),
    `WebhookEvent` as their `oneOf` discriminated by `type`, and `x-webhooks` (OpenAPI 3.0's extension for
    what OpenAPI 3.1 calls `webhooks`): one POST each, as Meridian sends it to a partner's URL."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    mapping, hooks = {}, {}
    for event in webhook_events.catalogue():
        data_name = event.component.removesuffix("Event") + "Data"
        schemas[data_name] = {**event.data, "example": event.example}
        schemas[event.component] = webhook_events.envelope_schema(event, {"$ref": f"#/components/schemas/{data_name}"})
        ref = f"#/components/schemas/{event.component}"
        mapping[event.name] = ref
        hooks[event.name] = {"post": {
            "summary": event.name, "description": event.summary, "operationId": f"webhook_{event.name}",
            "tags": ["webhook events"], "parameters": SIGNATURE_HEADERS,
            "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": ref}}}},
            "responses": {"2XX": {"description": "received; any other answer (or none in 10 s) is retried with "
                                                 "exponential backoff"}}}}
    schemas["WebhookEvent"] = {
        "description": "The body of every webhook delivery, by `type` (the catalogue: GET /api/v1/webhook-events/).",
        "oneOf": [{"$ref": ref} for ref in mapping.values()],
        "discriminator": {"propertyName": "type", "mapping": mapping}}
    result["x-webhooks"] = hooks


def postprocess(result, generator, request, public):
    components = result.setdefault("components", {})
    components.setdefault("schemas", {})["Error"] = error_schema()
    components.setdefault("headers", {})["X-Request-ID"] = {
        "description": "The request's id: the client's own UUID when it sent one, else a new one. "
                       "Also in error bodies and the server's logs.",
        "schema": {"type": "string"}}
    components.setdefault("parameters", {})["RequestId"] = {
        "name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"},
        "description": "Optional UUID to correlate the request; echoed in the X-Request-ID response header."}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                if code.startswith("2"):
                    response.setdefault("headers", {})["X-Request-ID"] = {"$ref": "#/components/headers/X-Request-ID"}
            for code in _statuses_for(path, method, operation):
                responses.setdefault(code, _response(ERROR_DESCRIPTIONS[code]))
    add_links(result.get("paths", {}))
    add_webhook_events(result)
    info = result.setdefault("info", {})
    info["description"] = (info.get("description", "") + "\n\n## Errors\n\n"
                           "Every error answers the `Error` schema: `{code, message, detail, request_id}`. "
                           f"`detail` is null or maps a field path to a list of messages (`{NON_FIELD_KEY}` "
                           "for the whole object). The codes, generated from the code "
                           "(also at `GET /api/v1/errors/`):\n\n" + catalogue_markdown()
                           + "\n\n## Webhook events\n\nEach delivery is a signed POST of `{id, type, created, "
                           "test, data}` (the `WebhookEvent` schema, one component per type; `x-webhooks`). "
                           "Types (also at `GET /api/v1/webhook-events/`):\n\n"
                           + "\n".join(f"- `{e.name}` ({e.component}): {e.summary}"
                                        for e in webhook_events.catalogue()))
    return result
