"""Structures: households, custodians, accounts, custody and cash accounts, sleeves, and the
account lifecycle (activate, suspend, reinstate, close)."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from onboarding import webhooks
from onboarding.audit import record_event
from onboarding.exceptions import NotFound, ValidationFailed
from onboarding.models import Firm, Party, User
from trading.reference.models import Market

from ..exceptions import (
    AccountNotActive,
    InvalidTransition,
)
from ..models import (
    Account,
    AccountStatus,
    Custodian,
    CustodyAccount,
    CustodyCashAccount,
    FileFormat,
    Household,
    LegType,
    LotReliefMethod,
    ModelPortfolio,
    ModelSubscription,
    Movement,
    Sleeve,
    SubscriptionStatus,
)
from .access import ZERO, _gate, _lock_account, _require_access, _today, _validated

# --- Structures -----------------------------------------------------------------------------


@transaction.atomic
def household_create(*, firm: Firm, name: str, actor: User | None = None) -> Household:
    _require_access(actor, firm.pk)
    household = _validated(Household(firm=firm, name=name))
    household.save()
    record_event(subject=household, event_type="household.created", actor=actor, firm=firm, detail={"name": name})
    return household


@transaction.atomic
def custodian_create(
    *, name: str, bic: str | None, country: str, markets: Iterable[str] = (), file_formats: Iterable[str] = (),
    csv_layout: str = "", actor: User | None = None,
) -> Custodian:
    """A custodian with its BIC (checked), the MICs it settles and the file formats it sends."""
    formats = list(file_formats)
    bad = set(formats) - set(FileFormat.values)
    if bad:
        raise ValidationFailed(f"unknown file formats {sorted(bad)}", detail={"file_formats": sorted(bad)})
    mics = list(markets)
    market_rows = list(Market.objects.filter(mic__in=mics))
    if len(market_rows) != len(set(mics)):
        missing = sorted(set(mics) - {m.mic for m in market_rows})
        raise ValidationFailed(f"unknown markets {missing}", detail={"markets": missing})
    custodian = _validated(Custodian(name=name, bic=bic or None, country=country, file_formats=formats,
                                     csv_layout=csv_layout))  # a broker may have no BIC
    custodian.save()
    custodian.markets.set(market_rows)
    record_event(subject=custodian, event_type="custodian.created", actor=actor, firm=None,
                 detail={"bic": bic, "markets": sorted(mics), "file_formats": formats})
    return custodian


def _is_us_person(party: Party) -> bool:
    return "US" in (party.nationalities or []) or party.residence_country == "US" or party.country_of_incorporation == "US"


@transaction.atomic
def account_open(
    *, firm: Firm, owner: Party, number: str, name: str, base_currency: str, booking_centre: str,
    booking_jurisdiction: str, actor: User | None = None, household: Household | None = None,
    tax_status: str = "taxable", investor_type: str = "retail", is_us_person: bool | None = None,
    lot_relief_method: str = LotReliefMethod.FIFO, allows_short: bool = False,
) -> Account:
    """Open an account in `pending`. It may be set up (custody accounts, sleeves) before the
    relationship is approved; activation is gated."""
    _require_access(actor, firm.pk)
    if owner.firm_id != firm.pk:
        raise NotFound("owner not found")
    if household is not None and household.firm_id != firm.pk:
        raise NotFound("household not found")
    account: Account = _validated(Account(
        firm=firm, owner=owner, household=household, number=number, name=name, base_currency=base_currency,
        booking_centre=booking_centre, booking_jurisdiction=booking_jurisdiction, tax_status=tax_status,
        investor_type=investor_type, is_us_person=_is_us_person(owner) if is_us_person is None else is_us_person,
        lot_relief_method=lot_relief_method, allows_short=allows_short,
    ), exclude=["status"])
    account.save()
    record_event(subject=account, event_type="account.opened", actor=actor, firm=firm, to_state=account.status,
                 detail={"number": number, "base_currency": base_currency, "owner": owner.pk})
    return account


@transaction.atomic
def custody_account_add(
    *, account: Account, custodian: Custodian, number: str, markets: Iterable[str] = (), actor: User | None = None
) -> CustodyAccount:
    """Add a custody account; its markets must be ones the custodian settles. Given no markets,
    it covers every market the custodian settles (a custody account that covers nothing would
    silently receive no order); a custodian that settles no market is refused."""
    _require_access(actor, account.firm_id)
    account = _lock_account(account)
    if account.status == AccountStatus.CLOSED:
        raise AccountNotActive("the account is closed")
    mics = set(markets)
    settles = set(custodian.markets.values_list("mic", flat=True))
    if not mics:
        if not settles:
            raise ValidationFailed(f"{custodian.name} settles no market: name the markets this custody account covers",
                                   detail={"markets": ["the custodian settles no market; give at least one"]})
        mics = settles
    if mics - settles:
        raise ValidationFailed(
            f"{custodian.name} does not settle {sorted(mics - settles)}", detail={"markets": sorted(mics - settles)}
        )
    custody = _validated(CustodyAccount(account=account, custodian=custodian, number=number))
    custody.save()
    custody.markets.set(Market.objects.filter(mic__in=mics))
    record_event(subject=account, event_type="account.custody_added", actor=actor,
                 detail={"custody_account": custody.pk, "custodian": custodian.bic, "number": number, "markets": sorted(mics)})
    return custody


@transaction.atomic
def custody_cash_account_add(
    *, custody_account: CustodyAccount, currency: str, number: str, actor: User | None = None
) -> CustodyCashAccount:
    """Record the custodian's cash account for one currency (IBAN or its own number)."""
    _require_access(actor, custody_account.account.firm_id)
    cash_account = _validated(CustodyCashAccount(custody_account=custody_account, currency=currency, number=number),
                              exclude=["custody_account"])
    try:
        with transaction.atomic():
            cash_account.save()
    except IntegrityError as exc:
        raise ValidationFailed(f"{custody_account.number} already has a {currency} cash account") from exc
    record_event(subject=custody_account.account, event_type="account.cash_account_added", actor=actor,
                 detail={"custody_account": custody_account.pk, "currency": currency, "number": number})
    return cash_account


