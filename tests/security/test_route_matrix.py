"""Issue 15, one permission model for every way in: every route of the URL conf (found by walking
Django's resolver, not listed by hand: portal pages, the desk, reports, documents, the API, the
admin) x every role (each `Role`, anonymous, a read-scope API token) x own firm / other firm.

URL parameters are filled with ids of objects of the caller's own firm and of another firm (a
parameter whose name is not known here fails the test, so a new route is covered the day it is
added). Each route is requested with GET and with an empty POST. What must hold:
- anonymous (and the read token outside /api/, where only sessions count) never gets a 2xx:
  a redirect to a sign-in page, 401, 403 (404/405 carry no data either); only the routes in
  PUBLIC (sign-in, password reset, the API's schema and error catalogue) answer;
- another firm's object is never a 2xx: 403 or 404;
- a role the area is not for gets 403 (or the admin's redirect to its sign-in): the desk and the
  admin are for platform officers, reconciliation reports for operations and officers, the case
  and alert decisions for officers; a read-scope token never writes;
- nothing answers 5xx.
The counts are printed (`-s`) and kept as test properties."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from onboarding.api.auth import api_token_create
from onboarding.models import Firm, Role, User

pytestmark = pytest.mark.django_db

# Routes anyone may open (with why): sign-in and password reset, the API's published description.
PUBLIC = {
    "login", "logout", "password_reset", "password_reset_done", "password_reset_confirm", "password_reset_complete",
    "otp-verify",  # the second-factor page (redirects to sign-in without a half-signed session)
    "admin:login", "admin:logout",  # the admin's own sign-in
    "api-schema", "api-docs",  # the OpenAPI description and its viewer: no data
    "error-catalogue",  # GET /api/v1/errors/: the documented error codes
    "webhook-event-types",  # GET /api/v1/webhook-events/: the documented event types and example bodies
    "api-root",  # GET /api/v1/: the list of resources
}
FIRM_PATHS = ("firm", "party__firm", "account__firm", "endpoint__firm", "custody_account__account__firm",
              "block__firm", "order__account__firm", "run__firm", "case__firm", "owned__firm", "household__firm",
              "user__firm", "daily_run__firm")
# Areas and the roles they are for (the domain: README "What it does", the desk and reports).
OFFICER_ONLY_PREFIXES = ("admin:", "desk:")
REPORT_ROLES = {Role.OPERATIONS, Role.COMPLIANCE_OFFICER}
OFFICER_ACTIONS = {("case", "start_review"), ("case", "approve"), ("case", "reject"),
                   ("case", "request_information"), ("screening-alert", "assign"), ("screening-alert", "review"),
                   ("screening-alert", "clear"), ("screening-alert", "escalate"), ("screening-alert", "confirm")}
REFUSED = {401, 403, 404, 405}


@dataclass(frozen=True)
class Route:
    name: str
    params: frozenset[str]
    callback: Any
    url: str = ""  # for the one unnamed route (the admin's catch-all)


def discover() -> list[Route]:
    """Every named route of the URL conf, with the parameters its pattern captures."""
    found: dict[tuple[str, frozenset[str]], Route] = {}

    def visit(patterns: list, namespace: list[str], params: frozenset[str]) -> None:
        for p in patterns:
            names = params | frozenset(p.pattern.regex.groupindex)
            if isinstance(p, URLResolver):
                visit(p.url_patterns, namespace + ([p.namespace] if p.namespace else []), names)
            elif isinstance(p, URLPattern):
                if not p.name:
                    from django.contrib.admin.sites import AdminSite
                    from django.views.generic import RedirectView

                    if getattr(p.callback, "view_class", None) is RedirectView:
                        continue  # the admin's "<id>/" redirects to the named "<id>/change/", walked
                    assert p.callback.__name__ == AdminSite.catch_all_view.__name__, f"unnamed {p.pattern}"
                    found[("admin:catch-all", frozenset())] = Route("admin:catch-all", frozenset(), p.callback,
                                                                    url="/admin/no-such-page/")
                    continue
                if "format" in names:  # DRF's ".json" twin of a route already walked
                    continue
                name = ":".join([*namespace, p.name])
                found.setdefault((name, names), Route(name, names, p.callback))

    visit(get_resolver().url_patterns, [], frozenset())
    return sorted(found.values(), key=lambda r: (r.name, sorted(r.params)))


def _firm_path(model) -> str | None:
    for path in FIRM_PATHS:
        try:
            model.objects.filter(**{f"{path}__isnull": True}).query  # noqa: B018 - resolves the path
            return path
        except Exception:  # noqa: BLE001 - not a path of this model
            continue
    return None


def _model(route: Route):
    """The model a route's id names: the DRF view's queryset or serializer, the admin's model (by
    the admin's route name `admin:<app>_<model>_<view>`), or for a view that declares neither, NO_MODEL."""
    from django.apps import apps

    cls = getattr(route.callback, "cls", None)  # a DRF view
    if cls is not None:
        queryset = getattr(cls, "queryset", None)
        if queryset is not None:
            return queryset.model
        meta = getattr(getattr(cls, "serializer_class", None), "Meta", None)
        if getattr(meta, "model", None) is not None:
            return meta.model
    if route.name.startswith("admin:"):
        for model in apps.get_models():
            if route.name.startswith(f"admin:{model._meta.app_label}_{model._meta.model_name}_"):
                return model
    for prefix, label in NO_MODEL.items():
        if route.name.startswith(prefix):
            return apps.get_model(label)
    return None


