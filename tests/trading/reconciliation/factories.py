"""factory_boy factories for the books interface the reconciliation reads."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from trading.reconciliation.models import BookCash, BookPendingTrade, BookPosition, InstrumentIdentifier


class IdentifierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = InstrumentIdentifier

    kind = "isin"
    value = factory.Sequence(lambda n: f"XS{n:010d}")
    instrument_id = factory.Sequence(lambda n: n + 1)
    quantity_factor = Decimal(1)


class BookPositionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookPosition

    custodian_code = "GLOBALCUST"
    custody_account = "SAFE-001"
    instrument_id = 1
    quantity = Decimal(100)
    price = Decimal(10)
    price_currency = "USD"
    fx_rate = Decimal(1)
    base_currency = "USD"
    as_of = dt.date(2024, 1, 31)


class BookCashFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookCash

    custodian_code = "BANK"
    custody_account = "ACC"
    currency = "EUR"
    amount = Decimal(0)
    as_of = dt.date(2024, 1, 31)


class PendingTradeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BookPendingTrade

    custodian_code = "GLOBALCUST"
    custody_account = "SAFE-001"
    instrument_id = 1
    quantity = Decimal(0)
    trade_date = dt.date(2024, 1, 30)
    settle_date = dt.date(2024, 2, 1)
