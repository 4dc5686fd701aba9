"""The one error body of the whole API, and the catalogue of its codes.

Every error under /api/ answers ``application/json``::

    {"code": "invalid_transition", "message": "...", "detail": {"owners.0.name": ["..."]} | null,
     "request_id": "<the X-Request-ID of the response>"}

- ``code`` is stable: one code per meaning (see ``catalogue()``); clients branch on it, never on ``message``.
- ``detail`` is either null or an object mapping a field path to a list of messages. Nested fields are dotted
  paths (``owners.0.identifiers.1.value``); errors about the object as a whole, not one field, are under
  ``NON_FIELD_KEY`` (``non_field_errors``, also at nested levels: ``owners.0.non_field_errors``).
- ``request_id`` is the id also sent as the ``X-Request-ID`` header and written into every log line.

DRF errors come through ``api_exception_handler``; Django's own error responses under /api/ (an unknown URL,
a 500 page) are turned into the same body by ``ApiErrorMiddleware`` (HTML error pages stay everywhere else).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import InvalidTransition, MeridianError

logger = logging.getLogger("meridian.api")

NON_FIELD_KEY = "non_field_errors"
API_PREFIX = "/api/"


# --------------------------------------------------------------------------------------------------------------------
# The catalogue
@dataclass(frozen=True)
class ErrorCode:
    code: str
    status: int
    meaning: str
    raised_by: tuple[str, ...] = ()


# Codes that do not come from a MeridianError subclass: the HTTP layer (DRF and Django) and the API's own helpers.
PROTOCOL_CODES: tuple[ErrorCode, ...] = (
    ErrorCode("validation_failed", 400, "The request is not valid: `detail` names each field path and its messages."),
    ErrorCode("parse_error", 400, "The body is not well-formed (JSON syntax, nesting too deep, bad multipart)."),
    ErrorCode("bad_request", 400, "The request was refused before it reached the API (for example a bad Host header)."),
    ErrorCode("idempotency_key_invalid", 400, "The `Idempotency-Key` header is longer than 255 characters."),
    ErrorCode("not_authenticated", 401, "No credentials were sent: use `Authorization: Token <prefix>.<secret>`."),
    ErrorCode("authentication_failed", 401, "The credentials are malformed, unknown, revoked or expired."),
    ErrorCode("permission_denied", 403, "The caller may not do this (role, scope or firm)."),
    ErrorCode("not_found", 404, "No such resource in the caller's firm, or no such URL under /api/."),
    ErrorCode("method_not_allowed", 405, "The URL exists but does not accept this HTTP method."),
    ErrorCode("not_acceptable", 406, "The `Accept` header asks for a format the API does not serve."),
    ErrorCode("idempotency_in_progress", 409, "The first request with this `Idempotency-Key` is still running."),
    ErrorCode("unsupported_media_type", 415, "The body's content type is not accepted by this operation."),
    ErrorCode("idempotency_key_reused", 422, "This `Idempotency-Key` was used before with a different request."),
    ErrorCode("throttled", 429, "Too many requests for this token: wait for `Retry-After` seconds."),
    ErrorCode("server_error", 500, "An unexpected error: quote the `request_id` when reporting it."),
)

_DRF_CODES = {"invalid": "validation_failed", "error": "server_error"}


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


def catalogue() -> list[ErrorCode]:
    """Every error code the API can answer with, generated from the code: the protocol codes above and the
    `code`/`status_code`/docstring of every MeridianError subclass (collected once the apps are loaded).
    A code has one meaning and one status; subclasses that share a code (every state machine raises
    `invalid_transition`) are listed under it."""
    entries: dict[str, ErrorCode] = {e.code: e for e in PROTOCOL_CODES}
    raisers: dict[str, list[str]] = {}
    # shallowest class first: the class that introduces a code describes it
    classes = sorted(set(_all_subclasses(MeridianError)), key=lambda c: (len(c.__mro__), c.__module__, c.__qualname__))
    for cls in classes:
        if cls.__module__.startswith("tests"):
            continue
        raisers.setdefault(cls.code, []).append(f"{cls.__module__}.{cls.__qualname__}")
        if cls.code not in entries:
            entries[cls.code] = ErrorCode(cls.code, cls.status_code, " ".join((cls.__doc__ or cls.code).split()))
    return sorted((ErrorCode(e.code, e.status, e.meaning, tuple(raisers.get(e.code, ()))) for e in entries.values()),
                  key=lambda e: (e.status, e.code))


def catalogue_markdown() -> str:
    lines = ["| code | HTTP status | meaning |", "| --- | --- | --- |"]
    for e in catalogue():
        lines.append(f"| `{e.code}` | {e.status} {HTTPStatus(e.status).phrase} | {e.meaning} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------------
# The detail shape
def flatten_detail(data: Any, prefix: str = "") -> dict[str, list[str]] | None:
    """Turn DRF/Django error data (nested dicts, lists of per-item dicts, bare lists, strings) into
    {field path: [messages]}. `__all__` and bare lists become NON_FIELD_KEY at their level."""
    out: dict[str, list[str]] = {}

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            if not value:
                return
            for k, v in value.items():
                k = NON_FIELD_KEY if k in ("__all__",) else str(k)
                walk(v, f"{path}.{k}" if path else k)
        elif isinstance(value, (list, tuple)):
            if any(isinstance(v, (dict, list, tuple)) for v in value):
                for i, v in enumerate(value):
                    if isinstance(v, (dict, list, tuple)):
                        walk(v, f"{path}.{i}" if path else str(i))
                    elif v not in (None, ""):
                        out.setdefault(path or NON_FIELD_KEY, []).append(str(v))
            elif value:
                out.setdefault(path or NON_FIELD_KEY, []).extend(str(v) for v in value)
        elif value is not None:
            out.setdefault(path or NON_FIELD_KEY, []).append(str(value))

    walk(data, prefix)
    return out or None


LOCATION_KEYS = {"file", "line", "row", "field", "where"}


def meridian_detail(detail: Any, message: str, status_code: int) -> Any:
    """A service's detail in the API's shape. On a refused input (400, 422) its keys name the offending fields
    and a bare value under one ({"residence_country": "XX"}) becomes the error's message. On a refusal of the
    request as a whole (a state, a permission, a missing object) bare values are context already in the
    message ({"status": "approved"}) and are left out; lists under a key (the outstanding requirements, the
    ids not found) stay."""
    detail = location_detail(detail, message)
    if not isinstance(detail, dict):
        return detail
    if status_code in (400, 422):
        return {k: (v if isinstance(v, (list, tuple, dict)) else [message]) for k, v in detail.items()}
    return {k: v for k, v in detail.items() if isinstance(v, (list, tuple, dict))} or None


def location_detail(detail: Any, message: str) -> Any:
    """File importers raise with detail {"file", "line"/"row", "field"/"where"}: the location of the one bad
    value. In the API that is the field path `lines.<line>.<field>` (or `<where>`, or `file`) -> [message]."""
    if not (isinstance(detail, dict) and detail and "file" in detail and set(detail) <= LOCATION_KEYS):
        return detail
    field = detail.get("where") or detail.get("field")
    line = detail.get("line") or detail.get("row")
    if line not in (None, "") and field:
        line = str(line).removeprefix("row ").strip()
        return {f"lines.{line}.{field}": [message]}
    return {str(field or "file"): [message]}


def _django_validation_detail(exc: DjangoValidationError) -> dict[str, list[str]] | None:
    if hasattr(exc, "error_dict"):
        return flatten_detail(exc.message_dict)
    return flatten_detail(list(exc.messages))


# --------------------------------------------------------------------------------------------------------------------
# The body
def request_id() -> str | None:
    from django_guid import get_guid

    return get_guid()


def body(code: str, message: str, detail: Any = None) -> dict:
    return {"code": code, "message": message, "detail": flatten_detail(detail) if detail is not None else None,
            "request_id": request_id()}


def error_body(code: str, message: str, detail=None, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response(body(code, message, detail), status=status_code)


def _is_fsm_refusal(exc: Exception) -> bool:
    return exc.__class__.__name__ == "TransitionNotAllowed" and exc.__class__.__module__.startswith("django_fsm")


def api_exception_handler(exc, context):
    if isinstance(exc, RecursionError):  # JSON nested deeper than the parser can follow
        return error_body("parse_error", "the request body is nested too deeply")
    if _is_fsm_refusal(exc):  # a service that let django-fsm's refusal through: still one code for every machine
        exc = InvalidTransition(str(exc) or InvalidTransition.__doc__)
    if isinstance(exc, DjangoValidationError):
        return error_body("validation_failed", "the request is not valid", _django_validation_detail(exc))
    if isinstance(exc, MeridianError):
        return Response(body(exc.code, exc.message, meridian_detail(exc.api_detail(), exc.message, exc.status_code)),
                        status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        code, message, detail = "validation_failed", "the request is not valid", response.data
    else:
        detail_value = response.data.get("detail") if isinstance(response.data, dict) else response.data
        code = getattr(detail_value, "code", None) or getattr(exc, "default_code", "error")
        code = _DRF_CODES.get(code, code)
        message, detail = str(detail_value), None
    response.data = body(code, message, detail)
    return response


# --------------------------------------------------------------------------------------------------------------------
# Django's own error responses under /api/
_STATUS_CODES = {400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 415: "unsupported_media_type", 429: "throttled"}


def json_error_response(status_code: int, message: str | None = None) -> JsonResponse:
    code = _STATUS_CODES.get(status_code, "server_error" if status_code >= 500 else "bad_request")
    phrase = HTTPStatus(status_code).phrase if status_code in HTTPStatus._value2member_map_ else "error"
    return JsonResponse(body(code, message or phrase.lower()), status=status_code)


class ApiErrorMiddleware:
    """Under /api/, an error response that is not JSON (Django's 404 for an unknown URL, its 500 page, a
    CSRF or Host refusal) is replaced by the one JSON error body. Elsewhere the site's HTML pages stand."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code >= 400 and request.path.startswith(API_PREFIX) and not _is_json(response):
            if response.status_code >= 500:
                logger.error("server error on %s %s", request.method, request.path)
            message = {404: f"no API resource at {request.path}"}.get(response.status_code)
            replacement = json_error_response(response.status_code, message)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replacement[header] = response[header]
            return replacement
        return response


def _is_json(response) -> bool:
    content_type = response.get("Content-Type", "")
    if not content_type.startswith("application/json"):
        return False
    if getattr(response, "streaming", False):
        return True
    try:
        json.loads(response.content or b"null")
    except ValueError:
        return False
    return True
