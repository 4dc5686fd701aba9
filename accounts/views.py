"""Account pages of the advisor portal: holdings across custodians in local and base currency,
cash per currency with its projected settlement, drift against the model as a server-rendered
SVG chart, proposed orders and reconciliation status. Reads only, through `accounts.selectors`;
the orders and breaks panels are what trading registered on `accounts.panels.account_page`
(this app never imports the engines); scoped to the user's firm."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from onboarding.exceptions import MeridianError
from onboarding.forms import add_service_error
from onboarding.selectors import get_party_for
from onboarding.views.common import portal_view
from trading.reference.sources import source_label

from . import selectors
from .forms import AccountOpenForm, CustodyAccountForm, DepositForm, SubscribeForm
from .models import (
    Account,
    AccountStatus,
    Basis,
    ModelStatus,
    ModelSubscription,
    SubscriptionStatus,
    Transaction,
    TransactionKind,
)
from .panels import account_page

CHART_WIDTH = 720
LABEL_WIDTH = 210
VALUE_WIDTH = 90
ROW_HEIGHT = 28


def accounts_for_user(user) -> Any:
    """The user's firm's accounts (a platform officer sees every firm's)."""
    if user.is_platform_officer or user.is_superuser:
        return Account.objects.select_related("owner", "household", "firm")
    if user.firm_id is None:
        return Account.objects.none()
    return selectors.accounts_for_firm(firm=user.firm_id)


def _as_of(request: HttpRequest) -> dt.date:
    raw = request.GET.get("on", "")
    try:
        return dt.date.fromisoformat(raw) if raw else timezone.localdate()
    except ValueError as exc:
        raise Http404("the date must be YYYY-MM-DD") from exc


@portal_view
def account_open(request: HttpRequest, party_id: int) -> HttpResponse:
    """The first step after approval: open an account for the approved client (in `pending`;
    activation is gated by the relationship and the tax forms)."""
    from . import services

    party = get_party_for(request.user, party_id)
    case = party.cases.order_by("-pk").first()
    form = AccountOpenForm(request.POST or None, initial={
        "name": party.display_name, "booking_jurisdiction": case.jurisdiction if case else party.firm.home_jurisdiction})
    if request.method == "POST" and form.is_valid():
        try:
            account = services.account_open(firm=party.firm, owner=party, actor=request.user, **form.cleaned_data)
        except MeridianError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Account {account.number} opened for {party.display_name}. "
                                      "Next: add the custody account, then activate it.")
            return redirect("portal:account_detail", account.pk)
    return render(request, "portal/account_open.html", {"form": form, "party": party, "case": case})


@login_required
def account_list(request: HttpRequest) -> HttpResponse:
    accounts = list(accounts_for_user(request.user).prefetch_related("custody_accounts__custodian").order_by("number"))
    return render(request, "portal/account_list.html", {"accounts": accounts})


# --- Drift ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriftLine:
    label: str
    short: str  # for the chart's axis
    current: float  # weight, 0..1
    target: float
    value_base: float

    @property
    def drift(self) -> float:
        return self.current - self.target


def drift_lines(inputs: Any, names: dict[int, str]) -> list[DriftLine]:
    """Current and target weights of every instrument and cash currency of the first account in
    `inputs` (accounts.selectors.rebalance_inputs), in the account's base currency."""
    if not len(inputs.account_ids):
        return []
    values = inputs.market_values_base()[0] if inputs.positions.size else []
    cash_base = inputs.cash[0] * inputs.fx_to_base[0] if inputs.cash.size else []
    total = float(sum(values) + sum(cash_base))
    if total <= 0:
        return []
    lines = []
    for k, instrument_id in enumerate(inputs.instrument_ids.tolist()):
        value, target = float(values[k]), float(inputs.targets[0, k])
        if value or target:
            name = names.get(instrument_id, f"instrument {instrument_id}")
            lines.append(DriftLine(name, name.split(" (")[0], value / total, target, value))
    for k, currency in enumerate(inputs.currencies):
        value, target = float(cash_base[k]), float(inputs.cash_targets[0, k])
        if value or target:
            lines.append(DriftLine(f"Cash {currency}", f"Cash {currency}", value / total, target, value))
    return sorted(lines, key=lambda line: -abs(line.drift))


