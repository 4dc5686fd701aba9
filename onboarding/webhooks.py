"""Webhooks: partners register URLs for events; each delivery is signed with HMAC-SHA256 over
"<timestamp>.<body>" (header `Meridian-Signature: t=<unix>,v1=<hex>`), sent after commit by
Celery, retried with backoff, and logged."""
from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from .models import Firm, WebhookDelivery, WebhookEndpoint

EVENT_TYPES = ("case.state_changed", "alert.raised", "order.filled", "break.opened")
TIMEOUT_SECONDS = 10


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300, now: int | None = None) -> bool:
    """What a partner runs on receipt (and our tests do)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs((now or int(time.time())) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def emit(*, firm: Firm | int, event_type: str, data: dict[str, Any]) -> list[int]:
    """Queue the event for every matching endpoint of the firm; deliveries go out after commit."""
    firm_id = firm if isinstance(firm, int) else firm.pk
    event_id = uuid.uuid4().hex
    payload = {"id": event_id, "type": event_type, "created": timezone.now().isoformat(), "data": data}
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    ids = []
    for endpoint in WebhookEndpoint.objects.filter(firm_id=firm_id, is_active=True):
        if endpoint.events and event_type not in endpoint.events:
            continue
        ids.append(WebhookDelivery.objects.create(endpoint=endpoint, event_id=event_id, event_type=event_type,
                                                  payload=payload).pk)
    if ids:
        from .tasks import deliver_webhook

        transaction.on_commit(lambda: [deliver_webhook.delay(pk) for pk in ids])
    return ids


def attempt(delivery: WebhookDelivery) -> bool:
    """One attempt; records the outcome. True when the partner answered 2xx."""
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(
        delivery.endpoint.url, data=body, method="POST",
        headers={"Content-Type": "application/json", "Meridian-Event": delivery.event_type,
                 "Meridian-Delivery": str(delivery.pk),
                 "Meridian-Signature": sign(delivery.endpoint.secret, timestamp, body)},
    )
    delivery.attempts += 1
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - partner URL
            delivery.last_status_code = response.status
            ok = 200 <= response.status < 300
            delivery.last_error = ""
    except urllib.error.HTTPError as exc:
        delivery.last_status_code, ok, delivery.last_error = exc.code, False, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        ok, delivery.last_error = False, str(exc)[:500]
    if ok:
        delivery.status, delivery.delivered_at = "delivered", timezone.now()
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at"])
    return ok


def webhook_register(*, firm: Firm, url: str, events: list[str], actor=None) -> WebhookEndpoint:
    import secrets
    from urllib.parse import urlparse

    from .audit import record_event
    from .exceptions import ValidationFailed

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValidationFailed("url: must be an http(s) URL", detail={"url": url})
    unknown = set(events) - set(EVENT_TYPES)
    if unknown:
        raise ValidationFailed(f"events: unknown event type(s) {sorted(unknown)}; known: {list(EVENT_TYPES)}",
                               detail={"events": sorted(unknown)})
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(firm=firm, url=url, events=list(events),
                                                  secret=secrets.token_hex(32))
        record_event(subject=endpoint, event_type="webhook.registered", actor=actor, firm=firm,
                     detail={"url": url, "events": list(events)})
    return endpoint
