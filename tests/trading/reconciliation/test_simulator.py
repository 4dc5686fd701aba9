"""The custodian simulator writes, from what settled in the ledger, the statements a custodian
would send; our reconciliation reads them back with zero breaks, then with exactly the injected
differences. Figures are worked out by hand from the booked trades (see conftest.sim_ledger):

    BNY (IRVTUS3N), SIM-1-US: USD 100,000 deposited; 100 AAPL bought at USD 250 (settled);
        10 AAPL bought at USD 260 on the statement day (settles T+1): settled 100, trade date 110.
        Close USD 271.49; GBP/USD 1.3080 (1 GBP = 1.3080 USD).
        Market value 100 x 271.49 = USD 27,149.00 = GBP 27,149 / 1.308 = GBP 20,756.12.
        Cash settled: 100,000 - 25,000 = USD 75,000.00 (trade date: 72,400.00).
    Citi London (CITIGB2L), SIM-1-EU: GBP 50,000 deposited; 1,000 VOD at 92p = GBP 920.00,
        so GBP cash 49,080.00; USD 10,000 face of the demo bond at 98.5 % = USD 9,850.00, so
        USD cash -9,850.00. Bond close 98.75 % of par: USD 9,875.00 = GBP 9,875 / 1.308 = 7,549.69.

XML is checked with lxml paths of the ISO schema, SWIFT text line by line: never with our parsers.
"""
from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from lxml import etree

from trading.reconciliation import services, simulator
from trading.reconciliation.models import Break

from .conftest import SIM_DAY

pytestmark = pytest.mark.django_db
SEMT = {"s": "urn:iso:std:iso:20022:tech:xsd:semt.002.001.11"}
CAMT = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.12"}


def _files(ledger, code, fmt, inject=()):
    snap = simulator.collect(ledger.custodians[code], SIM_DAY)
    simulator.inject(snap, list(inject))
    return simulator.statement_files(snap, fmt), snap


def test_semt002_from_the_ledger_in_the_schema_shape(sim_ledger):
    (files, _snap) = _files(sim_ledger, "CITIGB2L", "semt002")
    [(name, data)] = files
    root = etree.fromstring(data)
    assert etree.QName(root).localname == "Document"
    rpt = root.find("s:SctiesBalCtdyRpt", SEMT)
    assert rpt.findtext("s:StmtGnlDtls/s:StmtDtTm/s:Dt", namespaces=SEMT) == "2026-11-24"
    assert rpt.findtext("s:StmtGnlDtls/s:StmtBsis/s:Cd", namespaces=SEMT) == "SETT"
    assert rpt.findtext("s:SfkpgAcct/s:Id", namespaces=SEMT) == "SIM-1-EU"
    bals = {b.findtext("s:FinInstrmId/s:ISIN", namespaces=SEMT): b for b in rpt.findall("s:BalForAcct", SEMT)}
    vod, bond = bals["GB00BH4HKS39"], bals["XS2000000005"]
    assert vod.findtext("s:AggtBal/s:Qty/s:Qty/s:Qty/s:Unit", namespaces=SEMT) == "1000"
    assert vod.find("s:FXDtls", SEMT) is None  # GBP line in a GBP account
    assert bond.findtext("s:AggtBal/s:Qty/s:Qty/s:Qty/s:FaceAmt", namespaces=SEMT) == "10000"
    assert bond.findtext("s:PricDtls/s:Val/s:Rate", namespaces=SEMT) == "98.75"
    assert bond.findtext("s:FXDtls/s:UnitCcy", namespaces=SEMT) == "GBP"
    assert bond.findtext("s:FXDtls/s:QtdCcy", namespaces=SEMT) == "USD"
    assert Decimal(bond.findtext("s:FXDtls/s:XchgRate", namespaces=SEMT)) == Decimal("1.308")
    assert bond.findtext("s:InstrmCcyAmts/s:HldgVal/s:Amt", namespaces=SEMT) == "9875.00"
    assert bond.findtext("s:AcctBaseCcyAmts/s:HldgVal/s:Amt", namespaces=SEMT) == "7549.69"
    assert rpt.findtext("s:AcctBaseCcyTtlAmts/s:TtlHldgsValOfStmt/s:Amt", namespaces=SEMT) == "8473.29"  # 923.60 + 7549.69


