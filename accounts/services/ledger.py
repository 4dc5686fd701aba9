"""The ledger and trades: `Leg` and `_post`, the append-only ledger's only writer, tax-lot
upkeep, trade booking and posting from fills, securities transfers and reversals."""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum

from onboarding.audit import record_event
from onboarding.exceptions import ValidationFailed
from onboarding.models import User
from onboarding.money import is_currency, quantize_money
from trading.reference import eligibility as eligibility_engine
from trading.reference import selectors as ref_selectors
from trading.reference.models import Instrument, Listing

from .. import lots as lot_engine
from ..exceptions import (
    IneligibleInstrument,
    InsufficientPosition,
    LedgerError,
)
from ..models import (
    Account,
    CashPurpose,
    CustodyAccount,
    LegType,
    LotRelief,
    LotReliefMethod,
    Movement,
    Sleeve,
    TaxLot,
    Transaction,
    TransactionKind,
)
from .access import ZERO, _gate, _lock_account, _plain, _require_access
from .books import books_refresh

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
        .filter(Q(sleeve_id=sleeve_id), account=account, custody_account_id=custody_id, instrument_id=instrument_id,
                quantity_open__gt=0)
        .order_by("acquisition_date", "pk")
    )


def _long_quantity(custody_id: int, sleeve_id: int | None, instrument_id: int) -> Decimal:
    return Movement.objects.filter(
        Q(sleeve_id=sleeve_id), custody_account_id=custody_id, instrument_id=instrument_id, leg=LegType.SECURITY,
        is_short=False,
    ).aggregate(q=Sum("quantity"))["q"] or ZERO


def _post(
    *, account: Account, kind: str, trade_date: dt.date, settle_date: dt.date, legs: Sequence[Leg],
    actor: User | None, external_ref: str = "", description: str = "", detail: dict[str, Any] | None = None,
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
        if leg.instrument is not None and leg.quantity is not None and leg.quantity < 0 and not leg.is_short:
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
        if leg.instrument is None or leg.quantity is None or leg.is_short or kind not in ACQUISITIONS | DISPOSALS:
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




# --- Opening balances (a book moved onto Meridian) ----------------------------------------------


@dataclass(frozen=True)
class OpeningLot:
    """One open tax lot of a holding brought over from another book: quantity, total cost in the
    listing's trading currency, and the date it was acquired (which stays the lot's date)."""

    listing: Listing
    quantity: Decimal
    cost_local: Decimal
    acquisition_date: dt.date


@transaction.atomic
def opening_balance_book(
    *, account: Account, custody_account: CustodyAccount, as_of: dt.date, lots: Sequence[OpeningLot] = (),
    cash: Sequence[tuple[str, Decimal]] = (), actor: User | None = None, external_ref: str = "",
    fx_rates: dict[str, Decimal] | None = None,
) -> Transaction:
    """Bring a custody account's holdings and cash over from a previous book as of `as_of`: one
    transfer-in transaction (free of payment, settled on `as_of`) whose security legs open the lots
    with their own acquisition dates and costs, and whose cash legs set the opening balance per
    currency. Not back-dated trades, not deposits made to fit. `fx_rates` (currency -> base) value
    the cost in base currency; without one, the rate on file for `as_of`."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    fx_rates = fx_rates or {}
    legs: list[Leg] = []
    for lot in lots:
        ccy = lot.listing.trading_currency
        if lot.quantity <= 0:
            raise ValidationFailed("an opening lot needs a positive quantity", detail={"isin": lot.listing.instrument.isin})
        held_markets = set(custody_account.markets.values_list("mic", flat=True))
        if held_markets and lot.listing.market.mic not in held_markets:
            raise ValidationFailed(
                f"custody account {custody_account.number} does not hold {lot.listing.market.mic} securities",
                detail={"market": lot.listing.market.mic, "custody_markets": sorted(held_markets)})
        rate = _fx_to_base(account, ccy, as_of, fx_rates.get(ccy))
        cost = quantize_money(lot.cost_local, ccy)
        cost_base = quantize_money(cost * rate, account.base_currency)
        legs.append(Leg(custody_account=custody_account, instrument=lot.listing.instrument, listing=lot.listing,
                        quantity=lot.quantity, currency=ccy, amount=cost, amount_base=cost_base,
                        carry_lot={"acquisition_date": lot.acquisition_date, "cost_local": cost,
                                   "cost_base": cost_base}))
    for ccy, amount in cash:
        money = quantize_money(Decimal(amount), ccy)
        if money:
            rate = _fx_to_base(account, ccy, as_of, fx_rates.get(ccy))
            legs.append(Leg(custody_account=custody_account, currency=ccy, amount=money,
                            cash_purpose=CashPurpose.TRANSFER,
                            amount_base=quantize_money(money * rate, account.base_currency)))
    return _post(account=account, kind=TransactionKind.TRANSFER, trade_date=as_of, settle_date=as_of, legs=legs,
                 actor=actor, external_ref=external_ref, description=f"opening balances of {custody_account.number}",
                 detail={"opening_balance": True, "free_of_payment": True})


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
