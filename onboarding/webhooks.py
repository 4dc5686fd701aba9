"""Webhooks: partners register URLs for events; each delivery is signed with HMAC-SHA256 over
"<timestamp>.<body>" (header `Meridian-Signature: t=<unix>,v1=<hex>`), sent after commit by
Celery, retried with backoff, and logged.

Targets (issue 15): HTTPS only when WEBHOOK_REQUIRE_HTTPS (forced on by production settings). The
host is resolved and every address it resolves to must be public: loopback, private, link-local,
carrier-grade NAT, multicast, reserved and cloud metadata addresses are refused -- at registration
and again at each delivery, which then connects to the very address it checked (no second DNS
look-up for a rebinding to exploit) and never follows redirects. WEBHOOK_ALLOW_LOOPBACK (off in
production, on for local development and tests) lets loopback targets through; private and
metadata ranges stay refused even then. The same checks run when a partner asks for a test event or a
redelivery (`webhook_send_test`, `webhook_redeliver`), and again when those are delivered.

The event types and the schema of each one's `data` are the catalogue in `onboarding.webhook_events`."""
from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import time
import uuid
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from . import webhook_events
from .models import Firm, WebhookDelivery, WebhookEndpoint

TIMEOUT_SECONDS = 10


# Cloud instance-metadata services, refused whatever else is allowed (some are "global" addresses).
METADATA_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "169.254.0.0/16", "fd00:ec2::/32", "100.100.100.200/32", "168.63.129.16/32", "192.0.0.192/32",
))


class UnsafeTarget(ValueError):
    """The webhook URL may not be called (message names why)."""


def _address_refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in METADATA_NETWORKS):
        return "a link-local or cloud metadata address"
    if ip.is_loopback:
        return None if getattr(settings, "WEBHOOK_ALLOW_LOOPBACK", False) else "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private network address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