# Views whose id's model is declared neither by a queryset nor a serializer (chosen per request).
NO_MODEL = {"screening-alert-": "compliance.ScreeningAlert", "admin:auth_user_": "onboarding.User",
            "admin:onboarding_case_": "onboarding.OnboardingCase",
            "admin:view_on_site": "onboarding.OnboardingCase"}  # content_type_id is filled with the case's type


@dataclass
class World:
    own: Firm
    other: Firm
    users: dict[str, User | None]
    token: str
    as_of: str
    results: Counter = field(default_factory=Counter)
    holes: list[str] = field(default_factory=list)
    missing: set[str] = field(default_factory=set)  # parameters no object of the firm could fill (404 only)


def _object(model, firm: Firm | None, *, other: bool):
    if model is None:
        return None
    path = _firm_path(model)
    queryset = model.objects.order_by("pk")
    if path is None:
        return None if other else queryset.first()
    return (queryset.exclude(**{path: firm}).exclude(**{f"{path}__isnull": True}) if other
            else queryset.filter(**{path: firm})).first()


def fill(route: Route, world: World, *, other: bool) -> dict[str, Any] | None:
    """URL kwargs for the route with objects of the own firm (or of another firm); None when the
    route has no firm-scoped parameter to vary (then only the own variant is requested)."""
    from accounts.models import Account
    from onboarding.models import Document, OnboardingCase, OwnershipLink

    firm = world.own
    kwargs: dict[str, Any] = {}
    scoped = False
    for name in sorted(route.params):
        if name in ("pk", "object_id", "id"):
            model = _model(route)
            assert model is not None, f"route {route.name}: which model does {name!r} name? (NO_MODEL)"
            obj = _object(model, firm, other=other)
            if obj is None and other:
                return None
            if obj is None:
                obj = None if model is None else model.objects.order_by("pk").first()
            if obj is None:
                world.missing.add(f"{route.name}:{name}")
            scoped |= model is not None and _firm_path(model) is not None
            kwargs[name] = obj.pk if obj is not None else 999999
        elif name in ("case_id", "document_id", "account_id", "link_id"):
            model = {"case_id": OnboardingCase, "document_id": Document, "account_id": Account,
                     "link_id": OwnershipLink}[name]
            obj = _object(model, firm, other=other)
            scoped = True
            if obj is None:
                world.missing.add(f"{route.name}:{name}")
            kwargs[name] = obj.pk if obj is not None else 999999
        elif name in ("party_id", "delivery_id"):
            from onboarding.models import Party, WebhookDelivery

            model = {"party_id": Party, "delivery_id": WebhookDelivery}[name]
            obj = _object(model, firm, other=other)
            scoped = True
            if obj is None:
                world.missing.add(f"{route.name}:{name}")
            kwargs[name] = obj.pk if obj is not None else 999999
        elif name == "mic":  # reference data, shared by every firm
            kwargs[name] = "XNYS"
        elif name == "code":
            kwargs[name] = "USD"
        elif name == "app_label":
            kwargs[name] = "onboarding"
        elif name == "content_type_id":
            from django.contrib.contenttypes.models import ContentType

            kwargs[name] = ContentType.objects.get_for_model(OnboardingCase).pk
        elif name in ("kind",):
            kwargs[name] = "person"
        elif name == "step":
            kwargs[name] = "client"
        elif name == "action":
            kwargs[name] = "approve"
        elif name == "as_of":
            kwargs[name] = world.as_of
        elif name in ("uidb64", "token"):
            kwargs[name] = "x"
        else:
            raise AssertionError(f"route {route.name}: parameter {name!r} is not known to the matrix; "
                                 f"say which objects fill it")
    if other and not scoped:
        return None
    return kwargs


@pytest.fixture
def world(db) -> World:
    call_command("rulepacks", "load")
    call_command("seed_demo")
    from compliance.models import ScreeningAlert
    from trading.reconciliation.models import DailyRun

    firms = list(Firm.objects.order_by("pk"))
    # the own firm is one with screening alerts too, so that the officers' alert actions are tried on its own
    alert = ScreeningAlert.objects.filter(firm__isnull=False).order_by("pk").first()
    own = alert.firm if alert is not None else firms[0]
    if alert is None:  # the demo raised none: one open alert on a client of the own firm and one elsewhere
        from decimal import Decimal

        from onboarding.models import Party

        for firm in (own, firms[1]):
            party = Party.objects.filter(firm=firm).order_by("pk").first()
            ScreeningAlert.objects.create(firm=firm, party=party, source="ofac", entry_ref="matrix", entry_hash="h",
                                          entry_name="Listed", party_version=party.version, score=Decimal("0.97"))
    users: dict[str, User | None] = {
        role: User.objects.filter(firm=own, role=role, is_active=True).order_by("pk").first()
        for role in (Role.ADVISOR, Role.FIRM_ADMIN, Role.OPERATIONS)
    }
    users[Role.COMPLIANCE_OFFICER] = User.objects.filter(role=Role.COMPLIANCE_OFFICER, is_superuser=False).first()
    assert all(users.values()), users
    _, token = api_token_create(user=users[Role.ADVISOR], name="matrix-read", scopes=["read"])
    run = DailyRun.objects.order_by("-as_of").first()
    as_of = (run.as_of if run else dt.date(2026, 11, 2)).isoformat()
    return World(own=own, other=next(f for f in firms if f != own), users=users, token=token, as_of=as_of)


