"""A hand-checked day at three custodians (and a Tokyo line at a fourth), loaded only through the interfaces a user has:
our books through `book_import`, the custodians' files from the simulator (with named
differences injected), reconciled by `reconcile_file`. Every figure below is worked by hand.

One GBP account "T-1" of a Swiss-resident client:
- Citibank London (CITIGB2L), MT535 + MT940: 1,000 Vodafone (GBp line), 20 SAP (EUR) and USD 10,000 face of a
  bond quoted in % of par, GBP cash 48,500.00.
- BNY Mellon (IRVTUS3N), semt.002 + camt.053: 100 Apple, 10 SPY and 200 Vodafone ADRs (USD), USD cash 12,000.50.
- Acme Brokerage, a US broker with no BIC (code ACME_BROKERAGE), a positions CSV: 20 Apple settled,
  and a buy of 5 Apple traded on the statement date that settles on Monday.
- Citibank London also holds 2,000 HSBC Holdings; BNY 300 Toyota ADRs (50 sold on the 20th); HSBC Hong Kong
  (HSBCHKHH), MT535: 500 Toyota and a buy of 200 on the 20th, JPY cash 1,000,000.

Prices (the demo closes of Friday 20 Nov 2026): Apple USD 271.49, SPY USD 668.73, Vodafone 92.36 GBp
= GBP 0.9236, SAP EUR 204.35. Our FX: 1 GBP = 1.3080 USD, 1 EUR = 1.1520 USD, so
1 USD = 1 / 1.308 = 0.764525993884 GBP and 1 EUR = 1.152 / 1.308 = 0.880733944954 GBP.

Injected differences and the breaks they must give:
1. Citi MT940: an unbooked fee of GBP 1,500: closing 48,500 - 1,500 = 47,000.00 against our settled
   48,500.00: a cash break of -1,500.00 GBP (= -1,500.00 in base, GBP).
2. Citi MT535: Vodafone quantity -10: 990 against 1,000; at stake 10 x 0.9236 x 1 = GBP 9.236 -> 9.24.
3. Citi MT535: the EUR rate x 1.02: 0.880733944954 x 1.02 = 0.8983486239 (10 places); same price, so a
   market-value break with the FX rate as cause: 20 x 204.35 = EUR 4,087.00;
   4,087 x (0.8983486239 - 0.880733944954) = 4,087 x 0.017614678946 = GBP 71.99.
4. BNY semt.002: Apple price x 1.05: 271.49 x 1.05 = 285.0645; a price break:
   100 x (285.0645 - 271.49) = USD 1,357.45; 1,357.45 / 1.308 = GBP 1,037.806 -> 1,037.81.
5. BNY semt.002: SPY left out: missing at custodian, 10 x 668.73 = USD 6,687.30; / 1.308 = GBP 5,112.61.
6. Acme CSV: 20 Apple settled against our 25 on trade date, the 5 pending: explained (pending settlement).
BNY's USD cash (camt.053 closing 12,000.50) agrees: a matched line, no break. So do the bond (10,000 face at
98.75 % of par: the custodian's 90A::MRKT//PRCT/98,75 is 0.9875 per unit of face, our price 98.75 / 100, market
value USD 9,875.00) and the ADR (200 ADRs, never turned into Vodafone ordinaries: no line for VOD at BNY).

Three more, each worked by hand:
7. A bonus issue credited by Citi, not booked by us. We hold 2,000 HSBC Holdings (XLON, 1,106.4 GBp = GBP 11.064).
   An announced event, loaded by `corporate_actions_load`: 1 new share for 10 held (ratio 1.1) effective 20 Nov.
   Citi's MT535 shows 2,000 x 1.1 = 2,200, 200 more than our 2,000; the entitlement is 2,000 x 0.1 = 200, exactly
   the difference: explained as corporate_action (not an open break). At stake: 200 x 11.064 = GBP 2,212.80.
8. A T+2 market over a local holiday. We bought 200 Toyota (XTKS, JPY 3,255) on Friday 20 Nov at HSBC Hong Kong,
   with the settlement date left to the market: T+2 on Tokyo's calendar skips Saturday 21 and Sunday 22, and
   Monday 23 November, Labour Thanksgiving Day (a Japanese public holiday), so T+1 = Tue 24 and T+2 = Wed 25 Nov.
   HSBC's MT535 of Tuesday 24 Nov (settlement basis) shows 500 Toyota; our trade-date books say 500 + 200 = 700.
   The 200 still pending (settling on the 25th) explain the -200 exactly: pending_settlement. A count that
   skipped weekends only would have settled it on Tue 24 (Mon 23 = T+1, Tue 24 = T+2) and left a break of 200.
9. A sale settled at another price. We sold 50 Toyota ADRs (TM, XNYS) at BNY on Friday 20 Nov at USD 207.15,
   settling T+1 on Monday 23 Nov. On the 20th BNY's semt.002 (settled) shows 300, our trade-date books 250: the
   -50 pending explain it. On Monday BNY's camt.053 credits the sale at USD 206.25 a share:
   ours 50 x 207.15 = 10,357.50, theirs 50 x 206.25 = 10,312.50. Our settled USD cash is
   12,000.50 + 10,357.50 = 22,358.00, BNY's closing booked balance 12,000.50 + 10,312.50 = 22,313.00:
   a cash break of 22,313.00 - 22,358.00 = -45.00 USD, open (someone must claim it or correct the booking),
   in base 45.00 / 1.308 = GBP 34.4037 -> 34.40; nothing else moved, so nothing explains it.
"""
from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from accounts.models import Movement
from onboarding.models import Relationship
from tests.factories import FirmFactory, PersonFactory, tax_documented
from trading.reconciliation import services
from trading.reconciliation.models import BookPendingTrade, Break, ReconLine
from trading.reference.models import Instrument

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 11, 20)
VOD, SAP, AAPL, SPY = "GB00BH4HKS39", "DE0007164600", "US0378331005", "US78462F1030"
BOOKS = """record,custodian,custody_account,isin,quantity,cost,acquisition_date,currency,amount,side,price,trade_date,reference
position,CITIGB2L,T-1-EU,GB00BH4HKS39,1000,880.00,2024-05-02,GBP,,,,
position,CITIGB2L,T-1-EU,DE0007164600,20,3900.00,2025-02-11,EUR,,,,
position,CITIGB2L,T-1-EU,XS2000000005,10000,9850.00,2024-08-01,USD,,,,
cash,CITIGB2L,T-1-EU,,,,,GBP,48500.00,,,
position,IRVTUS3N,T-1-US,US0378331005,100,21000.00,2023-09-15,USD,,,,
position,IRVTUS3N,T-1-US,US78462F1030,10,5900.00,2025-07-01,USD,,,,
position,IRVTUS3N,T-1-US,US92857W3088,200,2150.00,2025-03-03,USD,,,,
cash,IRVTUS3N,T-1-US,,,,,USD,12000.50,,,
position,ACME_BROKERAGE,T-1-BRK,US0378331005,20,4800.00,2024-11-29,USD,,,,
cash,ACME_BROKERAGE,T-1-BRK,,,,,USD,5000.00,,,
pending,ACME_BROKERAGE,T-1-BRK,US0378331005,5,,,,,buy,271.49,2026-11-20
position,CITIGB2L,T-1-EU,GB0005405286,2000,21500.00,2024-06-03,GBP,,,,
position,IRVTUS3N,T-1-US,US8923313071,300,58000.00,2025-01-15,USD,,,,
pending,IRVTUS3N,T-1-US,US8923313071,50,,,,,sell,207.15,2026-11-20,SALE-TM-1
position,HSBCHKHH,T-1-HK,JP3633400001,500,1500000,2024-04-01,JPY,,,,
cash,HSBCHKHH,T-1-HK,,,,,JPY,1000000,,,
pending,HSBCHKHH,T-1-HK,JP3633400001,200,,,,,buy,3255,2026-11-20,BUY-7203-1
"""
HSBA, TM, TOYOTA = "GB0005405286", "US8923313071", "JP3633400001"
EVENTS = """isin,effective_date,ratio,status,description,reference
GB0005405286,2026-11-20,1.1,announced,bonus issue 1 new for 10 held,CA-HSBA-BONUS-2026
"""


