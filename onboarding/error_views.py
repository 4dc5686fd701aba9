"""The site's error pages: HTML in the site's style outside /api/, the API's JSON error body
({"code", "message", "detail"}) inside it. Wired as Django's handler403/404/500."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import loader

API_PREFIX = "/api/"


def _api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _message(exception) -> str:
    text = str(exception.args[0]) if exception is not None and getattr(exception, "args", None) else ""
    # Django's resolver puts a dict in a 404's args; only a sentence is for the reader.
    return text if text and not text.startswith("{") and len(text) < 300 else ""


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "not_found", "message": "no such resource", "detail": None}, status=404)
    return HttpResponse(loader.render_to_string("404.html", {"message": _message(exception), "path": request.path},
                                                request=request), status=404)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "permission_denied", "message": _message(exception) or "not allowed",
                             "detail": None}, status=403)
    return HttpResponse(loader.render_to_string("403.html", {"message": _message(exception)}, request=request),
                        status=403)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "bad_request", "message": "the request is not valid", "detail": None}, status=400)
    return HttpResponse(loader.render_to_string("400.html", {}, request=request), status=400)


def server_error(request: HttpRequest) -> HttpResponse:
    if _api(request):
        return JsonResponse({"code": "server_error", "message": "something went wrong on our side; it has been logged",
                             "detail": None}, status=500)
    # No request context: a page that fails must not fail again on the user or the session.
    return HttpResponse(loader.render_to_string("500.html", {}), status=500)
