"""Corporate actions booked for every holder at once: splits, ADR ratio changes, cash
dividends."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from onboarding.audit import record_event
from onboarding.exceptions import ValidationFailed
from onboarding.models import User
from onboarding.money import quantize_money
from trading.reference import selectors as ref_selectors
from trading.reference.models import Instrument

from ..exceptions import (
    LedgerError,
)
from ..models import (
    Account,
    CashPurpose,
    LegType,
    Movement,
    TaxLot,
    Transaction,
    TransactionKind,
)
from .access import ZERO, _plain
from .books import books_refresh

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
    by_account: dict[int, list[tuple[int, int, int | None, Decimal, str]]] = defaultdict(list)
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
    by_account: dict[int, list[tuple[int, int, int | None, Decimal, str]]] = defaultdict(list)
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