@pytest.fixture
def day(settings, tmp_path):
    from accounts import services as accounts_services
    from accounts.demo import custodians_demo
    from tests.accounts.conftest import make_account
    from trading.reference.demo import reference_demo

    settings.MEDIA_ROOT = tmp_path / "media"
    reference_demo()
    custodians = custodians_demo()
    acme = accounts_services.custodian_create(name="Acme Brokerage", bic="", country="US", markets=["XNYS", "XNAS"])
    assert (acme.code, acme.bic) == ("ACME_BROKERAGE", None)
    firm = FirmFactory(home_jurisdiction="CH")
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    account, _custody = make_account(firm, owner, custodians, number="T-1")
    accounts_services.custody_account_add(account=account, custodian=acme, number="T-1-BRK", markets=["XNYS", "XNAS"])
    books = tmp_path / "books.csv"
    books.write_text(BOOKS)
    out = io.StringIO()
    call_command("book_import", str(books), "--as-of", str(DAY), "--json", stdout=out)
    done = json.loads(out.getvalue())
    assert {k: done[k] for k in ("positions", "lots", "cash", "pending", "custody_accounts")} == {
        "positions": 10, "lots": 10, "cash": 4, "pending": 3, "custody_accounts": 4}
    events = tmp_path / "events.csv"
    events.write_text(EVENTS)
    call_command("corporate_actions_load", str(events), stdout=io.StringIO())
    return {"citi": custodians["CITIGB2L"], "bny": custodians["IRVTUS3N"], "acme": acme,
            "hsbc": custodians["HSBCHKHH"]}