def test_semt002_reads_back_through_the_independent_models(sim_ledger):
    from python_iso20022.semt.semt_002_001_11.models import Semt00200111

    [(_name, data)] = _files(sim_ledger, "IRVTUS3N", "semt002")[0]
    text = data.decode().replace("<Document ", "<Semt00200111 ").replace("</Document>", "</Semt00200111>")
    msg = Semt00200111.from_iso20022_xml(text)
    [bal] = msg.scties_bal_ctdy_rpt.bal_for_acct
    assert bal.aggt_bal.qty.qty.qty.unit == Decimal(100)
    assert bal.pric_dtls[0].val.amt.value == Decimal("271.49")


def test_camt053_balances_and_injected_fee(sim_ledger):
    files, snap = _files(sim_ledger, "CITIGB2L", "camt053", ["fee:25:GBP"])
    root = etree.fromstring(files[0][1])
    stmts = root.findall("c:BkToCstmrStmt/c:Stmt", CAMT)
    by_ccy = {s.findtext("c:Acct/c:Ccy", namespaces=CAMT): s for s in stmts}
    assert set(by_ccy) == {"GBP", "USD"}
    gbp = by_ccy["GBP"]
    bal = {b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=CAMT): b for b in gbp.findall("c:Bal", CAMT)}
    assert bal["OPBD"].findtext("c:Amt", namespaces=CAMT) == "49080.00"
    assert bal["CLBD"].findtext("c:Amt", namespaces=CAMT) == "49055.00"  # 49,080.00 - 25.00 fee
    [fee] = gbp.findall("c:Ntry", CAMT)
    assert (fee.findtext("c:Amt", namespaces=CAMT), fee.findtext("c:CdtDbtInd", namespaces=CAMT)) == ("25.00", "DBIT")
    assert fee.findtext("c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", namespaces=CAMT) == "CHRG"
    usd = {b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=CAMT): b for b in by_ccy["USD"].findall("c:Bal", CAMT)}
    assert (usd["CLBD"].findtext("c:Amt", namespaces=CAMT), usd["CLBD"].findtext("c:CdtDbtInd", namespaces=CAMT)) \
        == ("9850.00", "DBIT")
    assert snap.injected == [{"kind": "fee", "account": "SIM-1-EU", "currency": "GBP", "amount": "-25",
                              "reference": "FEE2026112401"}]


def test_mt535_and_mt940_field_by_field(sim_ledger):
    [(_n, mt535)] = _files(sim_ledger, "CITIGB2L", "mt535")[0]
    lines = mt535.decode().split("\r\n")
    for expected in (":97A::SAFE//SIM-1-EU", ":98A::STAT//20261124", ":22F::STBA//SETT", ":35B:ISIN XS2000000005",
                     ":11A::DENO//USD", ":90A::MRKT//PRCT/98,75", ":93B::AGGR//FAMT/10000,", ":19A::HOLD//USD9875,",
                     ":19A::HOLD//GBP7549,69", ":92B::EXCH//USD/GBP/0,7645259939", ":90B::MRKT//ACTU/GBP0,9236",
                     ":93B::AGGR//UNIT/1000,"):
        assert expected in lines
    [(_n, mt940)] = _files(sim_ledger, "IRVTUS3N", "mt940", ["fee:12.5:USD"])[0]
    lines = mt940.decode().split("\r\n")
    assert ":25:SIM-1-US" in lines and ":60F:C261123USD75000," in lines
    assert ":61:2611241124D12,5NCHGFEE2026112401//2611240001" + "0001" in lines
    assert ":62F:C261124USD74987,5" in lines  # 75,000.00 - 12.50


@pytest.mark.parametrize("code,fmt", [("IRVTUS3N", "semt002"), ("IRVTUS3N", "mt535"), ("CITIGB2L", "semt002"),
                                      ("CITIGB2L", "mt535"), ("IRVTUS3N", "camt053"), ("CITIGB2L", "mt940"),
                                      ("IRVTUS3N", "csv:meridian_positions_csv")])
