"""Every file in ../shared/data/custodian-samples (public samples: see its README) has a decision
asserted here: parsed, with figures read from the file by eye (balances, entry counts, and by-hand
sums where the statement does not add up), or refused with the line/element and the reason.
A file added to the folder without a decision here fails the inventory test."""
from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

import pytest

from trading.reconciliation.parsers import parse_file
from trading.reconciliation.parsers.base import ParseError
from trading.reconciliation.parsers.checks import check_statements

# file -> (format, statements, entries in all, first statement (account, ccy, opening, closing),
#          last closing, statements whose opening + booked entries != closing (by label))
CASH = {
    "camt.053/Beneficial-Strategies-Iso20022Library/camt.053.001.11_sample.xml": (
        # 905,500.00 + 47,250.00 (CRDT) - 47,250.00 (DBIT) = 905,500.00, but CLBD says 952,750.00
        "camt053", 1, 2, ("DE89370400440532013000", "EUR", D("905500.00"), D("952750.00")), D("952750.00"),
        ["DEUTDEFF-ACME-STMT-20240315-001"]),
    "camt.053/ballerina-iso20022-to-swiftmt/CBPR+ c.105.1.1 camt.053-BtoA.xml": (
        # SWIFT envelope + AppHdr; OPBD DBIT 10, entries DBIT 2,450 and DBIT 10: -10 - 2,460 = -2,470 (CLBD DBIT)
        "camt053", 1, 2, ("48751258", "GBP", D("-10"), D("-2470")), D("-2470"), []),
    "camt.053/genkgo-camt/camt053.v2.five.decimals.xml": (
        # 18.150 + 8.850 = 27.000, the file says 27.050
        "camt053", 1, 1, ("NL26VAYB8060476890", "EUR", D("18.150"), D("27.050")), D("27.050"), ["12312/12312"]),
    "camt.053/moov-io-iso20022/FI_camt_053_sample.xml.xml": (
        "camt053", 1, 10, ("FI7433010001222090", "EUR", D("10000.00"), D("23644.83")), D("23644.83"), []),
    "camt.053/moov-io-iso20022/camt.053_P_CH2909000000250094239_1110092698_0_2020112503071366.xml": (
        # 211,993.19 + 4.50 - 77.70 + 1,500.00 + 1,537.00 + 1,692.22 = 216,649.21 (the FWAV figure), CLBD 215,112.21
        "camt053", 1, 5, ("CH2909000000250094239", "CHF", D("211993.19"), D("215112.21")), D("215112.21"), ["118"]),
    "camt.053/moov-io-iso20022/statement_1.xml": (
        # only OPAV/CLAV: 2,768.08 - 1.64 - 2,734.58 - 30.16 - 1.70 = 0.00
        "camt053", 1, 4, ("LT007180000000000000", "EUR", D("2768.08"), D("0.00")), D("0.00"), []),
    "camt.053/prowide-iso20022/camt.053.001.07.xml": (
        # wrapped in <message>; OPAV 234,234 and ITBD 234,299 with no entries
        "camt053", 1, 0, ("2345234534", "USD", D("234234"), D("234299")), D("234299"), ["SDFSDF"]),
    "camt.053/svapnil-iso20022.js/abn_amro_example_camt.xml": (
        "camt053", 1, 13, ("NL77ABNA0574908765", "EUR", D("1000.01"), D("100.01")), D("100.01"), []),
    "camt.053/svapnil-iso20022.js/goldman_sachs_camt_053_uk_v2_1.xml": (
        # 2nd statement: 334,425,218.07 - 100 - 100 + 100 - 100 + 100 - 100 = 334,424,918.07, CLBD 334,425,126.42
        "camt053", 2, 6, ("60000635", "GBP", D("68206.51"), D("68206.51")), D("334425126.42"), ["496374/496374"]),
    "camt.053/svapnil-iso20022.js/nordea_example_camt.xml": (
        "camt053", 1, 6, ("FI8529501800030574", "EUR", D("200.50"), D("8800.50")), D("8800.50"), []),
    "camt.053/viafintech-camt_parser/valid_example.xml": (
        "camt053", 1, 4, ("DE14740618130000033626", "EUR", D("33.06"), D("23.06")), D("23.06"), []),
    "camt.053/viafintech-camt_parser/valid_example_v4.xml": (
        "camt053", 1, 13, ("CH0309000000250090342", "CHF", D("322152.16"), D("322689.77")), D("322689.77"), []),
    "camt.053/viafintech-camt_parser/valid_example_v8.xml": (
        # the EUR 20.97 entry is read as its CHF 19.69 (AmtDtls/InstdAmt);
        # 82,721.95 + 474.40 + 88.85 - 19.69 = 83,265.51, CLBD 84,515.25
        "camt053", 1, 3, ("CH1111111111111111111", "CHF", D("82721.95"), D("84515.25")), D("84515.25"), ["122"]),
    "camt.053/viafintech-camt_parser/valid_example_with_datetime.xml": (
        # only CLBD: the opening is derived, 606.80 - 195.86 = 410.94
        "camt053", 1, 1, ("11111111", "USD", D("410.94"), D("606.80")), D("606.80"), []),
    "mt940/fruitl00p-php-mt940/Bunq_sample": (
        "mt940", 1, 111, ("NL10BUNQ2290325473", "EUR", D("32.33"), D("5.66")), D("5.66"), []),
    "mt940/fruitl00p-php-mt940/Hsbc_sample": (
        # README: both balances 0,00 although the entry debits 20000,00
        "mt940", 1, 1, ("808XXXXXX292", "HKD", D("0.00"), D("0.00")), D("0.00"), ["00001/00001"]),
    "mt940/fruitl00p-php-mt940/Kbs_sample": (
        "mt940", 1, 3, ("300000002778989", "MKD", D("35122"), D("36992")), D("36992"), []),
    "mt940/fruitl00p-php-mt940/Kontist_sample": (
        "mt940", 1, 6, ("DE85110101002482488293", "EUR", D("0.15"), D("395.91")), D("395.91"), []),
    "mt940/fruitl00p-php-mt940/Zetb_sample": (
        # ':28C: /1' (no statement number) and 'CN' mark + funds code with no type code before '//'
        "mt940", 1, 8, ("1014365930", "NGN", D("6213.05"), D("2469.14")), D("2469.14"), []),
    "mt940/svenstaro-mt940-rs/MT940_DK_Example.sta": (
        # preamble, 14 statements without '-', one split over two pages, :86: before the first :61:
        "mt940", 15, 89, ("DABADKKK/1234567890", "DKK", D("2478926.70"), D("1654095.16")), D("3851379.47"), []),
    "mt940/svenstaro-mt940-rs/MT940_FI_Example.sta": (
        "mt940", 1, 6, ("DABADKKK/111111-11111111", "EUR", D("54484.04"), D("53126.94")), D("53126.94"), []),
    "mt940/wolph-mt940/citi_mt940.txt": (
        # entry date written as four spaces, 'DD'/'CD' mark + funds code
        "mt940", 1, 5, ("123456789", "USD", D("17376.67"), D("16233.92")), D("16233.92"), []),
    "mt950/GoPlasmatic-SwiftMTMessage/mt950_test.txt": (
        "mt950", 1, 3, ("USD12345678901234", "USD", D("15000.00"), D("16250.00")), D("16250.00"), []),
}