def _files(custodian, fmt, inject, tmp_path, day=DAY):
    """The custodian's files for `day`, written by the custodian simulator's command."""
    out = io.StringIO()
    call_command("custodian_statements", "--as-of", str(day), "--custodian", custodian.code, "--format", fmt,
                 "--output", str(tmp_path / f"{custodian.code}-{day}-{fmt.replace(':', '_')}"), "--json",
                 *[f"--inject={spec}" for spec in inject], stdout=out)
    written = json.loads(out.getvalue())
    assert len(written["injected"]) >= len(inject)
    return [Path(p) for p in written["files"]]


def _run(code, fmt, paths, day=DAY):
    return [services.reconcile_file(custodian_code=code, path=p, fmt=fmt, as_of=day, engine="numpy").run
            for p in paths]


def test_three_custodians_line_for_line(day, tmp_path):
    _run("CITIGB2L", "mt535", _files(day["citi"], "mt535", [f"quantity:{VOD}:-10", "fx:EUR:1.02",
                                                                  f"bonus:{HSBA}:1.1"], tmp_path))
    _run("CITIGB2L", "mt940", _files(day["citi"], "mt940", ["fee:1500:GBP"], tmp_path))
    _run("IRVTUS3N", "semt002", _files(day["bny"], "semt002", [f"price:{AAPL}:1.05", f"missing:{SPY}"], tmp_path))
    bny_cash = _run("IRVTUS3N", "camt053", _files(day["bny"], "camt053", [], tmp_path))
    acme = _run("ACME_BROKERAGE", "csv:meridian_positions_csv",
                _files(day["acme"], "csv:meridian_positions_csv", [], tmp_path))

    open_breaks = {(b.custodian_code, b.asset, b.identifier): b for b in Break.objects.filter(explained=False)}
    assert set(open_breaks) == {("CITIGB2L", "position", VOD), ("CITIGB2L", "position", SAP),
                                ("CITIGB2L", "cash", "GBP"), ("IRVTUS3N", "position", AAPL),
                                ("IRVTUS3N", "position", SPY)}

    fee = open_breaks[("CITIGB2L", "cash", "GBP")]                                     # 1
    assert (fee.kind, fee.amount_local, fee.local_currency) == ("cash", Decimal("-1500.00000000"), "GBP")
    assert (abs(fee.amount_base), fee.base_currency) == (Decimal("1500.00"), "GBP")
    # the MT940's :61: entry with the simulator's reference FEE + date + 01, which nothing of ours pairs
    assert fee.cause == "custodian entry FEE2026112001 -1,500.00 not in our books"

    vod = open_breaks[("CITIGB2L", "position", VOD)]                                   # 2
    assert (vod.kind, vod.custodian_quantity, vod.book_quantity) == ("quantity", Decimal(990), Decimal(1000))
    assert vod.amount_base == Decimal("9.24")

    sap = open_breaks[("CITIGB2L", "position", SAP)]                                   # 3
    assert (sap.kind, sap.cause) == ("market_value", "fx rate source")
    assert sap.custodian_fx == Decimal("0.898348623900")
    assert abs(sap.book_fx - Decimal("1.152") / Decimal("1.308")) < Decimal("1e-9")
    assert sap.amount_base == Decimal("71.99")
    assert (sap.custodian_price_source, sap.custodian_fx_source) == ("EXCH/XETR", "")  # MT535 :94B:, no FX source

    apple = open_breaks[("IRVTUS3N", "position", AAPL)]                                # 4
    assert (apple.kind, apple.custodian_price, apple.book_price) == ("price", Decimal("285.06450000"),
                                                                     Decimal("271.49000000"))
    assert apple.amount_base == Decimal("1037.81") and apple.amount_local == Decimal("1357.45000000")
    assert (apple.custodian_price_source, apple.custodian_fx_source) == ("XNAS", "IRVTUS3N")  # SrcOfPric, QtgInstn

    spy = open_breaks[("IRVTUS3N", "position", SPY)]                                   # 5
    assert (spy.kind, spy.custodian_quantity, spy.book_quantity) == ("missing_at_custodian", Decimal(0), Decimal(10))
    assert spy.amount_base == Decimal("5112.61")

    pending = Break.objects.get(custodian_code="ACME_BROKERAGE")                       # 6
    assert (pending.kind, pending.explained, pending.state) == ("pending_settlement", True, "resolved")
    assert (pending.custodian_quantity, pending.book_quantity) == (Decimal(20), Decimal(25))
    assert acme[0].stats["breaks"] == 0 and acme[0].stats["explained"] == 1

    cash_line = ReconLine.objects.get(run=bny_cash[0], asset="cash")                    # BNY cash agrees
    assert (cash_line.status, cash_line.identifier, cash_line.amount_base) == ("matched", "USD", 0.0)
    assert Break.objects.filter(custodian_code="IRVTUS3N", asset="cash").count() == 0
    bond = ReconLine.objects.get(run__custodian_code="CITIGB2L", asset="position",
                                 instrument_id=Instrument.objects.get(isin="XS2000000005").pk)
    assert (bond.status, bond.custodian_quantity, bond.book_quantity) == ("matched", Decimal(10000), Decimal(10000))
    assert bond.custodian_price == pytest.approx(0.9875) and bond.book_price == pytest.approx(0.9875)
    adr = ReconLine.objects.get(run__custodian_code="IRVTUS3N", asset="position",
                                instrument_id=Instrument.objects.get(isin="US92857W3088").pk)
    assert (adr.status, adr.custodian_quantity, adr.book_quantity) == ("matched", Decimal(200), Decimal(200))
    assert not ReconLine.objects.filter(run__custodian_code="IRVTUS3N",
                                        instrument_id=Instrument.objects.get(isin=VOD).pk).exists()
    # the custodian's sources are on every line the file gave them for
    line = ReconLine.objects.get(asset="position", identifier="", instrument_id=apple.instrument_id,
                                 run__custodian_code="IRVTUS3N")
    assert (line.custodian_price_source, line.custodian_fx_source) == ("XNAS", "IRVTUS3N")

    bonus = Break.objects.get(custodian_code="CITIGB2L", identifier=HSBA)              # 7
    assert (bonus.kind, bonus.explained, bonus.state) == ("corporate_action", True, "resolved")
    assert (bonus.custodian_quantity, bonus.book_quantity) == (Decimal(2200), Decimal(2000))
    assert bonus.cause == "corporate action announced, entitlement not yet booked"
    assert bonus.amount_base == Decimal("2212.80")
    tm_pending = Break.objects.get(custodian_code="IRVTUS3N", identifier=TM)           # 9, on the 20th
    assert (tm_pending.kind, tm_pending.explained) == ("pending_settlement", True)
    assert (tm_pending.custodian_quantity, tm_pending.book_quantity) == (Decimal(300), Decimal(250))


