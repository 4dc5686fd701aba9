"""The site's error pages in the site's style, wired as Django's handler400/403/404/500. Under
/api/ the API's one JSON error body is used instead (onboarding.api.errors.json_error_response)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import loader

API_PREFIX = "/api/"


def _api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _json(status: int, message: str | None = None) -> HttpResponse:
    from .api.errors import json_error_response

    return json_error_response(status, message)


def _render(template: str, context: dict, request: HttpRequest | None, status: int) -> HttpResponse:
    """The site's page; a bare page when the site's URLs are not there to link to (a test's own urlconf)."""
    from django.urls import NoReverseMatch

    try:
        return HttpResponse(loader.render_to_string(template, context, request=request), status=status)
    except NoReverseMatch:
        return HttpResponse(f"<!doctype html><title>Error {status}</title><h1>Error {status}</h1>"
                            f"<p>{context.get('message', '')}</p>", status=status)


def _message(exception) -> str:
    text = str(exception.args[0]) if exception is not None and getattr(exception, "args", None) else ""
    # Django's resolver puts a dict in a 404's args; only a sentence is for the reader.
    return text if text and not text.startswith("{") and len(text) < 300 else ""


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return _json(404, f"no API resource at {request.path}")
    return _render("errors/404.html", {"message": _message(exception), "path": request.path}, request, 404)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return _json(403, _message(exception) or None)
    return _render("errors/403.html", {"message": _message(exception)}, request, 403)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return _json(400)
    return _render("errors/400.html", {}, request, 400)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return _json(500)
    # No request context: a page that fails must not fail again on the user or the session.
    return _render("errors/500.html", {}, None, 500)