NOT_A_STATEMENT = "is not a holdings or balance statement"
# file -> (format, line, element or field, words of the reason)
REFUSED = {
    "camt.053/genkgo-camt/camt053.v3.xml": (
        # a synthetic fixture whose CLBD is in SEK, OPAV in CHF and CLAV in JPY on an EUR account
        "camt053", 80, "Document/BkToCstmrStmt/Stmt/Bal[2]/Amt", "balance currency SEK differs from the account's EUR"),
    "camt.052/Beneficial-Strategies-Iso20022Library/camt.052.001.08_multi_report_sample.xml": (
        "camt053", 33, "Document", NOT_A_STATEMENT),
    "camt.052/ballerina-iso20022-to-swiftmt/CBPR+ c.52.1.c camt.052-CtoD.xml": ("camt053", 40, "Document", NOT_A_STATEMENT),
    "camt.052/moov-io-iso20022/200519_camt.052_P_CH2909000000250094239_1110092686_0_2019042416072347.xml": (
        "camt053", 2, "Document", NOT_A_STATEMENT),
    "camt.052/phoughton-pyiso20022/camt052_001_02.xml": ("camt053", 2, "Document", NOT_A_STATEMENT),
    "camt.052/viafintech-camt_parser/valid_example.xml": ("camt053", 2, "Document", NOT_A_STATEMENT),
    "camt.054/Beneficial-Strategies-Iso20022Library/camt.054.001.11_sample.xml": (
        "camt053", 18, "Document", NOT_A_STATEMENT),
    "camt.054/genkgo-camt/camt054.v8.xml": ("camt053", 2, "Document", NOT_A_STATEMENT),
    "camt.054/moov-io-iso20022/200519_camt054-ESR-ASR_P_CH2909000000250094239_1110092704_0_2019042500372179.xml": (
        "camt053", 2, "Document", NOT_A_STATEMENT),
    "camt.054/moov-io-iso20022/FI_camt_054_sample.xml.xml": ("camt053", 1, "Document", NOT_A_STATEMENT),
    "mt537/prowide-core-examples/MT537_large.fin": ("mt535", 2, "{2:}", "MT537 (statement of pending transactions) "
                                                    + NOT_A_STATEMENT),
    "csv/dickwolff-Export-To-Ghostfolio/ibkr-trades-export.csv": ("csv:ibkr_flex_trades_csv", 1, "",
                                                                  "not a holdings or balance statement"),
    "csv/dickwolff-Export-To-Ghostfolio/schwab-export.csv": ("csv:schwab_transactions_csv", 1, "",
                                                             "not a holdings or balance statement"),
    "csv/dickwolff-Export-To-Ghostfolio/rabobank-export.csv": ("csv:rabobank_transactions_csv", 1, "",
                                                               "not a holdings or balance statement"),
}

