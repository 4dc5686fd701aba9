"""One error body for the whole API: {"code", "message", "detail"} with the right status."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from ..exceptions import MeridianError


def api_exception_handler(exc, context):
    if isinstance(exc, RecursionError):  # JSON nested deeper than the parser can follow
        return Response({"code": "parse_error", "message": "the request body is nested too deeply", "detail": None},
                        status=400)
    if isinstance(exc, MeridianError):
        return Response({"code": exc.code, "message": exc.message, "detail": exc.detail}, status=exc.status_code)
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
        message, detail = str(detail_value), None
    response.data = {"code": code, "message": message, "detail": detail}
    return response


def error_body(code: str, message: str, detail=None, status_code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"code": code, "message": message, "detail": detail}, status=status_code)
