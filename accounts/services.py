"""Business actions on accounts and their books. One keyword-only function per action, each in
`transaction.atomic`, each writing an audit event.

Gating: every client-initiated, account-level action (activate, fund, withdraw, trade, FX,
transfer, subscribe to a model) calls `_gate`, which asks onboarding whether the owner's
relationship is active (`onboarding.services.assert_relationship_active`) and, except for
activation itself, requires the account to be active. Income, fees and corporate actions are
booked whatever the relationship state: they happen to the account, the client does not ask.

The ledger (`Transaction` + `Movement`) is append-only; `_post` is its only writer. Positions,
cash balances and tax lots are derived from it here.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from onboarding.audit import record_event
from onboarding.exceptions import NotFound, ValidationFailed
from onboarding.models import Firm, Party, User
from onboarding.money import is_currency, quantize_money
from trading.reference import eligibility as eligibility_engine
from trading.reference import selectors as ref_selectors
from trading.reference.models import Instrument, Listing, Market

from . import lots as lot_engine
from .exceptions import (
    AccountNotActive,
    IneligibleInstrument,
    InsufficientPosition,
    InvalidTransition,
    LedgerError,
)
from .models import (
    Account,
    AccountStatus,
    Basis,
    CashBalance,
    CashPurpose,
    Custodian,
    CustodyAccount,
    CustodyCashAccount,
    FileFormat,
    Household,
    LegType,
    LotRelief,
    LotReliefMethod,
    ModelOverride,
    ModelPortfolio,
    ModelStatus,
    ModelSubscription,
    ModelTarget,
    Movement,
    OverrideKind,
    Position,
    Sleeve,
    SubscriptionStatus,
    TaxLot,
    Transaction,
    TransactionKind,
)

ZERO = Decimal(0)
WEIGHT_TOLERANCE = Decimal("0.000001")


# --- Access, gating, locks ------------------------------------------------------------------


def _require_access(actor: User | None, firm_id: int) -> None:
    """System actions (actor None), platform officers and the firm's own users may act."""
    if actor is None or actor.is_superuser or getattr(actor, "is_platform_officer", False):
        return
    if actor.firm_id != firm_id:
        raise NotFound("not found")
    if actor.role == "compliance_officer":
        return


def _assert_relationship(account: Account) -> None:
    from onboarding.services import assert_relationship_active

    assert_relationship_active(party=account.owner, firm=account.firm_id)


def _gate(account: Account, *, actor: User | None, require_active: bool = True) -> None:
    """The one gate for client-initiated account actions."""
    _require_access(actor, account.firm_id)
    _assert_relationship(account)
    if require_active and account.status != AccountStatus.ACTIVE:
        raise AccountNotActive(
            f"account {account.number} is {account.status}", detail={"account": account.pk, "status": account.status}
        )


def _lock_account(account: Account | int) -> Account:
    pk = account.pk if isinstance(account, Account) else account
    return Account.objects.select_for_update().select_related("owner", "firm").get(pk=pk)


def _validated(obj, exclude: Sequence[str] = ()):
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        raise ValidationFailed(f"{obj._meta.verbose_name} is not valid", detail=exc.message_dict) from exc
    return obj


def _plain(value: Decimal) -> str:
    """1E+2 -> "100", 92.500 -> "92.5"."""
    return format(value.normalize(), "f")