def drift_chart(lines: list[DriftLine]) -> dict[str, Any]:
    """Coordinates for an SVG bar chart: a bar for the current weight, a marker for the target,
    the drift in percentage points at the end of each row."""
    scale_max = max([max(line.current, line.target) for line in lines] + [0.01]) * 1.1
    plot = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH

    def x(weight: float) -> float:
        return round(LABEL_WIDTH + plot * max(weight, 0) / scale_max, 1)

    rows = []
    for index, line in enumerate(lines):
        y = 24 + index * ROW_HEIGHT
        rows.append({
            "label": line.label, "short": line.short, "y": y, "text_y": y + 14, "bar_width": round(x(line.current) - LABEL_WIDTH, 1),
            "target_x": x(line.target), "current_pct": f"{line.current * 100:.1f}", "target_pct": f"{line.target * 100:.1f}",
            "drift_pp": f"{line.drift * 100:+.1f}", "over": line.drift > 0.0005, "under": line.drift < -0.0005,
        })
    ticks = []
    step = 0.05 if scale_max <= 0.4 else 0.1
    tick = 0.0
    while tick <= scale_max + 1e-9:
        ticks.append({"x": x(tick), "label": f"{tick * 100:.0f}%"})
        tick += step
    height = 24 + len(lines) * ROW_HEIGHT + 10
    return {"width": CHART_WIDTH, "height": height, "rows": rows, "ticks": ticks, "label_width": LABEL_WIDTH,
            "value_x": CHART_WIDTH - VALUE_WIDTH + 8, "bottom": height - 6}


# --- Account page ----------------------------------------------------------------------------------


@login_required
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    try:
        account = accounts_for_user(request.user).get(pk=account_id)
    except (Account.DoesNotExist, ValueError) as exc:
        raise Http404("account not found") from exc
    on = _as_of(request)
    custody = {c.pk: c for c in account.custody_accounts.select_related("custodian")}
    problems: list[str] = []

    try:
        valuation = selectors.valuation(account=account, on=on, basis=Basis.TRADE)
    except MeridianError as exc:
        valuation, problems = None, [*problems, exc.message]
    instrument_ids = {line.instrument_id for line in (valuation.lines if valuation else []) if line.instrument_id}

    try:
        inputs = selectors.rebalance_inputs(account_ids=[account.pk], as_of=on)
        instrument_ids |= set(inputs.instrument_ids.tolist())
    except MeridianError as exc:
        inputs, problems = None, [*problems, exc.message]
    breaks = open_breaks(account, custody.values())
    instrument_ids |= {b.instrument_id for b in breaks if getattr(b, "instrument_id", None)}
    names = instrument_names(instrument_ids)
    for item in breaks:
        item.what = break_subject(item, names)

    holdings = [
        {"custodian": custody[line.custody_account_id].custodian.name,
         "custody_account": custody[line.custody_account_id].number, "instrument": names.get(line.instrument_id, "?"),
         "price_source": source_label(line.price_source), "fx_source": source_label(line.fx_source), "line": line}
        for line in (valuation.lines if valuation else []) if line.kind == "security"
    ]
    cash_lines = [
        {"custodian": custody[line.custody_account_id].custodian.name, "custody_account": custody[line.custody_account_id].number,
         "line": line}
        for line in (valuation.lines if valuation else []) if line.kind == "cash"
    ]
    lines = drift_lines(inputs, names) if inputs is not None else []
    subscription = (
        ModelSubscription.objects.filter(account=account, status=SubscriptionStatus.ACTIVE).select_related("model")
        .order_by("-start_date").first()
    )
    return render(request, "portal/account_detail.html", {
        "account": account, "on": on, "problems": problems, "valuation": valuation,
        "holdings": holdings, "cash_lines": cash_lines,
        "cash_settled": sorted(selectors.cash_by_currency(account=account, as_of=on, basis=Basis.SETTLE).items()),
        "cash_traded": dict(selectors.cash_by_currency(account=account, as_of=on, basis=Basis.TRADE)),
        "projected": selectors.projected_cash(account=account, as_of=on),
        "drift": lines, "chart": drift_chart(lines) if lines else None, "subscription": subscription,
        "orders": proposed_orders(account), "breaks": breaks,
        **setup_context(account, request.user), "firm_user": request.user.firm_id == account.firm_id,
        "custody_form": CustodyAccountForm(initial={"number": f"{account.number}-C1"}),
        "custody_accounts": list(custody.values()),
        "trading_installed": "orders" in account_page,
        "recon_installed": "breaks" in account_page,
    })