def test_simulated_statements_reconcile_with_no_breaks(sim_ledger, tmp_path, code, fmt):
    files, _ = _files(sim_ledger, code, fmt)
    for name, data in files:
        path = tmp_path / name
        path.write_bytes(data)
        run = services.reconcile_file(custodian_code=code, path=path, fmt=fmt, as_of=SIM_DAY).run
        assert run.stats["breaks"] == 0, list(Break.objects.filter(explained=False).values())
    # the only difference is the AAPL purchase pending settlement (holdings on settlement basis)
    explained = set(Break.objects.filter(explained=True).values_list("kind", flat=True))
    assert explained <= {"pending_settlement"}


def test_injected_differences_come_back_exactly(sim_ledger, tmp_path):
    files, snap = _files(sim_ledger, "CITIGB2L", "semt002",
                         ["quantity:GB00BH4HKS39:-100", "fx:USD:1.02"])
    path = tmp_path / files[0][0]
    path.write_bytes(files[0][1])
    run = services.reconcile_file(custodian_code="CITIGB2L", path=path, fmt="semt002", as_of=SIM_DAY).run
    assert run.stats["breaks"] == 2
    qty = Break.objects.get(kind="quantity")
    assert (qty.custodian_quantity, qty.book_quantity) == (Decimal(900), Decimal(1000))
    assert qty.amount_local == Decimal("-92.36") and qty.local_currency == "GBP"  # 100 x 0.9236
    assert qty.amount_base == Decimal("92.36") and qty.base_currency == "GBP"
    fx = Break.objects.get(kind="market_value")
    assert fx.cause == "fx rate source"
    # both rates shown: ours 1/1.308, the custodian's 2% higher (1 GBP = 1.308/1.02 USD as written)
    assert fx.book_fx.quantize(Decimal("0.0000001")) == Decimal("0.7645260")
    assert fx.custodian_fx.quantize(Decimal("0.0000001")) == Decimal("0.7798165")
    # 9,875.00 x (0.7798165 - 0.7645260) = GBP 150.99
    assert fx.amount_base == Decimal("150.99")


def test_cash_difference_in_account_currency_and_base(sim_ledger, tmp_path):
    files, _ = _files(sim_ledger, "CITIGB2L", "camt053", ["fee:40:USD"])
    path = tmp_path / files[0][0]
    path.write_bytes(files[0][1])
    run = services.reconcile_file(custodian_code="CITIGB2L", path=path, fmt="camt053", as_of=SIM_DAY).run
    assert run.stats["breaks"] == 1
    brk = Break.objects.get(explained=False)
    assert (brk.kind, brk.identifier, brk.custody_account) == ("cash", "USD", "SIM-1-EU")
    assert (brk.custodian_quantity, brk.book_quantity) == (Decimal("-9890.00"), Decimal("-9850.00"))
    assert (brk.amount_local, brk.local_currency) == (Decimal("-40"), "USD")
    assert (brk.amount_base, brk.base_currency) == (Decimal("30.58"), "GBP")  # 40 / 1.308 = 30.58


