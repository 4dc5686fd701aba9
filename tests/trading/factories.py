"""factory_boy factories for trading tests (accounts, custody, orders)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory

from accounts.models import Account, Custodian, CustodyAccount
from tests.factories import FirmFactory, PersonFactory
from trading.models import Order


class CustodianFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Custodian
        django_get_or_create = ("name",)

    name = "NORTHBANK"
    bic = factory.Sequence(lambda n: f"NRTH{'GB'}2{n % 10}")
    country = "GB"


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    firm = factory.SubFactory(FirmFactory)
    owner = factory.SubFactory(PersonFactory, firm=factory.SelfAttribute("..firm"))
    number = factory.Sequence(lambda n: f"ACC{n:05d}")
    name = factory.Sequence(lambda n: f"Account {n}")
    base_currency = "GBP"
    booking_centre = "onshore"
    booking_jurisdiction = "GB"
    status = "active"


class CustodyAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustodyAccount

    account = factory.SubFactory(AccountFactory)
    custodian = factory.SubFactory(CustodianFactory)
    number = factory.Sequence(lambda n: f"CA{n:06d}")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    reference = factory.Sequence(lambda n: f"O{n:08d}")
    side = "buy"
    quantity = Decimal(100)
    currency = "USD"
    estimated_price = Decimal(200)
    estimated_value = factory.LazyAttribute(lambda o: o.quantity * o.estimated_price)
    trade_date = dt.date(2026, 11, 23)
    settle_date = dt.date(2026, 11, 24)