def resolve_target(url: str) -> tuple[str, int, str, str, str]:
    """Check a webhook URL and resolve it: (scheme, port, host, address to connect to, path).
    Raises UnsafeTarget naming the reason."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeTarget(f"not a valid URL ({exc})") from exc
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        raise UnsafeTarget("must be an http(s) URL")
    if scheme != "https" and getattr(settings, "WEBHOOK_REQUIRE_HTTPS", False):
        raise UnsafeTarget("must be an https URL")
    if parts.username or parts.password:
        raise UnsafeTarget("must not carry credentials")
    port = port or (443 if scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"the host {host!r} does not resolve") from exc
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        reason = _address_refusal(ip)
        if reason:
            raise UnsafeTarget(f"the host {host!r} resolves to {reason} ({ip})")
        addresses.append(str(ip))
    if not addresses:
        raise UnsafeTarget(f"the host {host!r} does not resolve")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return scheme, port, host, addresses[0], path


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the address that was checked, whatever DNS says now."""

    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host, port, address, **kwargs):
        super().__init__(host, port, context=ssl.create_default_context(), **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # certificate checked for the host


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> int:
    """POST to a checked and pinned target; returns the status (redirects are not followed)."""
    scheme, port, host, address, path = resolve_target(url)
    cls = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = cls(host, port, address, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(65536)
        return response.status
    finally:
        connection.close()


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


def _envelope(event_type: str, data: dict[str, Any], *, test: bool = False) -> dict[str, Any]:
    """The body of every delivery (webhook_events.envelope_schema), JSON-ready; `data` checked against the
    event's schema when WEBHOOK_VALIDATE_PAYLOADS is on (tests, development)."""
    if webhook_events.get(event_type) is None:
        raise ValueError(f"webhook event {event_type!r} is not in the catalogue (onboarding.webhook_events)")
    payload = {"id": uuid.uuid4().hex, "type": event_type, "created": timezone.now().isoformat(), "test": test,
               "data": data}
    payload = json.loads(json.dumps(payload, cls=DjangoJSONEncoder))
    if getattr(settings, "WEBHOOK_VALIDATE_PAYLOADS", False):
        webhook_events.validate(event_type, payload["data"])
    return payload


def _send_after_commit(ids: list[int]) -> None:
    if ids:
        from .tasks import deliver_webhook

        transaction.on_commit(lambda: [deliver_webhook.delay(pk) for pk in ids])


def emit(*, firm: Firm | int, event_type: str, data: dict[str, Any]) -> list[int]:
    """Queue the event for every matching endpoint of the firm; deliveries go out after commit."""
    firm_id = firm if isinstance(firm, int) else firm.pk
    return emit_many([(firm_id, event_type, data)])


def emit_many(events: Iterable[tuple[int, str, dict[str, Any]]]) -> list[int]:
    """Queue many events (firm id, type, data) at once, as a reconciliation run that resolves thousands of
    breaks does: one query for the endpoints of all their firms and one bulk insert of the deliveries,
    never a query and an insert per event. Each event keeps its own id; deliveries go out after commit."""
    events = list(events)
    if not events:
        return []
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for endpoint in WebhookEndpoint.objects.filter(firm_id__in={e[0] for e in events}, is_active=True).order_by("pk"):
        endpoints.setdefault(endpoint.firm_id, []).append(endpoint)
    rows = []
    for firm_id, event_type, data in events:
        payload = _envelope(event_type, data)  # checks the type (and the data) even when nobody listens
        rows += [WebhookDelivery(endpoint=endpoint, event_id=payload["id"], event_type=event_type, payload=payload)
                 for endpoint in endpoints.get(firm_id, ()) if not endpoint.events or event_type in endpoint.events]
    ids = [delivery.pk for delivery in WebhookDelivery.objects.bulk_create(rows, batch_size=1000)]
    _send_after_commit(ids)
    return ids


def attempt(delivery: WebhookDelivery) -> bool:
    """One attempt; records the outcome. True when the partner answered 2xx."""
    body = json.dumps(delivery.payload, sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {"Content-Type": "application/json", "Meridian-Event": delivery.event_type,
               "Meridian-Delivery": str(delivery.pk),
               "Meridian-Signature": sign(delivery.endpoint.secret, timestamp, body)}
    delivery.attempts += 1
    ok = False
    try:
        status = post(delivery.endpoint.url, body, headers, timeout=TIMEOUT_SECONDS)
        delivery.last_status_code = status
        ok = 200 <= status < 300
        delivery.last_error = "" if ok else f"HTTP {status}"
    except UnsafeTarget as exc:  # checked again at delivery: DNS may have changed since registration
        delivery.last_error = f"refused: {exc}"[:500]
    except (OSError, http.client.HTTPException, TimeoutError) as exc:
        delivery.last_error = str(exc)[:500] or exc.__class__.__name__
    if ok:
        delivery.status, delivery.delivered_at = "delivered", timezone.now()
    delivery.save(update_fields=["attempts", "last_status_code", "last_error", "status", "delivered_at"])
    return ok


def _check_url(url: str) -> None:
    from .exceptions import ValidationFailed

    if len(url) > 500:
        raise ValidationFailed("url: at most 500 characters", detail={"url": ["at most 500 characters"]})
    try:
        resolve_target(url)
    except UnsafeTarget as exc:
        raise ValidationFailed(f"url: {exc}", detail={"url": [str(exc)]}) from exc


def new_secret() -> str:
    import secrets

    return secrets.token_hex(32)


def webhook_register(*, firm: Firm, url: str, events: list[str], actor=None) -> WebhookEndpoint:
    """Register an endpoint. The secret is on the returned row; the API shows it once, here."""
    from .audit import record_event
    from .exceptions import ValidationFailed

    _check_url(url)
    known = [t for t in webhook_events.event_types() if t != "webhook.test"]
    unknown = set(events) - set(known)
    if unknown:
        message = f"unknown event type(s) {sorted(unknown)}; known: {known}"
        raise ValidationFailed(f"events: {message}", detail={"events": [message]})
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(firm=firm, url=url, events=list(events), secret=new_secret())
        record_event(subject=endpoint, event_type="webhook.registered", actor=actor, firm=firm,
                     detail={"url": url, "events": list(events)})
    return endpoint


def webhook_rotate_secret(*, endpoint: WebhookEndpoint, actor=None) -> WebhookEndpoint:
    """A new signing secret (the old one stops signing at once); shown once to the caller; audited."""
    from .audit import record_event

    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        endpoint.secret = new_secret()
        endpoint.save(update_fields=["secret"])
        record_event(subject=endpoint, event_type="webhook.secret_rotated", actor=actor, firm=endpoint.firm)
    return endpoint


def _refuse_disabled(endpoint: WebhookEndpoint) -> None:
    from .exceptions import InvalidTransition

    if not endpoint.is_active:
        raise InvalidTransition("the webhook endpoint is disabled", detail={"endpoint": [str(endpoint.pk)]})


def webhook_send_test(*, endpoint: WebhookEndpoint, actor=None, event_type: str | None = None) -> WebhookDelivery:
    """Send one test event to the endpoint now (after commit, like any delivery), whatever it subscribes to:
    `webhook.test`, or the catalogue's example of `event_type` marked `"test": true`. The URL is checked
    again first (a target that has become unsafe is refused, 400 naming `url`); audited."""
    from .audit import record_event
    from .exceptions import ValidationFailed

    if event_type is None or event_type == "webhook.test":
        event_type, data = "webhook.test", {"endpoint": endpoint.pk, "message": "a test event from Meridian"}
    else:
        event = webhook_events.get(event_type)
        if event is None:
            message = f"unknown event type {event_type!r}; known: {webhook_events.event_types()}"
            raise ValidationFailed(f"event_type: {message}", detail={"event_type": [message]})
        data = event.example
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        _refuse_disabled(endpoint)
        _check_url(endpoint.url)
        payload = _envelope(event_type, data, test=True)
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_id=payload["id"], event_type=event_type,
                                                  payload=payload)
        record_event(subject=endpoint, event_type="webhook.test_sent", actor=actor, firm=endpoint.firm,
                     detail={"delivery": delivery.pk, "event_type": event_type, "event_id": payload["id"]})
        _send_after_commit([delivery.pk])
    return delivery


def webhook_redeliver(*, delivery: WebhookDelivery, actor=None) -> WebhookDelivery:
    """Send a past delivery's event again, as a new delivery with its own log of attempts (`redelivery_of`
    names the original; the event's id and body are unchanged, so a receiver can recognise it). The URL is
    checked again first; audited."""
    from .audit import record_event

    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().get(pk=delivery.endpoint_id)
        _refuse_disabled(endpoint)
        _check_url(endpoint.url)
        original = delivery.redelivery_of or delivery
        again = WebhookDelivery.objects.create(endpoint=endpoint, event_id=original.event_id,
                                               event_type=original.event_type, payload=original.payload,
                                               redelivery_of=original)
        record_event(subject=endpoint, event_type="webhook.redelivery_requested", actor=actor, firm=endpoint.firm,
                     detail={"delivery": again.pk, "redelivery_of": original.pk, "event_id": original.event_id,
                             "event_type": original.event_type})
        _send_after_commit([again.pk])
    return again