def test_command_writes_files_and_lists_injections(sim_ledger, tmp_path, capsys):
    import json

    call_command("custodian_statements", "--as-of", "2026-11-24", "--custodian", "IRVTUS3N", "--format", "semt002",
                 "--inject", "missing", "--output", str(tmp_path / "out"), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["injected"] == [{"kind": "missing", "account": "SIM-1-US", "isin": "US0378331005", "ours": "100"}]
    assert len(out["files"]) == 1 and b"BalForAcct" not in open(out["files"][0], "rb").read()


def test_unknown_difference_is_refused_in_plain_words(sim_ledger):
    snap = simulator.collect(sim_ledger.custodians["IRVTUS3N"], SIM_DAY)
    with pytest.raises(simulator.SimulatorError, match="unknown difference 'rebate'"):
        simulator.inject(snap, ["rebate:5"])


def test_every_line_is_recorded_with_both_figures(sim_ledger, tmp_path):
    from trading.reconciliation.selectors import run_lines

    files, _ = _files(sim_ledger, "CITIGB2L", "semt002", ["price:XS2000000005:1.05"])
    path = tmp_path / files[0][0]
    path.write_bytes(files[0][1])
    run = services.reconcile_file(custodian_code="CITIGB2L", path=path, fmt="semt002", as_of=SIM_DAY).run
    lines = {x.isin: x for x in run_lines(run)}
    assert set(lines) == {"GB00BH4HKS39", "XS2000000005"} and run.stats["lines"] == 2
    vod = lines["GB00BH4HKS39"]
    assert (vod.status, vod.rule, vod.custodian_quantity, vod.book_quantity) == ("matched", "matched by isin",
                                                                                 Decimal(1000), Decimal(1000))
    assert (round(vod.custodian_price, 4), round(vod.book_price, 4), vod.price_currency) == (0.9236, 0.9236, "GBP")
    bond = lines["XS2000000005"]  # 98.75 % x 1.05 = 103.6875 %: beyond the 2 % price-source band
    assert (bond.status, bond.kind, bond.rule) == ("break", "price", "price differs beyond the price-source band")
    assert (round(bond.custodian_price, 6), round(bond.book_price, 6)) == (1.036875, 0.9875)
    assert round(bond.amount_local, 2) == 493.75  # 10,000 face x (1.036875 - 0.9875) USD


def test_a_bonus_issue_credited_but_not_booked_is_explained_by_its_announcement(sim_ledger, tmp_path):
    """Vodafone announces a bonus issue of 1 new share for 10 held, effective on the statement day.
    Citi credits it (1,000 + 100 = 1,100); we have not booked it. Before the announcement is on
    file the 100 shares are a break; once the event is loaded as announced, exactly those 100
    are explained as corporate_action."""
    from trading.reconciliation.management.commands.corporate_actions_load import load_events

    files, _ = _files(sim_ledger, "CITIGB2L", "semt002", ["quantity:GB00BH4HKS39:100"])
    path = tmp_path / files[0][0]
    path.write_bytes(files[0][1])
    run = services.reconcile_file(custodian_code="CITIGB2L", path=path, fmt="semt002", as_of=SIM_DAY).run
    assert Break.objects.get(last_run=run).kind == "quantity"
    assert load_events("isin,effective_date,ratio,status,description,reference\n"
                       "GB00BH4HKS39,2026-11-24,1.1,announced,bonus issue 1 for 10,VOD-BONUS-1\n",
                       source="test") == {"created": 1, "updated": 0}
    path2 = tmp_path / "again.xml"
    path2.write_bytes(files[0][1] + b"\n")
    run = services.reconcile_file(custodian_code="CITIGB2L", path=path2, fmt="semt002", as_of=SIM_DAY).run
    brk = Break.objects.get(last_run=run)
    assert (brk.kind, brk.explained, brk.state) == ("corporate_action", True, "resolved")
    assert (brk.custodian_quantity, brk.book_quantity) == (Decimal(1100), Decimal(1000))  # 1,000 x 1.1
    assert brk.cause == "corporate action announced, entitlement not yet booked"
    assert run.stats["breaks"] == 0


def test_corporate_actions_file_is_validated_whole(db):
    from django.core.management.base import CommandError

    from trading.reconciliation.management.commands.corporate_actions_load import load_events
    from trading.reconciliation.models import BookCorporateAction

    with pytest.raises(CommandError) as err:
        load_events("isin,effective_date,ratio,status,description,reference\n"
                    "XS9999999999,2026-11-24,1.1,announced,x,R1\nXS9999999999,24/11/2026,0,rumoured,x,R2\n",
                    source="test")
    text = str(err.value)
    assert "line 2, field isin: 'XS9999999999' is not in the instrument master" in text
    assert "line 3, field effective_date" in text and "line 3, field ratio" in text and "line 3, field status" in text
    assert not BookCorporateAction.objects.exists()