@transaction.atomic
def sleeve_add(
    *, account: Account, name: str, target_weight: Decimal = ZERO, model: ModelPortfolio | None = None,
    actor: User | None = None,
) -> Sleeve:
    _require_access(actor, account.firm_id)
    sleeve = _validated(Sleeve(account=account, name=name, target_weight=target_weight, model=model))
    sleeve.save()
    record_event(subject=account, event_type="account.sleeve_added", actor=actor,
                 detail={"sleeve": sleeve.pk, "name": name, "target_weight": str(target_weight)})
    return sleeve


def _transition(account: Account, method: str, *, actor: User | None, event: str, reason: str = "") -> Account:
    before = account.status
    try:
        getattr(account, method)()
    except Exception as exc:  # django_fsm.TransitionNotAllowed
        if exc.__class__.__name__ == "TransitionNotAllowed":
            raise InvalidTransition(f"cannot {method} an account that is {before}", detail={"status": before}) from exc
        raise
    account.save()
    record_event(subject=account, event_type=event, actor=actor, from_state=before, to_state=account.status, reason=reason)
    webhooks.emit(firm=account.firm_id, event_type=event,
                  data={"account": account.pk, "number": account.number, "owner": account.owner_id,
                        "from": before, "to": str(account.status)})
    return account


@transaction.atomic
def account_activate(*, account: Account, actor: User | None = None) -> Account:
    """Pending -> active. Needs an active relationship and at least one custody account."""
    account = _lock_account(account)
    _gate(account, actor=actor, require_active=False)
    if not account.custody_accounts.filter(is_active=True).exists():
        raise ValidationFailed("an account needs a custody account before it can be activated")
    account = _transition(account, "activate", actor=actor, event="account.activated")
    account.opened_at = timezone.now()
    Account.objects.filter(pk=account.pk).update(opened_at=account.opened_at)
    return account


@transaction.atomic
def account_suspend(*, account: Account, actor: User | None = None, reason: str) -> Account:
    _require_access(actor, account.firm_id)
    return _transition(_lock_account(account), "suspend", actor=actor, event="account.suspended", reason=reason)


@transaction.atomic
def account_reinstate(*, account: Account, actor: User | None = None, reason: str) -> Account:
    account = _lock_account(account)
    _gate(account, actor=actor, require_active=False)
    return _transition(account, "reinstate", actor=actor, event="account.reinstated", reason=reason)


@transaction.atomic
def account_close(*, account: Account, actor: User | None = None, reason: str = "") -> Account:
    """Close an account whose books are flat (no securities, no cash, nothing pending)."""
    _require_access(actor, account.firm_id)
    account = _lock_account(account)
    open_qty = Movement.objects.filter(account=account, leg=LegType.SECURITY).values("instrument").annotate(
        q=Sum("quantity")).exclude(q=0)
    open_cash = Movement.objects.filter(account=account, leg=LegType.CASH).values("currency").annotate(
        a=Sum("amount")).exclude(a=0)
    if open_qty.exists() or open_cash.exists():
        raise ValidationFailed("the account still holds securities or cash", detail={"account": account.pk})
    account = _transition(account, "close", actor=actor, event="account.closed", reason=reason)
    account.closed_at = timezone.now()
    Account.objects.filter(pk=account.pk).update(closed_at=account.closed_at)
    ModelSubscription.objects.filter(account=account, status=SubscriptionStatus.ACTIVE).update(
        status=SubscriptionStatus.ENDED, end_date=_today())
    return account