def instrument_names(ids: set[int]) -> dict[int, str]:
    from trading.reference.models import Instrument

    return {pk: f"{name} ({isin})" for pk, name, isin in Instrument.objects.filter(pk__in=ids).values_list("pk", "name", "isin")}


def break_subject(item: Any, names: dict[int, str]) -> str:
    """What a break is about, in words: the instrument's name and ISIN, or the cash currency."""
    if getattr(item, "asset", "") == "cash":
        return f"Cash in {item.identifier}"
    name = names.get(item.instrument_id) if getattr(item, "instrument_id", None) else None
    if name:
        return name
    return f"{item.identifier} (not in our instrument list)" if item.identifier else "An unidentified position"


def proposed_orders(account: Account) -> list[Any]:
    provider = account_page.provider("orders")
    return provider(account) if provider is not None else []


def open_breaks(account: Account, custody_accounts) -> list[Any]:
    provider = account_page.provider("breaks")
    return provider(account, list(custody_accounts)) if provider is not None else []


# --- Setting an account up: custody, activation, funding, a model -----------------------------------


def _own_account(request: HttpRequest, account_id: int) -> Account:
    """An account of the user's own firm (these pages act for the firm: a platform officer reads
    the account page but does not fund or subscribe client accounts)."""
    if request.user.firm_id is None:
        raise PermissionDenied("Only the client's firm sets up, funds and subscribes its accounts.")
    try:
        return selectors.accounts_for_firm(firm=request.user.firm_id).get(pk=account_id)
    except Account.DoesNotExist as exc:
        raise Http404("account not found") from exc


@dataclass(frozen=True)
class SetupStep:
    """One step of setting an account up, in words, with where it is taken."""

    label: str
    done: bool
    url: str = ""
    hint: str = ""


def setup_steps(account: Account, user: Any) -> list[SetupStep]:
    """What the account still needs before the rebalancer can run it: a custody account,
    activation, a deposit, a model."""
    from django.urls import reverse

    firm_user = getattr(user, "firm_id", None) == account.firm_id
    has_custody = account.custody_accounts.filter(is_active=True).exists()
    active = account.status == AccountStatus.ACTIVE
    funded = Transaction.objects.filter(account=account, kind=TransactionKind.DEPOSIT).exists()
    subscribed = ModelSubscription.objects.filter(account=account, status=SubscriptionStatus.ACTIVE).exists()
    here = reverse("portal:account_detail", args=[account.pk])
    return [
        SetupStep("Add a custody account", has_custody, f"{here}#custody" if firm_user else "",
                  "Where the client's securities and cash are held."),
        SetupStep("Activate the account", active or account.status not in (AccountStatus.PENDING,),
                  f"{here}#activate" if firm_user else "",
                  "Checks that the relationship is active and the tax forms are current."),
        SetupStep("Fund it", funded, reverse("portal:account_deposit", args=[account.pk]) if firm_user else "",
                  "Record the client's deposit at the custodian."),
        SetupStep("Subscribe it to a model portfolio", subscribed,
                  reverse("portal:account_subscribe", args=[account.pk]) if firm_user else "",
                  "Then the rebalancer proposes the orders."),
    ]