def test_tokyo_t_plus_2_over_labour_thanksgiving_day(day, tmp_path):
    """8: the buy of the 20th settles on Wednesday 25 November, so HSBC's settled 500 on Tuesday 24th is
    explained by it, not a break."""
    toyota = Instrument.objects.get(isin=TOYOTA)
    settle = Movement.objects.filter(instrument=toyota, transaction__external_ref__endswith="BUY-7203-1").values_list(
        "settle_date", flat=True)
    assert set(settle) == {dt.date(2026, 11, 25)}                                      # Fri 20 + 2 sessions, not Mon 23
    tuesday = dt.date(2026, 11, 24)
    run = _run("HSBCHKHH", "mt535", _files(day["hsbc"], "mt535", [], tmp_path, day=tuesday), day=tuesday)[0]
    assert BookPendingTrade.objects.filter(custodian_code="HSBCHKHH", instrument_id=toyota.pk).values_list(
        "quantity", "trade_date", "settle_date").get() == (Decimal(200), DAY, dt.date(2026, 11, 25))
    line = ReconLine.objects.get(run=run, asset="position", instrument_id=toyota.pk)
    assert (line.status, line.kind, line.custodian_quantity, line.book_quantity) == (
        "explained", "pending_settlement", Decimal(500), Decimal(700))
    assert run.stats["breaks"] == 0 and run.stats["explained"] == 1
    assert not Break.objects.filter(custodian_code="HSBCHKHH", explained=False).exists()


def test_sale_settled_at_another_price_is_a_cash_break(day, tmp_path):
    """9: BNY's camt.053 of Monday 23 November credits the TM sale at 206.25 instead of our 207.15."""
    monday = dt.date(2026, 11, 23)
    run = _run("IRVTUS3N", "camt053", _files(day["bny"], "camt053", ["settled:SALE-TM-1:10312.50"], tmp_path,
                                             day=monday), day=monday)[0]
    line = ReconLine.objects.get(run=run, asset="cash", identifier="USD")
    assert (line.custodian_quantity, line.book_quantity) == (Decimal("22313.00"), Decimal("22358.00"))
    cash = Break.objects.get(custodian_code="IRVTUS3N", asset="cash")
    assert (cash.kind, cash.explained, cash.state) == ("cash", False, "open")
    assert (cash.amount_local, cash.local_currency) == (Decimal("-45.00000000"), "USD")
    assert (cash.amount_base, cash.base_currency) == (Decimal("34.40"), "GBP")
    # the one entry of the day on each side: the sale's proceeds, 10,312.50 - 10,357.50 = -45.00
    assert cash.cause == "SALE-TM-1 settled at 10,312.50, booked at 10,357.50 (-45.00)"
    assert line.rule == cash.cause and line.status == "break"