HOLDINGS = {"csv/vroonhof-opensteuerauszug/degiro_fr_Portfolio.csv", "csv/vroonhof-opensteuerauszug/fidelity_Statement12312025.csv"}


def _root(shared_data: Path) -> Path:
    return shared_data / "custodian-samples"


def test_every_sample_has_a_decision(shared_data):
    root = _root(shared_data)
    files = {str(p.relative_to(root)) for p in root.rglob("*")
             if p.is_file() and p.name not in {"LICENSE", "SOURCE.md", "README.md"}}
    assert files == set(CASH) | set(REFUSED) | HOLDINGS
    assert len(files) == 39  # the README's total


@pytest.mark.parametrize("name", sorted(CASH))
def test_statement_parses_with_its_figures(shared_data, name):
    fmt, n, entries, (account, ccy, opening, closing), last_closing, inconsistent = CASH[name]
    parsed = parse_file((_root(shared_data) / name).read_bytes(), fmt, file=Path(name).name)
    statements = parsed.cash_statements
    assert len(statements) == n
    assert sum(len(s.entries) for s in statements) == entries
    first = statements[0]
    assert (first.account, first.currency, first.opening.amount, first.closing.amount) == (account, ccy, opening,
                                                                                          closing)
    assert statements[-1].closing.amount == last_closing
    issues = [i for i in check_statements(statements, {}) if i.kind == "consistency"]
    assert [i.statement for i in issues] == inconsistent


@pytest.mark.parametrize("name", sorted(CASH))
def test_real_entries_pair_with_an_identical_ledger_and_a_missing_one_is_named(shared_data, name):
    """The cash-break causes on files we did not write: a ledger holding exactly the statement's
    booked entries pairs every one (no cause, repeated amounts and empty references included); take
    one entry out of the ledger and the cause names that entry, and only it, as not in our books."""
    from trading.reconciliation.matching import cash_entry_causes
    from trading.reconciliation.services import statement_txns

    fmt = CASH[name][0]
    parsed = parse_file((_root(shared_data) / name).read_bytes(), fmt, file=Path(name).name)
    for txns in statement_txns(parsed).values():
        ours = [replace(t, id=f"o{t.id}") for t in txns]
        assert cash_entry_causes(txns, ours) == ""
        if len(txns) < 2:
            continue
        gone = txns[len(txns) // 2]
        left = [o for o in ours if o.id != f"o{gone.id}"]
        cause = cash_entry_causes(txns, left, limit=10_000)
        # a same-amount twin may take its place, but exactly one entry of that amount is left unpaired
        assert cause.count("not in our books") == 1 and f" {gone.amount:,.2f} not in our books" in cause, cause
        assert "booked at" not in cause and "not on the statement" not in cause


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_sample_is_refused_with_where_and_why(shared_data, name):
    fmt, line, where, words = REFUSED[name]
    with pytest.raises(ParseError) as err:
        parse_file((_root(shared_data) / name).read_bytes(), fmt, file=Path(name).name)
    assert err.value.line == line
    assert where in (err.value.element or err.value.field)
    assert words in err.value.reason


def test_degiro_portfolio_through_a_layout_written_as_data(shared_data):
    parsed = parse_file((_root(shared_data) / "csv/vroonhof-opensteuerauszug/degiro_fr_Portfolio.csv").read_bytes(),
                        "csv:degiro_portfolio_csv", file="Portfolio.csv")
    assert len(parsed.holdings) == 21
    amazon = parsed.holdings[0]
    assert (amazon.isin, amazon.quantity, amazon.price, amazon.price_currency) == ("US0231351067", D(65), D("313.00"),
                                                                                  "USD")
    assert (amazon.market_value, amazon.base_value, amazon.base_currency) == (D("20345.00"), D("16128.25"), "CHF")
    assert amazon.market_value == amazon.quantity * amazon.price  # 65 x 313.00, from the file
    [cash] = parsed.cash
    assert (cash.currency, cash.amount) == ("CHF", D("960.35"))
    ubs = parsed.holdings[-1]
    assert (ubs.isin, ubs.quantity, ubs.price, ubs.price_currency) == ("CH0032912732", D(20), D("146.88"), "EUR")


def test_fidelity_statement_through_a_layout_written_as_data(shared_data):
    parsed = parse_file((_root(shared_data) / "csv/vroonhof-opensteuerauszug/fidelity_Statement12312025.csv")
                        .read_bytes(), "csv:fidelity_statement_csv", file="Statement12312025.csv")
    rows = [(h.account, h.custodian_code, h.quantity, h.price, h.market_value) for h in parsed.holdings]
    assert rows == [("U12349876", "VT", D("200.8724"), D("141.06000"), D("28335.06")),
                    ("U12349876", "QPIFQ", D("0.61000"), D("1.00000"), D("0.61")),
                    ("U12349876", "QPIQQ", D("0.10000"), D("1.00000"), D("0.10"))]
    # the file's own subtotal rows: stocks 28,335.06; core account 0.61 + 0.10 = 0.71
    assert parsed.holdings[1].market_value + parsed.holdings[2].market_value == D("0.71")