def setup_context(account: Account, user: Any) -> dict[str, Any]:
    steps = setup_steps(account, user)
    return {"setup": steps, "setup_next": next((i for i, step in enumerate(steps) if not step.done), -1)}


@portal_view
@require_POST
def account_custody_add(request: HttpRequest, account_id: int) -> HttpResponse:
    from . import services

    account = _own_account(request, account_id)
    form = CustodyAccountForm(request.POST)
    if form.is_valid():
        try:
            custody = services.custody_account_add(account=account, custodian=form.cleaned_data["custodian"],
                                                   number=form.cleaned_data["number"].strip(), actor=request.user)
        except MeridianError as exc:
            messages.error(request, f"Custody account not added: {exc.message}")
        else:
            messages.success(request, f"Custody account {custody.number} at {custody.custodian.name} added. "
                                      "Next: activate the account.")
    else:
        problems = "; ".join(f"{form.fields[name].label if name in form.fields else 'Form'}: {' '.join(errors)}"
                             for name, errors in form.errors.items())
        messages.error(request, f"Custody account not added. {problems}")
    return redirect("portal:account_detail", account.pk)


@portal_view
@require_POST
def account_activate(request: HttpRequest, account_id: int) -> HttpResponse:
    """Pending to active through the one activation gate (relationship and tax forms)."""
    from . import services

    account = _own_account(request, account_id)
    try:
        services.account_activate(account=account, actor=request.user)
    except MeridianError as exc:
        messages.error(request, f"Account {account.number} is not activated: {exc.message}")
    else:
        messages.success(request, f"Account {account.number} is active. Next: fund it.")
    return redirect("portal:account_detail", account.pk)


@portal_view
def account_deposit(request: HttpRequest, account_id: int) -> HttpResponse:
    """Record the client's deposit: the activation gate and the firm's approval policy (role,
    limit, sanity limit) apply, as through the API."""
    from . import services

    account = _own_account(request, account_id)
    form = DepositForm(request.POST or None, account=account)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.cash_deposit(account=account, custody_account=data["custody_account"], currency=data["currency"],
                                  amount=data["amount"], value_date=data["value_date"], actor=request.user,
                                  external_ref=data["external_ref"].strip())
        except MeridianError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"Deposit of {data['amount']:,.2f} {data['currency']} recorded on "
                                      f"{account.number}. Next: subscribe it to a model portfolio.")
            return redirect("portal:account_detail", account.pk)
    return render(request, "portal/account_deposit.html", {"account": account, "form": form,
                                                            **setup_context(account, request.user)},
                  status=422 if form.errors else 200)


@portal_view
def account_subscribe(request: HttpRequest, account_id: int) -> HttpResponse:
    """Subscribe the account to a published model (the activation gate applies)."""
    from . import services

    account = _own_account(request, account_id)
    published = selectors.models_visible_to(request.user).filter(status=ModelStatus.PUBLISHED).order_by("name", "-version")
    form = SubscribeForm(request.POST or None, models=published)
    current = (ModelSubscription.objects.filter(account=account, status=SubscriptionStatus.ACTIVE, sleeve__isnull=True)
               .select_related("model").first())
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.model_subscribe(account=account, model=data["model"], start_date=data["start_date"],
                                     follow_latest=data["follow_latest"], actor=request.user)
        except MeridianError as exc:
            add_service_error(form, exc)
        else:
            messages.success(request, f"{account.number} follows {data['model'].name} from "
                                      f"{data['start_date']:%-d %b %Y}. The rebalancer proposes its orders on its next run.")
            return redirect("portal:account_detail", account.pk)
    return render(request, "portal/account_subscribe.html", {"account": account, "form": form, "current": current,
                                                              **setup_context(account, request.user)},
                  status=422 if form.errors else 200)
