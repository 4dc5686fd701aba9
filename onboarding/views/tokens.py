"""The portal page for API tokens: a firm administrator sees and revokes the firm's tokens, everyone their
own; a token is created here (a session that passed the second factor) and its string is shown once."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from ..api.auth import SCOPES, api_token_create, api_token_revoke, token_creation_credentials
from ..api.tokens import tokens_for
from ..exceptions import MeridianError
from .common import portal_view


@portal_view
@require_http_methods(["GET", "POST"])
def api_tokens(request: HttpRequest) -> HttpResponse:
    created = None
    error = None
    if request.method == "POST":
        if "revoke" in request.POST:
            token = get_object_or_404(tokens_for(request.user), pk=request.POST.get("revoke"))
            api_token_revoke(token=token, actor=request.user)
            messages.success(request, f"Token {token.name} ({token.prefix}…) revoked.")
            return redirect("portal:api_tokens")
        name = (request.POST.get("name") or "").strip()[:100]
        scopes = [s for s in request.POST.getlist("scopes") if s in SCOPES]
        if not name or not scopes:
            error = "Give the token a name and at least one scope."
        else:
            try:
                token, secret = api_token_create(user=request.user, name=name, scopes=scopes,
                                                 **token_creation_credentials(request))
                created = {"token": token, "secret": secret}
            except MeridianError as exc:
                error = exc.message
    return render(request, "portal/api_tokens.html", {
        "tokens": tokens_for(request.user).order_by("-created_at"), "created": created, "error": error,
        "scopes": SCOPES, "firm_wide": request.user.role == "firm_admin"})
