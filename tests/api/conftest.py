"""Shared helpers for the partner API tests of accounts, trading, reconciliation and screening."""
from __future__ import annotations

from rest_framework.test import APIClient

from onboarding.api.auth import api_token_create


def token_client(user, scopes=("read", "write")) -> APIClient:
    _, token = api_token_create(user=user, name="test", scopes=list(scopes))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The one error body: {"code", "message", "detail", "request_id"}; detail null or {path: [messages]}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "detail", "request_id"}, body
    assert body["request_id"] and body["request_id"] == response["X-Request-ID"], body
    assert body["detail"] is None or (isinstance(body["detail"], dict) and all(
        isinstance(v, list) and all(isinstance(m, str) for m in v) for v in body["detail"].values())), body
    if code is not None:
        assert body["code"] == code, body
    return body
