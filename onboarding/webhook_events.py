"""The catalogue of webhook events: every event type a partner can subscribe to, with the typed schema of
its `data` and an example.

onboarding is the base layer, so the other apps register their events here from their `AppConfig.ready()`
(as they register requirement providers); `onboarding.webhooks.emit` refuses a type nobody registered. The
catalogue is published in the OpenAPI schema (one component per event, `WebhookEvent` as their `oneOf` by
`type`, and an `x-webhooks` section) by `onboarding.api.schema`, and at `GET /api/v1/webhook-events/`.

Every delivery's body is the envelope ``{"id", "type", "created", "test", "data"}``; `data` follows the
event's schema exactly (every property present, nothing else). The schemas are JSON Schema written with the
small helpers below, so the one definition serves the documentation, the tests (which validate every payload
emitted against it) and `emit` itself when WEBHOOK_VALIDATE_PAYLOADS is on (tests and development).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Schema = dict[str, Any]

ID: Schema = {"type": "integer", "description": "id"}
STR: Schema = {"type": "string"}
BOOL: Schema = {"type": "boolean"}
INT: Schema = {"type": "integer"}
DATE: Schema = {"type": "string", "format": "date"}
DECIMAL: Schema = {"type": "string", "format": "decimal", "pattern": r"^-?\d+(\.\d+)?$",
                   "description": "a decimal number as a string, never a float"}
CURRENCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}


def described(schema: Schema, description: str) -> Schema:
    return {**schema, "description": description}


def nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


def enum(*values: str) -> Schema:
    return {"type": "string", "enum": list(values)}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def data_schema(**properties: Schema) -> Schema:
    """An object whose every property is present (null where `nullable`) and nothing else."""
    return {"type": "object", "properties": dict(properties), "required": list(properties),
            "additionalProperties": False}


@dataclass(frozen=True)
class EventType:
    name: str        # "order.released": resource, then what happened
    summary: str     # when it is sent, in words
    data: Schema     # JSON Schema of the envelope's `data`
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def component(self) -> str:
        """The OpenAPI component name: order.failed_to_settle -> OrderFailedToSettleEvent."""
        words = self.name.replace(".", "_").split("_")
        return "".join(w.capitalize() for w in words) + "Event"


_REGISTRY: dict[str, EventType] = {}


def register(name: str, *, summary: str, data: Schema, example: dict[str, Any]) -> None:
    """Add an event type to the catalogue (idempotent for the same definition; apps call it from ready())."""
    event = EventType(name=name, summary=" ".join(summary.split()), data=data, example=example)
    if name in _REGISTRY and _REGISTRY[name] != event:
        raise ValueError(f"webhook event {name!r} is registered twice with different definitions")
    _REGISTRY[name] = event


def catalogue() -> list[EventType]:
    return sorted(_REGISTRY.values(), key=lambda e: e.name)


def get(name: str) -> EventType | None:
    return _REGISTRY.get(name)


def event_types() -> list[str]:
    return sorted(_REGISTRY)


def envelope_schema(event: EventType, data_ref: Schema | None = None) -> Schema:
    return {
        "type": "object",
        "description": event.summary,
        "properties": {
            "id": described(STR, "the event's id: the same in every delivery and redelivery of the event"),
            "type": {"type": "string", "enum": [event.name]},
            "created": {"type": "string", "format": "date-time"},
            "test": described(BOOL, "true for an event sent by POST /api/v1/webhooks/{id}/test/"),
            "data": data_ref or event.data,
        },
        "required": ["id", "type", "created", "test", "data"],
        "additionalProperties": False,
        "example": {"id": "5f0c3a1e2b7d4c9e8a6b1d2f3e4a5b6c", "type": event.name,
                    "created": "2026-12-07T09:30:00+00:00", "test": False, "data": event.example},
    }


def validate(event_type: str, data: dict[str, Any]) -> None:
    """Raise ValueError when `data` does not follow the registered schema (used when
    WEBHOOK_VALIDATE_PAYLOADS is on, and by the tests)."""
    import jsonschema

    event = _REGISTRY.get(event_type)
    if event is None:
        raise ValueError(f"webhook event {event_type!r} is not in the catalogue (onboarding.webhook_events)")
    try:
        jsonschema.validate(data, _nullable_to_jsonschema(event.data))
    except jsonschema.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path) or "data"
        raise ValueError(f"webhook event {event_type}: {path}: {exc.message}") from None


def _nullable_to_jsonschema(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as plain JSON Schema (type or null)."""
    if isinstance(schema, list):
        return [_nullable_to_jsonschema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _nullable_to_jsonschema(v) for k, v in schema.items() if k not in ("nullable", "format")}
    if schema.get("nullable"):
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "type" in out:
            out["type"] = [out["type"], "null"]
    return out


# --------------------------------------------------------------------------------------------------------------------
# onboarding's own events
def register_onboarding_events() -> None:
    register("webhook.test", summary="Sent only by POST /api/v1/webhooks/{id}/test/ without an `event_type`: "
             "proves that the endpoint receives and verifies signed deliveries.",
             data=data_schema(endpoint=ID, message=STR),
             example={"endpoint": 7, "message": "a test event from Meridian"})
    from .models import CaseState, RelationshipState

    case_states = CaseState.values
    register("case.state_changed", summary="An onboarding or review case moved from one state to another "
             "(submitted, review started, information requested, approved, rejected, withdrawn).",
             data=data_schema(case=ID, party=ID, **{"from": enum(*case_states), "to": enum(*case_states)}),
             example={"case": 41, "party": 12, "from": "in_review", "to": "approved"})
    register("relationship.activated", summary="A case's approval made the client's relationship active (a "
             "new relationship, or one whose review completed): account-level actions are open.",
             data=data_schema(relationship=ID, party=ID, case=ID, state=enum(*RelationshipState.values), next_review_due=nullable(DATE)),
             example={"relationship": 9, "party": 12, "case": 41, "state": "active", "next_review_due": "2029-12-07"})