def _client(world: World, who: str) -> Client:
    if who == "anonymous":
        return Client()
    if who == "read_token":
        return Client(HTTP_AUTHORIZATION=f"Token {world.token}")
    client = Client()
    client.force_login(world.users[who])
    return client


def _refusal(response) -> bool:
    if response.status_code in REFUSED:
        return True
    return response.status_code in (301, 302) and "login" in response.get("Location", "")


def _check(world: World, route: Route, who: str, variant: str, method: str, url: str, response) -> None:
    status = response.status_code
    world.results[(who, variant, method)] += 1
    where = f"{method} {url} ({route.name}) as {who}, {variant} firm: {status}"
    if status >= 500:
        world.holes.append(f"5xx: {where}")
        return
    public = route.name in PUBLIC
    is_api = url.startswith("/api/")
    if who == "anonymous" or (who == "read_token" and not is_api):
        if not public and not _refusal(response):
            world.holes.append(f"no sign-in needed: {where}")
        return
    if variant == "other" and 200 <= status < 300:
        world.holes.append(f"another firm's object served: {where}")
        return
    role = who
    if role in (Role.ADVISOR, Role.FIRM_ADMIN, Role.OPERATIONS):
        if route.name.startswith(OFFICER_ONLY_PREFIXES) and not public and not _refusal(response):
            world.holes.append(f"officers' area open to a firm user: {where}")
        if route.name.startswith("reconciliation:") and role not in REPORT_ROLES and status != 403:
            world.holes.append(f"report for operations and officers open to {role}: {where}")
        if method == "POST" and variant == "own" and _officer_action(route) and status != 403:
            world.holes.append(f"officer's decision open to {role}: {where}")
    if who == "read_token" and method == "POST" and not public and status not in (403, 404, 405):
        world.holes.append(f"a read-scope token wrote: {where}")


def test_every_route_x_every_role_x_own_and_other_firm(world, record_property, capsys):
    routes = discover()
    assert len(routes) > 100, "the walk must find the whole URL conf"
    whos = ["anonymous", "read_token", Role.ADVISOR, Role.FIRM_ADMIN, Role.OPERATIONS, Role.COMPLIANCE_OFFICER]
    clients = {who: _client(world, who) for who in whos}
    checked_routes = 0
    for route in routes:
        variants = {"own": fill(route, world, other=False), "other": fill(route, world, other=True)}
        checked_routes += 1
        for variant, kwargs in variants.items():
            if kwargs is None:
                continue
            url = route.url or reverse(route.name, kwargs=kwargs)
            for who in whos:
                if variant == "other" and who == Role.COMPLIANCE_OFFICER:
                    continue  # platform officers see every firm
                client = clients[who]
                _check(world, route, who, variant, "GET", url, client.get(url))
                if who == Role.COMPLIANCE_OFFICER or (variant == "own" and who in (Role.ADVISOR, Role.FIRM_ADMIN,
                                                                                   Role.OPERATIONS)
                                                      and not _officer_action(route)):
                    continue  # own-firm writes by those allowed change data: covered by the areas' own tests
                response = (client.post(url, {}, content_type="application/json") if url.startswith("/api/")
                            else client.post(url, {}))
                _check(world, route, who, variant, "POST", url, response)
    requests = sum(world.results.values())
    summary = (f"route matrix: {checked_routes} routes x {len(whos)} callers "
               f"({len([r for r in routes if fill(r, world, other=True) is not None])} routes with another firm's "
               f"objects); {requests} requests")
    record_property("routes", checked_routes)
    record_property("requests", requests)
    with capsys.disabled():
        print("\n" + summary)
        print(f"parameters without an object to fill them ({len(world.missing)}): {sorted(world.missing)}")
    assert not world.holes, f"{len(world.holes)} hole(s):\n" + "\n".join(world.holes[:80])
    assert requests > 1000


def _officer_action(route: Route) -> bool:
    return any(route.name == f"{b}-{a.replace('_', '-')}" for b, a in OFFICER_ACTIONS)


def test_the_walk_finds_every_area():
    names = {r.name for r in discover()}
    for expected in ("portal:home", "portal:case_detail", "desk:case", "onboarding:document-download",
                     "reconciliation:run-report", "admin:onboarding_auditevent_changelist", "party-detail",
                     "tax-form-pdf", "recon-break-resolve", "case-approve"):
        assert expected in names, expected
