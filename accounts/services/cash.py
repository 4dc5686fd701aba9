"""Cash and FX: FX posting from fills and spot FX, cash deposits, withdrawals and transfers,
and income and fees (dividends, interest, fees)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction

from onboarding.exceptions import ValidationFailed
from onboarding.models import User
from onboarding.money import quantize_money
from trading.reference import selectors as ref_selectors
from trading.reference.models import Instrument

from ..models import (
    Account,
    CashPurpose,
    CustodyAccount,
    Sleeve,
    Transaction,
    TransactionKind,
)
from .access import ZERO, _gate, _lock_account, _require_access
from .ledger import Leg, _fx_to_base, _post


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


def _cash_approval(*, account: Account, kind: str, currency: str, amount: Decimal, on: dt.date, actor: User | None) -> None:
    """The firm's approval rules for cash: the booker's role and limit (base currency) and the
    sanity limit on any single amount (a USD 1e17 deposit is a keying error, refused for all)."""
    from ..approvals import Item, assert_may_approve, policy_for, to_base

    item = Item(label=f"{kind} of {amount:,.2f} {currency} to account {account.number}",
                amount_base=to_base(amount=amount, currency=currency, base_currency=account.base_currency, on=on),
                base_currency=account.base_currency)
    assert_may_approve(policy=policy_for(account.firm_id), kind=kind, actor=actor, items=[item])


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
    _cash_approval(account=account, kind="deposit", currency=currency, amount=amount, on=value_date, actor=actor)
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
    _cash_approval(account=account, kind="withdrawal", currency=currency, amount=amount, on=value_date, actor=actor)
    from ..selectors import projected_cash

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
    to_sleeve: Sleeve | None = None, external_ref: str = "", trade_date: dt.date | None = None,
) -> Transaction:
    """Move cash between custody accounts or sleeves of one account, instructed on `trade_date`
    (default: the value date) for value on `value_date`."""
    account = _lock_account(account)
    _gate(account, actor=actor)
    amount = quantize_money(Decimal(amount), currency)
    if amount <= 0:
        raise ValidationFailed("a transfer must be positive")
    legs = [Leg(custody_account=from_custody, sleeve=from_sleeve, currency=currency, amount=-amount, cash_purpose=CashPurpose.TRANSFER),
            Leg(custody_account=to_custody, sleeve=to_sleeve, currency=currency, amount=amount, cash_purpose=CashPurpose.TRANSFER)]
    return _post(account=account, kind=TransactionKind.TRANSFER, trade_date=trade_date or value_date,
                 settle_date=value_date, legs=legs, actor=actor, external_ref=external_ref)




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