def _today() -> dt.date:
    return timezone.localdate()


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
    *, name: str, bic: str, country: str, markets: Iterable[str] = (), file_formats: Iterable[str] = (),
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
    custodian = _validated(Custodian(name=name, bic=bic, country=country, file_formats=formats, csv_layout=csv_layout))
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
    account = _validated(Account(
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
    """Add a custody account; its markets must be ones the custodian settles."""
    _require_access(actor, account.firm_id)
    account = _lock_account(account)
    if account.status == AccountStatus.CLOSED:
        raise AccountNotActive("the account is closed")
    mics = set(markets)
    settles = set(custodian.markets.values_list("mic", flat=True))
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


# --- The ledger writer ------------------------------------------------------------------------


@dataclass
class Leg:
    """One leg to post. A security leg has `instrument` and a signed `quantity` (and `amount`,
    its signed local consideration); a cash leg has `cash_purpose` and a signed `amount`."""

    custody_account: CustodyAccount
    currency: str
    amount: Decimal = ZERO
    instrument: Instrument | None = None
    listing: Listing | None = None
    quantity: Decimal | None = None
    cash_purpose: str = ""
    is_short: bool = False
    sleeve: Sleeve | None = None
    settle_date: dt.date | None = None
    amount_base: Decimal | None = None
    # Lot carried over (transfers between custody accounts keep acquisition date and cost)
    carry_lot: dict[str, Any] | None = field(default=None)


ACQUISITIONS = {TransactionKind.BUY, TransactionKind.TRANSFER}
DISPOSALS = {TransactionKind.SELL, TransactionKind.TRANSFER}


def _fx_to_base(account: Account, currency: str, on: dt.date, rate: Decimal | None = None) -> Decimal:
    if currency == account.base_currency:
        return Decimal(1)
    if rate is not None:
        return rate
    return ref_selectors.fx_rates_to(target=account.base_currency, currencies=[currency], on=on)[currency].rate


def _open_lots(account: Account, custody_id: int, sleeve_id: int | None, instrument_id: int) -> list[TaxLot]:
    return list(
        TaxLot.objects.select_for_update()
        .filter(account=account, custody_account_id=custody_id, sleeve_id=sleeve_id, instrument_id=instrument_id,
                quantity_open__gt=0)
        .order_by("acquisition_date", "pk")
    )


def _long_quantity(custody_id: int, sleeve_id: int | None, instrument_id: int) -> Decimal:
    return Movement.objects.filter(
        custody_account_id=custody_id, sleeve_id=sleeve_id, instrument_id=instrument_id, leg=LegType.SECURITY,
        is_short=False,
    ).aggregate(q=Sum("quantity"))["q"] or ZERO


def _post(
    *, account: Account, kind: str, trade_date: dt.date, settle_date: dt.date, legs: Sequence[Leg],
    actor: User | None, external_ref: str = "", description: str = "", detail: dict | None = None,
    corporate_action_ref: str = "", reverses: Transaction | None = None, lot_method: str | None = None,
    specific_lots: Sequence[tuple[int, Decimal]] | None = None, refresh: bool = True,
) -> Transaction:
    """Write one transaction and its legs, open and relieve tax lots, refresh balances.
    Posting with an `external_ref` already on the account returns the earlier transaction."""
    if external_ref:
        existing = Transaction.objects.filter(account=account, external_ref=external_ref).first()
        if existing is not None:
            return existing
    if not legs:
        raise LedgerError("a transaction needs at least one leg")
    if settle_date < trade_date:
        raise LedgerError("settlement cannot precede the trade date")
    custody_ids = set(account.custody_accounts.values_list("pk", flat=True))
    sleeve_ids = set(account.sleeves.values_list("pk", flat=True))
    for leg in legs:
        if leg.custody_account.pk not in custody_ids:
            raise LedgerError("a leg names a custody account of another account", detail={"custody_account": leg.custody_account.pk})
        if leg.sleeve is not None and leg.sleeve.pk not in sleeve_ids:
            raise LedgerError("a leg names a sleeve of another account", detail={"sleeve": leg.sleeve.pk})
        if not is_currency(leg.currency):
            raise LedgerError(f"{leg.currency!r} is not a currency")
        if (leg.instrument is None) == (leg.cash_purpose == ""):
            raise LedgerError("a leg is either a security leg (instrument) or a cash leg (cash_purpose)")
        if leg.instrument is not None and not leg.quantity:
            raise LedgerError("a security leg needs a non-zero quantity")
        # A clear error before the database trigger refuses the same thing.
        if leg.instrument is not None and leg.quantity < 0 and not leg.is_short:
            held = _long_quantity(leg.custody_account.pk, leg.sleeve.pk if leg.sleeve else None, leg.instrument.pk)
            if held + leg.quantity < 0:
                raise InsufficientPosition(
                    f"{leg.custody_account.number} holds {held} of {leg.instrument.isin}, cannot deliver {-leg.quantity}",
                    detail={"held": str(held), "quantity": str(-leg.quantity), "isin": leg.instrument.isin},
                )
    txn = Transaction.objects.create(
        account=account, kind=kind, trade_date=trade_date, settle_date=settle_date, external_ref=external_ref,
        description=description, detail=detail or {}, corporate_action_ref=corporate_action_ref, reverses=reverses,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    movements = [
        Movement(
            transaction=txn, account=account, custody_account=leg.custody_account, sleeve=leg.sleeve,
            leg=LegType.SECURITY if leg.instrument is not None else LegType.CASH, instrument=leg.instrument,
            listing=leg.listing, quantity=leg.quantity, is_short=leg.is_short, cash_purpose=leg.cash_purpose,
            currency=leg.currency, amount=leg.amount, amount_base=leg.amount_base, trade_date=trade_date,
            settle_date=leg.settle_date or settle_date,
        )
        for leg in legs
    ]
    try:
        with transaction.atomic():
            Movement.objects.bulk_create(movements)
    except IntegrityError as exc:
        raise LedgerError(f"the ledger refused the transaction: {exc}") from exc
    if not movements[0].pk:  # backends that do not return ids from bulk inserts
        movements = list(txn.movements.order_by("pk"))
    _apply_lots(account, txn, legs, movements, kind, lot_method, specific_lots)
    record_event(subject=txn, event_type="ledger.posted", actor=actor, firm=account.firm,
                 detail={"account": account.pk, "kind": kind, "legs": len(legs), "external_ref": external_ref})
    if refresh:
        books_refresh(account_ids=[account.pk])
    return txn


def _apply_lots(
    account: Account, txn: Transaction, legs: Sequence[Leg], movements: Sequence[Movement], kind: str,
    lot_method: str | None, specific_lots: Sequence[tuple[int, Decimal]] | None,
) -> None:
    new_lots: list[TaxLot] = []
    reliefs: list[LotRelief] = []
    for leg, movement in zip(legs, movements, strict=True):
        if leg.instrument is None or leg.is_short or kind not in ACQUISITIONS | DISPOSALS:
            continue
        sleeve_id = leg.sleeve.pk if leg.sleeve else None
        if leg.quantity > 0 and kind in ACQUISITIONS:
            carry = leg.carry_lot or {}
            new_lots.append(TaxLot(
                account=account, custody_account=leg.custody_account, sleeve=leg.sleeve, instrument=leg.instrument,
                opening_movement=movement, acquisition_date=carry.get("acquisition_date", txn.trade_date),
                quantity=leg.quantity, quantity_open=leg.quantity, local_currency=leg.currency,
                cost_local=carry.get("cost_local", leg.amount), base_currency=account.base_currency,
                cost_base=carry.get("cost_base", leg.amount_base if leg.amount_base is not None else leg.amount),
            ))
        elif leg.quantity < 0 and kind in DISPOSALS:
            method = lot_method or account.lot_relief_method
            open_lots = _open_lots(account, leg.custody_account.pk, sleeve_id, leg.instrument.pk)
            chosen = lot_engine.select(
                [lot_engine.OpenLot(lot.pk, lot.acquisition_date, lot.quantity_open, lot.unit_cost_local, lot.cost_base / lot.quantity) for lot in open_lots],
                -leg.quantity, method, specific_lots,
            )
            by_id = {lot.pk: lot for lot in open_lots}
            qty = -leg.quantity
            proceeds_local = -leg.amount
            proceeds_base = -(leg.amount_base if leg.amount_base is not None else leg.amount)
            for lot_id, take in chosen:
                lot = by_id[lot_id]
                share = take / lot.quantity
                reliefs.append(LotRelief(
                    lot=lot, movement=movement, quantity=take, method=method,
                    cost_local=quantize_money(lot.cost_local * share, lot.local_currency),
                    cost_base=quantize_money(lot.cost_base * share, lot.base_currency),
                    proceeds_local=quantize_money(proceeds_local * take / qty, leg.currency),
                    proceeds_base=quantize_money(proceeds_base * take / qty, account.base_currency),
                ))
                TaxLot.objects.filter(pk=lot_id).update(quantity_open=F("quantity_open") - take)
    if new_lots:
        TaxLot.objects.bulk_create(new_lots)
    if reliefs:
        LotRelief.objects.bulk_create(reliefs)


# --- Trades, FX, cash -------------------------------------------------------------------------


TRADE_SIDES = {
    "buy": (TransactionKind.BUY, 1, False),
    "sell": (TransactionKind.SELL, -1, False),
    "sell_short": (TransactionKind.SELL_SHORT, -1, True),
    "buy_to_cover": (TransactionKind.BUY_TO_COVER, 1, True),
}


def _check_eligible(account: Account, instrument: Instrument, on: dt.date) -> None:
    investor = eligibility_engine.Investor(
        investor_type=account.investor_type, booking_jurisdiction=account.booking_jurisdiction,
        booking_centre_kind=account.booking_centre, is_us_person=account.is_us_person,
    )
    problems = eligibility_engine.check(investor, instrument.eligibility_tags or [], ref_selectors.eligibility_rules(on=on), on=on)
    if problems:
        raise IneligibleInstrument(
            f"account {account.number} may not buy {instrument.isin}: " + "; ".join(p.reason for p in problems),
            detail={"isin": instrument.isin, "rules": [p.rule for p in problems]},
        )


@transaction.atomic
def trade_book(
    *, account: Account, custody_account: CustodyAccount, listing: Listing, side: str, quantity: Decimal,
    price: Decimal, trade_date: dt.date, actor: User | None = None, settle_date: dt.date | None = None,
    commission: Decimal = ZERO, fees: Decimal = ZERO, taxes: Decimal = ZERO, fx_rate: Decimal | None = None,
    sleeve: Sleeve | None = None, external_ref: str = "", lot_method: str | None = None,
    specific_lots: Sequence[tuple[int, Decimal]] | None = None,
) -> Transaction:
    """Book an execution. `price` is as quoted on the listing (pence for a GBp line); charges
    are in the trading currency. Settlement dates come from the market's cycle and calendars
    unless given. `fx_rate` is local -> base (defaults to the newest rate on file)."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    return _book_trade(
        account=account, custody_account=custody_account, listing=listing, side=side, quantity=quantity, price=price,
        trade_date=trade_date, actor=actor, settle_date=settle_date, commission=commission, fees=fees, taxes=taxes,
        fx_rate=fx_rate, sleeve=sleeve, external_ref=external_ref, lot_method=lot_method,
        specific_lots=specific_lots, check_eligibility=True,
    )


def _book_trade(
    *, account: Account, custody_account: CustodyAccount, listing: Listing, side: str, quantity: Decimal,
    price: Decimal, trade_date: dt.date, actor: User | None, settle_date: dt.date | None, commission: Decimal,
    fees: Decimal, taxes: Decimal, fx_rate: Decimal | None, sleeve: Sleeve | None, external_ref: str,
    lot_method: str | None, specific_lots: Sequence[tuple[int, Decimal]] | None, check_eligibility: bool,
    refresh: bool = True,
) -> Transaction:
    if side not in TRADE_SIDES:
        raise ValidationFailed(f"side must be one of {sorted(TRADE_SIDES)}", detail={"side": side})
    kind, sign, is_short = TRADE_SIDES[side]
    if is_short and not account.allows_short:
        raise ValidationFailed("this account may not sell short", detail={"account": account.pk})
    quantity, price = Decimal(quantity), Decimal(price)
    if quantity <= 0 or price <= 0:
        raise ValidationFailed("quantity and price must be positive")
    listing = Listing.objects.select_related("market", "instrument").get(pk=listing.pk)
    if not listing.allows_fractional and (quantity % listing.lot_size) != 0:
        raise ValidationFailed(
            f"{listing.ticker} trades in lots of {_plain(listing.lot_size)}", detail={"lot_size": str(listing.lot_size)}
        )
    held_markets = set(custody_account.markets.values_list("mic", flat=True))
    if held_markets and listing.market.mic not in held_markets:
        raise ValidationFailed(
            f"custody account {custody_account.number} does not hold {listing.market.mic} securities",
            detail={"market": listing.market.mic, "custody_markets": sorted(held_markets)},
        )
    if check_eligibility and sign > 0 and not is_short:
        _check_eligible(account, listing.instrument, trade_date)
    if settle_date is None:
        dates = ref_selectors.settlement_dates(listing=listing, trade_date=trade_date)
        securities_date, cash_date = dates.securities, dates.cash
    else:
        securities_date = cash_date = settle_date
    ccy = listing.trading_currency
    principal = quantize_money(quantity * price / listing.price_divisor, ccy)
    charges = quantize_money(commission, ccy) + quantize_money(fees, ccy) + quantize_money(taxes, ccy)
    rate = _fx_to_base(account, ccy, trade_date, fx_rate)
    # security leg: + total cost on a buy, - net proceeds on a sale
    consideration = principal + charges if sign > 0 else -(principal - charges)
    legs = [Leg(custody_account=custody_account, sleeve=sleeve, instrument=listing.instrument, listing=listing,
                quantity=sign * quantity, is_short=is_short, currency=ccy, amount=consideration,
                amount_base=quantize_money(consideration * rate, account.base_currency), settle_date=securities_date)]
    legs.append(Leg(custody_account=custody_account, sleeve=sleeve, currency=ccy, amount=-sign * principal,
                    cash_purpose=CashPurpose.PRINCIPAL, settle_date=cash_date,
                    amount_base=quantize_money(-sign * principal * rate, account.base_currency)))
    for amount, purpose in ((commission, CashPurpose.COMMISSION), (fees, CashPurpose.FEE), (taxes, CashPurpose.TAX)):
        if amount:
            money = quantize_money(amount, ccy)
            legs.append(Leg(custody_account=custody_account, sleeve=sleeve, currency=ccy, amount=-money,
                            cash_purpose=purpose, settle_date=cash_date,
                            amount_base=quantize_money(-money * rate, account.base_currency)))
    return _post(
        account=account, kind=kind, trade_date=trade_date, settle_date=max(securities_date, cash_date), legs=legs,
        actor=actor, external_ref=external_ref, lot_method=lot_method, specific_lots=specific_lots, refresh=refresh,
        description=f"{side} {_plain(quantity)} {listing.ticker} @ {_plain(price)} {listing.price_unit}",
        detail={"listing": listing.pk, "price": str(price), "price_unit": listing.price_unit,
                "price_divisor": str(listing.price_divisor), "fx_rate_to_base": str(rate)},
    )


def _custody_for_market(account: Account, market_id: int) -> CustodyAccount:
    """The account's custody account that holds this market (or, failing that, its only one)."""
    custody = list(account.custody_accounts.filter(is_active=True).prefetch_related("markets").order_by("pk"))
    for candidate in custody:
        if any(m.pk == market_id for m in candidate.markets.all()):
            return candidate
    if len(custody) == 1:
        return custody[0]
    raise ValidationFailed(f"account {account.number} has no custody account for this market",
                           detail={"account": account.pk, "market": market_id})


@transaction.atomic
def trade_post_many(*, orders: Sequence[Any], actor: User | None = None) -> list[Transaction]:
    """`trade_post` for many filled orders in one database transaction, refreshing each
    account's derived balances once at the end instead of after every order. Accounts are
    locked in id order (the fixed lock order), so two batches cannot deadlock."""
    by_account: dict[int, Account] = {
        a.pk: a for a in Account.objects.select_for_update().select_related("owner", "firm")
        .filter(pk__in={o.account_id for o in orders}).order_by("pk")
    }
    out = []
    for order in orders:
        account = by_account[order.account_id]
        custody = order.custody_account or _custody_for_market(account, order.listing.market_id)
        out.append(_book_trade(
            account=account, custody_account=custody, listing=order.listing, side=str(order.side),
            quantity=order.filled_quantity, price=order.average_price, trade_date=order.trade_date, actor=actor,
            settle_date=order.settle_date, commission=getattr(order, "commission", ZERO) or ZERO, fees=ZERO,
            taxes=ZERO, fx_rate=None, sleeve=getattr(order, "sleeve", None), external_ref=order.reference,
            lot_method=None, specific_lots=None, check_eligibility=False, refresh=False,
        ))
    books_refresh(account_ids=list(by_account))
    return out


@transaction.atomic
def trade_post(*, order: Any, actor: User | None = None) -> Transaction:
    """Book a filled order from the order system (duck-typed: account, custody_account or None,
    listing, side buy/sell, filled_quantity, average_price in quote units, trade_date,
    settle_date, reference). The order went through the gate and eligibility when it was
    released; its execution is booked whatever happened since, because it happened.
    Idempotent on the order reference."""
    account = _lock_account(order.account_id)
    custody = order.custody_account or _custody_for_market(account, order.listing.market_id)
    return _book_trade(
        account=account, custody_account=custody, listing=order.listing, side=str(order.side),
        quantity=order.filled_quantity, price=order.average_price, trade_date=order.trade_date, actor=actor,
        settle_date=order.settle_date, commission=getattr(order, "commission", ZERO) or ZERO, fees=ZERO, taxes=ZERO,
        fx_rate=None, sleeve=getattr(order, "sleeve", None), external_ref=order.reference,
        lot_method=None, specific_lots=None, check_eligibility=False,
    )


@transaction.atomic
def fx_post(*, fx_order: Any, actor: User | None = None, custody_account: CustodyAccount | None = None) -> Transaction:
    """Book an executed FX order (duck-typed: account, buy/sell currency and amount,
    trade_date, value_date, reference). Booked in `custody_account`, else in the custody
    account holding a market that settles in the currency bought, else the first one."""
    account = _lock_account(fx_order.account_id)
    if custody_account is None:
        custody = list(account.custody_accounts.filter(is_active=True).prefetch_related("markets").order_by("pk"))
        if not custody:
            raise ValidationFailed("the account has no custody account")
        custody_account = next(
            (c for c in custody if any(m.settlement_currency == fx_order.buy_currency for m in c.markets.all())),
            custody[0],
        )
    sold = quantize_money(Decimal(fx_order.sell_amount), fx_order.sell_currency)
    bought = quantize_money(Decimal(fx_order.buy_amount), fx_order.buy_currency)
    base_value = quantize_money(sold * _fx_to_base(account, fx_order.sell_currency, fx_order.trade_date),
                                account.base_currency)
    legs = [
        Leg(custody_account=custody_account, currency=fx_order.sell_currency, amount=-sold,
            cash_purpose=CashPurpose.FX, amount_base=-base_value),
        Leg(custody_account=custody_account, currency=fx_order.buy_currency, amount=bought,
            cash_purpose=CashPurpose.FX, amount_base=base_value),
    ]
    return _post(account=account, kind=TransactionKind.FX_SPOT, trade_date=fx_order.trade_date,
                 settle_date=fx_order.value_date, legs=legs, actor=actor, external_ref=fx_order.reference,
                 description=f"FX sell {sold} {fx_order.sell_currency} buy {bought} {fx_order.buy_currency}",
                 detail={"fx_order": fx_order.reference})


@transaction.atomic
def fx_spot_book(
    *, account: Account, custody_account: CustodyAccount, sell_currency: str, sell_amount: Decimal,
    buy_currency: str, rate: Decimal, trade_date: dt.date, actor: User | None = None,
    value_date: dt.date | None = None, sleeve: Sleeve | None = None, external_ref: str = "",
) -> Transaction:
    """Book an FX spot deal: sell `sell_amount` of `sell_currency` at `rate` (buy units per sell
    unit). The value date defaults to spot over both currencies' holidays."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    if sell_currency == buy_currency:
        raise ValidationFailed("an FX deal needs two different currencies")
    sell_amount, rate = Decimal(sell_amount), Decimal(rate)
    if sell_amount <= 0 or rate <= 0:
        raise ValidationFailed("amount and rate must be positive")
    if value_date is None:
        value_date = ref_selectors.fx_value_date(currency_a=sell_currency, currency_b=buy_currency, trade_date=trade_date)
    sold = quantize_money(sell_amount, sell_currency)
    bought = quantize_money(sell_amount * rate, buy_currency)
    base_value = quantize_money(sold * _fx_to_base(account, sell_currency, trade_date), account.base_currency)
    legs = [
        Leg(custody_account=custody_account, sleeve=sleeve, currency=sell_currency, amount=-sold,
            cash_purpose=CashPurpose.FX, amount_base=-base_value),
        Leg(custody_account=custody_account, sleeve=sleeve, currency=buy_currency, amount=bought,
            cash_purpose=CashPurpose.FX, amount_base=base_value),
    ]
    return _post(account=account, kind=TransactionKind.FX_SPOT, trade_date=trade_date, settle_date=value_date,
                 legs=legs, actor=actor, external_ref=external_ref,
                 description=f"FX sell {sold} {sell_currency} buy {bought} {buy_currency}",
                 detail={"rate": str(rate), "pair": f"{sell_currency}/{buy_currency}"})


@transaction.atomic
def cash_deposit(
    *, account: Account, custody_account: CustodyAccount, currency: str, amount: Decimal, value_date: dt.date,
    actor: User | None = None, trade_date: dt.date | None = None, sleeve: Sleeve | None = None, external_ref: str = "",
) -> Transaction:
    """Fund the account."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    amount = quantize_money(Decimal(amount), currency)
    if amount <= 0:
        raise ValidationFailed("a deposit must be positive")
    return _post(account=account, kind=TransactionKind.DEPOSIT, trade_date=trade_date or value_date,
                 settle_date=value_date, actor=actor, external_ref=external_ref,
                 legs=[Leg(custody_account=custody_account, sleeve=sleeve, currency=currency, amount=amount,
                           cash_purpose=CashPurpose.DEPOSIT)])


@transaction.atomic
def cash_withdraw(
    *, account: Account, custody_account: CustodyAccount, currency: str, amount: Decimal, value_date: dt.date,
    actor: User | None = None, sleeve: Sleeve | None = None, external_ref: str = "",
) -> Transaction:
    """Pay cash out; refused if it would leave settled cash in that currency negative on the
    value date or any later projected date."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    amount = quantize_money(Decimal(amount), currency)
    if amount <= 0:
        raise ValidationFailed("a withdrawal must be positive")
    from .selectors import projected_cash

    rows = [r for r in projected_cash(account=account, as_of=value_date, custody_account=custody_account)
            if r.currency == currency]
    lowest = min((r.balance for r in rows), default=ZERO)
    if lowest - amount < 0:
        raise ValidationFailed(
            f"{currency} cash would fall below zero", detail={"available": str(lowest), "requested": str(amount)}
        )
    return _post(account=account, kind=TransactionKind.WITHDRAWAL, trade_date=value_date, settle_date=value_date,
                 actor=actor, external_ref=external_ref,
                 legs=[Leg(custody_account=custody_account, sleeve=sleeve, currency=currency, amount=-amount,
                           cash_purpose=CashPurpose.WITHDRAWAL)])


@transaction.atomic
def cash_transfer(
    *, account: Account, from_custody: CustodyAccount, to_custody: CustodyAccount, currency: str, amount: Decimal,
    value_date: dt.date, actor: User | None = None, from_sleeve: Sleeve | None = None,
    to_sleeve: Sleeve | None = None, external_ref: str = "",
) -> Transaction:
    """Move cash between custody accounts or sleeves of one account."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    amount = quantize_money(Decimal(amount), currency)
    if amount <= 0:
        raise ValidationFailed("a transfer must be positive")
    legs = [Leg(custody_account=from_custody, sleeve=from_sleeve, currency=currency, amount=-amount, cash_purpose=CashPurpose.TRANSFER),
            Leg(custody_account=to_custody, sleeve=to_sleeve, currency=currency, amount=amount, cash_purpose=CashPurpose.TRANSFER)]
    return _post(account=account, kind=TransactionKind.TRANSFER, trade_date=value_date, settle_date=value_date,
                 legs=legs, actor=actor, external_ref=external_ref)


@transaction.atomic
def securities_transfer(
    *, account: Account, from_custody: CustodyAccount, to_custody: CustodyAccount, instrument: Instrument,
    quantity: Decimal, trade_date: dt.date, settle_date: dt.date, actor: User | None = None,
    from_sleeve: Sleeve | None = None, to_sleeve: Sleeve | None = None, external_ref: str = "",
) -> Transaction:
    """Move a holding between custody accounts (or sleeves) of one account, free of payment.
    Lots travel with their acquisition dates and costs (FIFO); no gain is realised."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    quantity = Decimal(quantity)
    if quantity <= 0:
        raise ValidationFailed("a transfer must be positive")
    from_sleeve_id = from_sleeve.pk if from_sleeve else None
    lots = _open_lots(account, from_custody.pk, from_sleeve_id, instrument.pk)
    chosen = lot_engine.select(
        [lot_engine.OpenLot(lot.pk, lot.acquisition_date, lot.quantity_open, lot.unit_cost_local, lot.cost_base / lot.quantity) for lot in lots],
        quantity, LotReliefMethod.FIFO,
    )
    by_id = {lot.pk: lot for lot in lots}
    cost_local = sum((by_id[i].cost_local * q / by_id[i].quantity for i, q in chosen), ZERO)
    cost_base = sum((by_id[i].cost_base * q / by_id[i].quantity for i, q in chosen), ZERO)
    ccy = by_id[chosen[0][0]].local_currency
    legs = [Leg(custody_account=from_custody, sleeve=from_sleeve, instrument=instrument, quantity=-quantity,
                currency=ccy, amount=-quantize_money(cost_local, ccy),
                amount_base=-quantize_money(cost_base, account.base_currency))]
    for lot_id, q in chosen:
        lot = by_id[lot_id]
        lot_cost = quantize_money(lot.cost_local * q / lot.quantity, ccy)
        lot_base = quantize_money(lot.cost_base * q / lot.quantity, account.base_currency)
        legs.append(Leg(custody_account=to_custody, sleeve=to_sleeve, instrument=instrument, quantity=q, currency=ccy,
                        amount=lot_cost, amount_base=lot_base,
                        carry_lot={"acquisition_date": lot.acquisition_date, "cost_local": lot_cost, "cost_base": lot_base}))
    # The out-leg relieves exactly the lots chosen above, at cost (no gain).
    return _post(account=account, kind=TransactionKind.TRANSFER, trade_date=trade_date, settle_date=settle_date,
                 legs=legs, actor=actor, external_ref=external_ref, lot_method=LotReliefMethod.SPECIFIC,
                 specific_lots=chosen, detail={"free_of_payment": True})


# --- Income, fees -------------------------------------------------------------------------------


@transaction.atomic
def dividend_book(
    *, account: Account, custody_account: CustodyAccount, instrument: Instrument, currency: str,
    gross_amount: Decimal, ex_date: dt.date, pay_date: dt.date, withholding_rate: Decimal = ZERO,
    actor: User | None = None, sleeve: Sleeve | None = None, corporate_action_ref: str = "", external_ref: str = "",
) -> Transaction:
    """A cash dividend: gross credited, withholding tax debited, both on the pay date; the
    trade date is the ex-date (entitlement)."""
    account = _lock_account(account)
    _require_access(actor, account.firm_id)
    gross = quantize_money(Decimal(gross_amount), currency)
    withholding = quantize_money(gross * Decimal(withholding_rate), currency)
    rate = _fx_to_base(account, currency, ex_date)
    legs = [Leg(custody_account=custody_account, sleeve=sleeve, currency=currency, amount=gross,
                cash_purpose=CashPurpose.DIVIDEND, amount_base=quantize_money(gross * rate, account.base_currency))]
    if withholding:
        legs.append(Leg(custody_account=custody_account, sleeve=sleeve, currency=currency, amount=-withholding,
                        cash_purpose=CashPurpose.WITHHOLDING,
                        amount_base=quantize_money(-withholding * rate, account.base_currency)))
    return _post(account=account, kind=TransactionKind.DIVIDEND, trade_date=ex_date, settle_date=pay_date, legs=legs,
                 actor=actor, external_ref=external_ref, corporate_action_ref=corporate_action_ref,
                 detail={"instrument": instrument.pk, "isin": instrument.isin, "gross": str(gross),
                         "withholding_rate": str(withholding_rate), "withholding": str(withholding),
                         "net": str(gross - withholding)})


@transaction.atomic
def interest_book(
    *, account: Account, custody_account: CustodyAccount, currency: str, amount: Decimal, value_date: dt.date,
    actor: User | None = None, sleeve: Sleeve | None = None, external_ref: str = "",
) -> Transaction:
    """Credit (positive) or debit (negative) interest."""
    account = _lock_account(account)
    _require_access(actor, account.firm_id)
    return _post(account=account, kind=TransactionKind.INTEREST, trade_date=value_date, settle_date=value_date,
                 actor=actor, external_ref=external_ref,
                 legs=[Leg(custody_account=custody_account, sleeve=sleeve, currency=currency,
                           amount=quantize_money(Decimal(amount), currency), cash_purpose=CashPurpose.INTEREST)])


@transaction.atomic
def fee_book(
    *, account: Account, custody_account: CustodyAccount, currency: str, amount: Decimal, value_date: dt.date,
    actor: User | None = None, sleeve: Sleeve | None = None, description: str = "", external_ref: str = "",
) -> Transaction:
    """Charge a fee (a positive `amount` is debited)."""
    account = _lock_account(account)
    _require_access(actor, account.firm_id)
    amount = quantize_money(Decimal(amount), currency)
    if amount <= 0:
        raise ValidationFailed("a fee must be positive")
    return _post(account=account, kind=TransactionKind.FEE, trade_date=value_date, settle_date=value_date,
                 actor=actor, external_ref=external_ref, description=description,
                 legs=[Leg(custody_account=custody_account, sleeve=sleeve, currency=currency, amount=-amount,
                           cash_purpose=CashPurpose.FEE)])


# --- Corporate actions (every holder at once) ----------------------------------------------------


def _holders(instrument: Instrument, before: dt.date) -> list[tuple[int, int, int | None, Decimal, str]]:
    """(account, custody account, sleeve, long quantity, currency) of every long holding of
    `instrument` traded before `before`."""
    rows = (
        Movement.objects.filter(instrument=instrument, leg=LegType.SECURITY, is_short=False, trade_date__lt=before)
        .values_list("account_id", "custody_account_id", "sleeve_id")
        .annotate(q=Sum("quantity"))
        .order_by("account_id", "custody_account_id", "sleeve_id")
    )
    currency = dict(
        Movement.objects.filter(instrument=instrument, leg=LegType.SECURITY).values_list("custody_account_id", "currency")
    )
    return [(a, c, s, q, currency.get(c, instrument.currency)) for a, c, s, q in rows if q and q > 0]


def _quantity_event(
    *, instrument: Instrument, factor: Decimal, ex_date: dt.date, pay_date: dt.date, kind: str, reference: str,
    actor: User | None, detail: dict[str, Any],
) -> list[Transaction]:
    """Scale every long holding by `factor` (new quantity = old x factor) and every open lot."""
    if factor <= 0:
        raise ValidationFailed("the factor must be positive", detail={"factor": str(factor)})
    holders = _holders(instrument, ex_date)
    by_account: dict[int, list] = defaultdict(list)
    for row in holders:
        by_account[row[0]].append(row)
    accounts = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=by_account)}
    headers = [
        Transaction(account=accounts[pk], kind=kind, trade_date=ex_date, settle_date=pay_date,
                    corporate_action_ref=reference, external_ref=f"CA:{reference}" if reference else "",
                    detail={**detail, "factor": str(factor), "isin": instrument.isin},
                    description=f"{kind} {instrument.isin} x{_plain(factor)}")
        for pk in by_account
        if not (reference and Transaction.objects.filter(account_id=pk, external_ref=f"CA:{reference}").exists())
    ]
    Transaction.objects.bulk_create(headers)
    if headers and not headers[0].pk:
        headers = list(Transaction.objects.filter(corporate_action_ref=reference, kind=kind, account_id__in=by_account))
    movements = []
    for txn in headers:
        for account_id, custody_id, sleeve_id, qty, ccy in by_account[txn.account_id]:
            delta = qty * factor - qty
            if delta:
                movements.append(Movement(
                    transaction=txn, account_id=account_id, custody_account_id=custody_id, sleeve_id=sleeve_id,
                    leg=LegType.SECURITY, instrument=instrument, quantity=delta, currency=ccy, amount=ZERO,
                    amount_base=ZERO, trade_date=ex_date, settle_date=pay_date,
                ))
    try:
        with transaction.atomic():
            Movement.objects.bulk_create(movements, batch_size=2000)
    except IntegrityError as exc:
        raise LedgerError(f"the ledger refused the corporate action: {exc}") from exc
    TaxLot.objects.filter(
        instrument=instrument, account_id__in=[t.account_id for t in headers], acquisition_date__lt=ex_date
    ).update(quantity=F("quantity") * factor, quantity_open=F("quantity_open") * factor)
    record_event(subject=instrument, event_type=f"corporate_action.{kind}", actor=actor, firm=None,
                 detail={**detail, "reference": reference, "factor": str(factor), "accounts": len(headers),
                         "ex_date": ex_date.isoformat()})
    books_refresh(account_ids=[t.account_id for t in headers])
    return headers


@transaction.atomic
def corporate_action_split(
    *, instrument: Instrument, new_shares: int, old_shares: int, ex_date: dt.date, pay_date: dt.date | None = None,
    reference: str = "", actor: User | None = None,
) -> list[Transaction]:
    """A split (or consolidation) of `old_shares` into `new_shares`, booked for every holder;
    lots keep their cost and scale their quantity."""
    factor = Decimal(new_shares) / Decimal(old_shares)
    return _quantity_event(instrument=instrument, factor=factor, ex_date=ex_date, pay_date=pay_date or ex_date,
                           kind=TransactionKind.SPLIT, reference=reference, actor=actor,
                           detail={"new_shares": new_shares, "old_shares": old_shares})


@transaction.atomic
def corporate_action_adr_ratio_change(
    *, instrument: Instrument, new_ratio: Decimal, effective_date: dt.date, reference: str = "",
    actor: User | None = None,
) -> list[Transaction]:
    """The depositary changes the ordinaries per ADR from the current ratio to `new_ratio`:
    holders' ADR quantity scales by old/new (10 -> 5 ordinaries per ADR doubles the ADRs) and
    the instrument master takes the new ratio."""
    from trading.reference.services import adr_ratio_change

    instrument = Instrument.objects.get(pk=instrument.pk)
    old_ratio = instrument.underlying_ratio
    if old_ratio is None:
        raise ValidationFailed("only a depositary receipt has a ratio", detail={"isin": instrument.isin})
    new_ratio = Decimal(new_ratio)
    txns = _quantity_event(instrument=instrument, factor=old_ratio / new_ratio, ex_date=effective_date,
                           pay_date=effective_date, kind=TransactionKind.ADR_RATIO_CHANGE, reference=reference,
                           actor=actor, detail={"old_ratio": str(old_ratio), "new_ratio": str(new_ratio)})
    adr_ratio_change(instrument=instrument, new_ratio=new_ratio, effective_date=effective_date, actor=actor,
                     reason=f"corporate action {reference}")
    return txns


@transaction.atomic
def corporate_action_cash_dividend(
    *, instrument: Instrument, amount_per_share: Decimal, currency: str, ex_date: dt.date, pay_date: dt.date,
    reference: str, default_withholding_rate: Decimal = ZERO, withholding_rates: dict[int, Decimal] | None = None,
    actor: User | None = None,
) -> list[Transaction]:
    """A cash dividend for every holder: entitlement is the long holding traded before the
    ex-date, per custody account and sleeve; gross on the pay date, withholding beside it at
    the account's rate (`withholding_rates[account id]`, e.g. from the tax treaty tables) or
    the default. Idempotent on `reference`."""
    if not reference:
        raise ValidationFailed("a corporate action needs a reference")
    amount_per_share = Decimal(amount_per_share)
    rates = withholding_rates or {}
    holders = _holders(instrument, ex_date)
    by_account: dict[int, list] = defaultdict(list)
    for row in holders:
        by_account[row[0]].append(row)
    done = set(Transaction.objects.filter(account_id__in=by_account, external_ref=f"CA:{reference}")
               .values_list("account_id", flat=True))
    accounts = {a.pk: a for a in Account.objects.select_for_update().filter(pk__in=set(by_account) - done)}
    fx = {base: ref_selectors.fx_rates_to(target=base, currencies=[currency], on=ex_date)[currency].rate
          for base in {a.base_currency for a in accounts.values()}}
    headers, legs_by_account = [], {}
    for pk, account in accounts.items():
        rate = Decimal(rates.get(pk, default_withholding_rate))
        to_base = fx[account.base_currency]
        legs = []
        total_gross = total_wht = ZERO
        for _a, custody_id, sleeve_id, qty, _ccy in by_account[pk]:
            gross = quantize_money(qty * amount_per_share, currency)
            wht = quantize_money(gross * rate, currency)
            total_gross += gross
            total_wht += wht
            legs.append((custody_id, sleeve_id, CashPurpose.DIVIDEND, gross))
            if wht:
                legs.append((custody_id, sleeve_id, CashPurpose.WITHHOLDING, -wht))
        legs_by_account[pk] = (legs, to_base)
        headers.append(Transaction(
            account=account, kind=TransactionKind.DIVIDEND, trade_date=ex_date, settle_date=pay_date,
            external_ref=f"CA:{reference}", corporate_action_ref=reference,
            description=f"dividend {instrument.isin} {_plain(amount_per_share)} {currency}",
            detail={"instrument": instrument.pk, "isin": instrument.isin, "per_share": str(amount_per_share),
                    "withholding_rate": str(rate), "gross": str(total_gross), "withholding": str(total_wht),
                    "net": str(total_gross - total_wht)},
        ))
    Transaction.objects.bulk_create(headers)
    if headers and not headers[0].pk:
        headers = list(Transaction.objects.filter(external_ref=f"CA:{reference}", account_id__in=accounts))
    movements = []
    for txn in headers:
        legs, to_base = legs_by_account[txn.account_id]
        base_ccy = accounts[txn.account_id].base_currency
        for custody_id, sleeve_id, purpose, amount in legs:
            movements.append(Movement(
                transaction=txn, account_id=txn.account_id, custody_account_id=custody_id, sleeve_id=sleeve_id,
                leg=LegType.CASH, cash_purpose=purpose, currency=currency, amount=amount,
                amount_base=quantize_money(amount * to_base, base_ccy), trade_date=ex_date, settle_date=pay_date,
            ))
    Movement.objects.bulk_create(movements, batch_size=2000)
    record_event(subject=instrument, event_type="corporate_action.dividend", actor=actor, firm=None,
                 detail={"reference": reference, "per_share": str(amount_per_share), "currency": currency,
                         "accounts": len(headers), "ex_date": ex_date.isoformat(), "pay_date": pay_date.isoformat()})
    books_refresh(account_ids=[t.account_id for t in headers])
    return headers


# --- Reversal ----------------------------------------------------------------------------------


@transaction.atomic
def transaction_reverse(*, txn: Transaction, actor: User | None = None, reason: str) -> Transaction:
    """Cancel a transaction by posting its mirror image. Lots it opened close (they must be
    untouched); lots it relieved reopen."""
    account = _lock_account(txn.account_id)
    _require_access(actor, account.firm_id)
    if not reason:
        raise ValidationFailed("a reversal needs a reason")
    if txn.kind == TransactionKind.REVERSAL:
        raise LedgerError("a reversal cannot itself be reversed; post the transaction again")
    if Transaction.objects.filter(reverses=txn).exists():
        raise LedgerError("this transaction is already reversed", detail={"transaction": txn.pk})
    originals = list(txn.movements.select_related("custody_account", "sleeve", "instrument", "listing").order_by("pk"))
    opened = list(TaxLot.objects.select_for_update().filter(opening_movement__in=originals))
    touched = [lot for lot in opened if lot.quantity_open != lot.quantity]
    if touched:
        raise LedgerError("lots opened by this transaction were partly sold; reverse those sales first",
                          detail={"lots": [lot.pk for lot in touched]})
    legs = [Leg(custody_account=m.custody_account, sleeve=m.sleeve, instrument=m.instrument, listing=m.listing,
                quantity=-m.quantity if m.quantity is not None else None, is_short=m.is_short,
                cash_purpose=m.cash_purpose, currency=m.currency, amount=-m.amount,
                amount_base=-m.amount_base if m.amount_base is not None else None, settle_date=m.settle_date)
            for m in originals]
    reliefs = list(LotRelief.objects.filter(movement__in=originals))
    # Reopen relieved lots before posting, so the mirror legs see the quantity again.
    for relief in reliefs:
        TaxLot.objects.filter(pk=relief.lot_id).update(quantity_open=F("quantity_open") + relief.quantity)
    TaxLot.objects.filter(pk__in=[lot.pk for lot in opened]).update(quantity_open=ZERO)
    reversal = _post(account=account, kind=TransactionKind.REVERSAL, trade_date=txn.trade_date,
                     settle_date=txn.settle_date, legs=legs, actor=actor, reverses=txn,
                     description=f"reversal of #{txn.pk}: {reason}", detail={"reverses": txn.pk, "reason": reason})
    return reversal


# --- Derived balances ----------------------------------------------------------------------------


def books_refresh(*, account_ids: Sequence[int], as_of: dt.date | None = None) -> dict[str, int]:
    """Rewrite `Position` and `CashBalance` for these accounts on both bases as of `as_of`
    (default today) from the ledger: one aggregate query per table, bulk insert."""
    as_of = as_of or _today()
    ids = list(set(account_ids))
    from django.db import connection

    if connection.vendor == "postgresql":
        return _books_refresh_sql(ids, as_of)
    with transaction.atomic():
        Position.objects.filter(account_id__in=ids).delete()
        CashBalance.objects.filter(account_id__in=ids).delete()
        cost: dict[tuple, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
        for custody_id, sleeve_id, instrument_id, q, q_open, c_local, c_base in TaxLot.objects.filter(
            account_id__in=ids, quantity_open__gt=0
        ).values_list("custody_account_id", "sleeve_id", "instrument_id", "quantity", "quantity_open", "cost_local", "cost_base"):
            bucket = cost[(custody_id, sleeve_id, instrument_id)]
            bucket[0] += c_local * q_open / q
            bucket[1] += c_base * q_open / q
        positions = []
        rows = (
            Movement.objects.filter(account_id__in=ids, leg=LegType.SECURITY)
            .values_list("account_id", "custody_account_id", "sleeve_id", "instrument_id", "currency")
            .annotate(trade=Sum("quantity", filter=Q(trade_date__lte=as_of)),
                      settle=Sum("quantity", filter=Q(settle_date__lte=as_of)))
        )
        for account_id, custody_id, sleeve_id, instrument_id, ccy, trade_q, settle_q in rows:
            c_local, c_base = cost.get((custody_id, sleeve_id, instrument_id), (ZERO, ZERO))
            for basis, qty in ((Basis.TRADE, trade_q), (Basis.SETTLE, settle_q)):
                if qty:
                    positions.append(Position(
                        account_id=account_id, custody_account_id=custody_id, sleeve_id=sleeve_id,
                        instrument_id=instrument_id, basis=basis, quantity=qty, local_currency=ccy,
                        cost_local=quantize_money(c_local, ccy), cost_base=c_base.quantize(Decimal("0.000001")),
                        as_of=as_of,
                    ))
        cash = []
        rows = (
            Movement.objects.filter(account_id__in=ids, leg=LegType.CASH)
            .values_list("account_id", "custody_account_id", "sleeve_id", "currency")
            .annotate(trade=Sum("amount", filter=Q(trade_date__lte=as_of)),
                      settle=Sum("amount", filter=Q(settle_date__lte=as_of)))
        )
        for account_id, custody_id, sleeve_id, ccy, trade_a, settle_a in rows:
            for basis, amount in ((Basis.TRADE, trade_a), (Basis.SETTLE, settle_a)):
                cash.append(CashBalance(
                    account_id=account_id, custody_account_id=custody_id, sleeve_id=sleeve_id, currency=ccy,
                    basis=basis, amount=amount or ZERO, as_of=as_of,
                ))
        _merge_duplicates(positions)
        Position.objects.bulk_create(positions, batch_size=5000)
        CashBalance.objects.bulk_create(cash, batch_size=5000)
    return {"positions": len(positions), "cash_balances": len(cash)}


_REFRESH_SQL = """
WITH q AS (
    SELECT account_id, custody_account_id, sleeve_id, instrument_id, MAX(currency) AS ccy,
           SUM(quantity) FILTER (WHERE trade_date <= %(d)s) AS trade_q,
           SUM(quantity) FILTER (WHERE settle_date <= %(d)s) AS settle_q
      FROM accounts_movement
     WHERE account_id = ANY(%(ids)s) AND leg = 'security'
     GROUP BY 1, 2, 3, 4
), c AS (
    SELECT custody_account_id, sleeve_id, instrument_id,
           SUM(cost_local * quantity_open / quantity) AS cl, SUM(cost_base * quantity_open / quantity) AS cb
      FROM accounts_taxlot
     WHERE account_id = ANY(%(ids)s) AND quantity_open > 0
     GROUP BY 1, 2, 3
), mu(ccy, units) AS (SELECT * FROM unnest(%(mu_ccy)s::text[], %(mu_units)s::int[]))
INSERT INTO accounts_position (account_id, custody_account_id, sleeve_id, instrument_id, basis, quantity,
                               cost_local, local_currency, cost_base, as_of)
SELECT q.account_id, q.custody_account_id, q.sleeve_id, q.instrument_id, b.basis,
       CASE b.basis WHEN 'trade' THEN q.trade_q ELSE q.settle_q END,
       ROUND(COALESCE(c.cl, 0), COALESCE(mu.units, 2)), q.ccy, ROUND(COALESCE(c.cb, 0), 6), %(d)s
  FROM q
  CROSS JOIN (VALUES ('trade'), ('settle')) AS b(basis)
  LEFT JOIN c ON c.custody_account_id = q.custody_account_id AND c.instrument_id = q.instrument_id
             AND c.sleeve_id IS NOT DISTINCT FROM q.sleeve_id
  LEFT JOIN mu ON mu.ccy = q.ccy
 WHERE COALESCE(CASE b.basis WHEN 'trade' THEN q.trade_q ELSE q.settle_q END, 0) <> 0
"""

_REFRESH_CASH_SQL = """
INSERT INTO accounts_cashbalance (account_id, custody_account_id, sleeve_id, currency, basis, amount, as_of)
SELECT m.account_id, m.custody_account_id, m.sleeve_id, m.currency, b.basis,
       COALESCE(SUM(m.amount) FILTER (WHERE (b.basis = 'trade' AND m.trade_date <= %(d)s)
                                        OR (b.basis = 'settle' AND m.settle_date <= %(d)s)), 0),
       %(d)s
  FROM accounts_movement m
  CROSS JOIN (VALUES ('trade'), ('settle')) AS b(basis)
 WHERE m.account_id = ANY(%(ids)s) AND m.leg = 'cash'
 GROUP BY m.account_id, m.custody_account_id, m.sleeve_id, m.currency, b.basis
"""


def _books_refresh_sql(ids: list[int], as_of: dt.date) -> dict[str, int]:
    """PostgreSQL: the same rebuild as set-oriented SQL (delete, INSERT ... SELECT)."""
    from django.db import connection

    from onboarding.money import minor_units

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_position WHERE account_id = ANY(%s)", [ids])
        cursor.execute("DELETE FROM accounts_cashbalance WHERE account_id = ANY(%s)", [ids])
        cursor.execute("SELECT DISTINCT currency FROM accounts_movement WHERE account_id = ANY(%s) AND leg = 'security'", [ids])
        ccys = [r[0] for r in cursor.fetchall()]
        params = {"ids": ids, "d": as_of, "mu_ccy": ccys, "mu_units": [minor_units(c) for c in ccys]}
        cursor.execute(_REFRESH_SQL, params)
        positions = cursor.rowcount
        cursor.execute(_REFRESH_CASH_SQL, params)
        cash = cursor.rowcount
    return {"positions": positions, "cash_balances": cash}


def _merge_duplicates(positions: list[Position]) -> None:
    """A holding bought in two currencies in one custody account (rare) comes back as two
    aggregate rows; merge them so the unique key holds."""
    seen: dict[tuple, Position] = {}
    out = []
    for p in positions:
        key = (p.custody_account_id, p.sleeve_id, p.instrument_id, p.basis)
        if key in seen:
            seen[key].quantity += p.quantity
            continue
        seen[key] = p
        out.append(p)
    positions[:] = out


# --- Model portfolios and subscriptions -----------------------------------------------------------


@dataclass(frozen=True)
class TargetLine:
    """One line of a model: exactly one of isin, sleeve_model (code), cash_currency."""

    weight: Decimal
    isin: str = ""
    sleeve_model: str = ""
    cash_currency: str = ""


@transaction.atomic
def model_publish(
    *, code: str, name: str, provider: str, base_currency: str, effective_from: dt.date,
    lines: Sequence[TargetLine], publisher: Firm | None = None, actor: User | None = None,
    source_file: str = "", checksum: str = "",
) -> ModelPortfolio:
    """Publish the next version of a model. Weights must sum to 1; every ISIN must be known."""
    total = sum((line.weight for line in lines), ZERO)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        raise ValidationFailed(f"model {code}: weights sum to {total}, not 1", detail={"model": code, "sum": str(total)})
    isins = {line.isin for line in lines if line.isin}
    instruments = {i.isin: i for i in Instrument.objects.filter(isin__in=isins)}
    if isins - set(instruments):
        missing = sorted(isins - set(instruments))
        raise ValidationFailed(f"model {code}: unknown ISINs {missing}", detail={"isins": missing})
    latest = ModelPortfolio.objects.select_for_update().filter(code=code).order_by("-version").first()
    if latest is not None and checksum and latest.checksum == checksum:
        return latest
    model = _validated(ModelPortfolio(
        code=code, version=(latest.version + 1) if latest else 1, name=name, provider=provider, publisher=publisher,
        base_currency=base_currency, effective_from=effective_from, status=ModelStatus.PUBLISHED,
        source_file=source_file, checksum=checksum,
    ))
    model.save()
    sleeves = {}
    for line in lines:
        if line.sleeve_model:
            sleeves[line.sleeve_model] = ModelPortfolio.objects.filter(code=line.sleeve_model).order_by("-version").first()
            if sleeves[line.sleeve_model] is None:
                raise ValidationFailed(f"model {code}: unknown sleeve model {line.sleeve_model}")
    ModelTarget.objects.bulk_create([
        ModelTarget(model=model, weight=line.weight, instrument=instruments.get(line.isin),
                    sleeve_model=sleeves.get(line.sleeve_model), cash_currency=line.cash_currency)
        for line in lines
    ])
    if latest is not None:
        ModelPortfolio.objects.filter(code=code, status=ModelStatus.PUBLISHED).exclude(pk=model.pk).update(
            status=ModelStatus.RETIRED)
    record_event(subject=model, event_type="model.published", actor=actor, firm=publisher,
                 detail={"code": code, "version": model.version, "lines": len(lines), "source_file": source_file})
    return model


@transaction.atomic
def model_subscribe(
    *, account: Account, model: ModelPortfolio, start_date: dt.date, actor: User | None = None,
    sleeve: Sleeve | None = None, follow_latest: bool = True,
) -> ModelSubscription:
    """Subscribe the account (or one sleeve) to a model, ending any current subscription there.
    Instruments of the model the account may not hold become restricted overrides at once."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    if model.status != ModelStatus.PUBLISHED:
        raise ValidationFailed(f"model {model} is {model.status}, not published")
    if sleeve is not None and sleeve.account_id != account.pk:
        raise NotFound("sleeve not found")
    ModelSubscription.objects.filter(account=account, sleeve=sleeve, status=SubscriptionStatus.ACTIVE).update(
        status=SubscriptionStatus.ENDED, end_date=start_date)
    subscription = ModelSubscription.objects.create(
        account=account, sleeve=sleeve, model=model, follow_latest=follow_latest, start_date=start_date,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    investor = eligibility_engine.Investor(account.investor_type, account.booking_jurisdiction,
                                           account.booking_centre, account.is_us_person)
    rules = ref_selectors.eligibility_rules(on=start_date)
    restricted = []
    for instrument in Instrument.objects.filter(pk__in=model.targets.filter(instrument__isnull=False).values("instrument")):
        problems = eligibility_engine.check(investor, instrument.eligibility_tags or [], rules, on=start_date)
        if problems:
            restricted.append(ModelOverride(subscription=subscription, kind=OverrideKind.RESTRICTED,
                                            instrument=instrument, reason="; ".join(p.reason for p in problems)))
    ModelOverride.objects.bulk_create(restricted)
    record_event(subject=account, event_type="account.subscribed", actor=actor,
                 detail={"model": model.code, "version": model.version, "sleeve": sleeve.pk if sleeve else None,
                         "restricted": [o.instrument.isin for o in restricted]})
    return subscription


@transaction.atomic
def model_override_add(
    *, subscription: ModelSubscription, kind: str, actor: User | None = None, instrument: Instrument | None = None,
    substitute: Instrument | None = None, currency: str = "", weight: Decimal | None = None,
    sell_if_held: bool = False, reason: str = "",
) -> ModelOverride:
    """Restrict an instrument, substitute one for another, or set a cash target in a currency."""
    account = _lock_account(subscription.account_id)
    _gate(account, actor=actor)
    if kind == OverrideKind.SUBSTITUTE and substitute is not None:
        _check_eligible(account, substitute, _today())
    override = ModelOverride(subscription=subscription, kind=kind, instrument=instrument, substitute=substitute,
                             currency=currency, weight=weight, sell_if_held=sell_if_held, reason=reason)
    if kind == OverrideKind.CASH_TARGET and not is_currency(currency):
        raise ValidationFailed(f"{currency!r} is not a currency", detail={"currency": currency})
    try:
        with transaction.atomic():
            override.save()
    except IntegrityError as exc:
        raise ValidationFailed(f"override fields do not fit kind {kind}", detail={"kind": kind}) from exc
    record_event(subject=account, event_type="account.override_added", actor=actor,
                 detail={"subscription": subscription.pk, "kind": kind, "instrument": instrument.pk if instrument else None,
                         "substitute": substitute.pk if substitute else None, "currency": currency,
                         "weight": str(weight) if weight is not None else None, "reason": reason})
    return override


@transaction.atomic
def model_delivery_load(*, path: str, publisher: Firm | None = None, actor: User | None = None) -> list[dict[str, Any]]:
    """Load a model delivery CSV (see `accounts.modelfiles`). Every line is checked before any
    model is written; a model whose content is unchanged keeps its version."""
    from pathlib import Path

    from . import modelfiles

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise modelfiles.ModelFileError(f"{path}: cannot read: {exc}", detail={"file": str(path)}) from exc
    parsed = modelfiles.parse(
        text, path=str(path),
        isin_known=lambda isins: set(Instrument.objects.filter(isin__in=isins).values_list("isin", flat=True)),
        model_known=lambda codes: set(ModelPortfolio.objects.filter(code__in=codes).values_list("code", flat=True)),
    )
    report = []
    # sleeve models first, so a model of models finds them
    for model in sorted(parsed, key=lambda m: any(t == "sleeve" for t, _i, _w in m.lines)):
        lines = [TargetLine(weight=w, isin=i if t == "instrument" else "", cash_currency=i if t == "cash" else "",
                            sleeve_model=i if t == "sleeve" else "") for t, i, w in model.lines]
        before = ModelPortfolio.objects.filter(code=model.code).order_by("-version").values_list("version", flat=True).first()
        published = model_publish(
            code=model.code, name=model.name, provider=model.provider, base_currency=model.base_currency,
            effective_from=model.effective_from, lines=lines, publisher=publisher, actor=actor,
            source_file=Path(path).name, checksum=model.checksum,
        )
        report.append({"code": model.code, "version": published.version, "lines": len(lines),
                       "created": published.version != before})
    return report
