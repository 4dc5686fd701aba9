"""Demo accounts for the seed and for tests.

`custodians_demo()` creates custodians with real BICs and the markets they settle.
`accounts_demo(firm=..., owner=...)` opens a multi-custody GBP account for an owner whose
relationship is already active (activation and funding are gated), funds it in GBP and USD,
buys a US line, a GBp London line and an ADR, subscribes it to a demo model and returns it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction

from onboarding.models import Firm, Party, User
from trading.reference.demo import ReferenceDemo, reference_demo

from . import services
from .models import Account, Custodian, CustodyAccount, ModelPortfolio

CUSTODIANS = [
    # name, BIC, country, markets settled, file formats
    ("BNY Mellon", "IRVTUS3N", "US", ["XNYS", "XNAS", "OTCM", "XTSE"], ["semt002", "camt053", "mt535", "mt940"]),
    ("Citibank London", "CITIGB2L", "GB", ["XLON", "XETR", "XPAR", "XAMS", "XSWX"], ["mt535", "mt940", "mt950"]),
    ("UBS Switzerland", "UBSWCHZH80A", "CH", ["XSWX", "XETR", "XLON", "XNYS", "XNAS"], ["semt002", "camt053"]),
    ("HSBC Hong Kong", "HSBCHKHH", "HK", ["XHKG", "XSHG", "XTKS"], ["mt535", "mt940"]),
    ("Pershing", "PRSHUS33", "US", ["XNYS", "XNAS", "OTCM"], ["csv"]),
]


@dataclass
class AccountsDemo:
    ref: ReferenceDemo
    custodians: dict[str, Custodian] = field(default_factory=dict)
    account: Account | None = None
    custody: dict[str, CustodyAccount] = field(default_factory=dict)
    model: ModelPortfolio | None = None


@transaction.atomic
def custodians_demo() -> dict[str, Custodian]:
    out = {}
    for name, bic, country, markets, formats in CUSTODIANS:
        existing = Custodian.objects.filter(bic=bic).first()
        out[bic] = existing or services.custodian_create(
            name=name, bic=bic, country=country, markets=markets, file_formats=formats,
            csv_layout="pershing" if "csv" in formats else "",
        )
    return out


@transaction.atomic
def model_demo(*, ref: ReferenceDemo, effective_from: dt.date) -> ModelPortfolio:
    """A global equity model with a GBP and a USD cash line."""
    existing = ModelPortfolio.objects.filter(code="GLOBAL-EQ-GBP").order_by("-version").first()
    if existing:
        return existing
    weights = {"AAPL": "0.25", "VOD": "0.15", "HSBA": "0.10", "SAP": "0.15", "NESN": "0.10", "TOYOTA": "0.10",
               "SPY": "0.10"}
    lines = [services.TargetLine(weight=Decimal(w), isin=ref.instruments[k].isin) for k, w in weights.items()]
    lines += [services.TargetLine(weight=Decimal("0.03"), cash_currency="GBP"),
              services.TargetLine(weight=Decimal("0.02"), cash_currency="USD")]
    return services.model_publish(code="GLOBAL-EQ-GBP", name="Global equity (GBP)", provider="Meridian Demo AM",
                                  base_currency="GBP", effective_from=effective_from, lines=lines)


@transaction.atomic
def accounts_demo(
    *, firm: Firm, owner: Party, actor: User | None = None, number: str = "DEMO-001",
    trade_date: dt.date = dt.date(2026, 11, 20),
) -> AccountsDemo:
    """A GBP account booked offshore in Switzerland, custody at BNY Mellon (US) and Citibank
    London (Europe), funded and invested. The owner's relationship must be active."""
    ref = reference_demo(price_date=trade_date)
    demo = AccountsDemo(ref=ref, custodians=custodians_demo())
    existing = Account.objects.filter(firm=firm, number=number).first()
    if existing is not None:
        demo.account = existing
        demo.custody = {c.custodian.bic: c for c in existing.custody_accounts.select_related("custodian")}
        demo.model = model_demo(ref=ref, effective_from=trade_date)
        return demo
    account = services.account_open(
        firm=firm, owner=owner, number=number, name=f"{owner.display_name} global", base_currency="GBP",
        booking_centre="offshore", booking_jurisdiction="CH", investor_type="professional", actor=actor,
    )
    us = services.custody_account_add(account=account, custodian=demo.custodians["IRVTUS3N"], number=f"{number}-US",
                                      markets=["XNYS", "XNAS", "OTCM"], actor=actor)
    eu = services.custody_account_add(account=account, custodian=demo.custodians["CITIGB2L"], number=f"{number}-EU",
                                      markets=["XLON", "XETR", "XSWX"], actor=actor)
    account = services.account_activate(account=account, actor=actor)
    start = trade_date - dt.timedelta(days=7)
    services.cash_deposit(account=account, custody_account=eu, currency="GBP", amount=Decimal(500000),
                          value_date=start, actor=actor, external_ref="demo-dep-gbp")
    services.cash_deposit(account=account, custody_account=us, currency="USD", amount=Decimal(400000),
                          value_date=start, actor=actor, external_ref="demo-dep-usd")
    services.trade_book(account=account, custody_account=us, listing=ref.listings["AAPL"], side="buy",
                        quantity=Decimal(300), price=Decimal("265.10"), trade_date=start, actor=actor,
                        commission=Decimal(5), external_ref="demo-aapl-1")
    services.trade_book(account=account, custody_account=eu, listing=ref.listings["VOD.L"], side="buy",
                        quantity=Decimal(50000), price=Decimal("90.12"), trade_date=start, actor=actor,
                        commission=Decimal(10), taxes=Decimal("225.30"), external_ref="demo-vod-1")
    services.trade_book(account=account, custody_account=us, listing=ref.listings["VOD_ADR"], side="buy",
                        quantity=Decimal(1000), price=Decimal("11.40"), trade_date=start, actor=actor,
                        external_ref="demo-vodadr-1")
    demo.model = model_demo(ref=ref, effective_from=trade_date)
    services.model_subscribe(account=account, model=demo.model, start_date=trade_date, actor=actor)
    demo.account = account
    demo.custody = {"IRVTUS3N": us, "CITIGB2L": eu}
    return demo


def after_approval(ctx) -> None:
    """`seed_demo` calls this once the demo cases are approved: open, fund and invest an account
    for the approved UK client (and a second one at another firm), so the portal has books."""
    from onboarding.models import Relationship

    for key, firm_key, number in (("alice", "thames", "TWP-0001"), ("bob", "hudson", "HUD-0001")):
        party = ctx.parties.get(key)
        firm = ctx.firms.get(firm_key)
        if party is None or firm is None:
            continue
        if not Relationship.objects.filter(firm=firm, party=party, state="active").exists():
            continue
        demo = accounts_demo(firm=firm, owner=party, actor=ctx.users.get(f"{firm_key}_operations"), number=number)
        ctx.extra.setdefault("accounts", []).append(demo.account.pk)
