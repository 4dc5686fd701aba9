"""semt.002, camt.053 and MT535 built to the standards by the tests, and the custodian
CSV / fixed-width layouts."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from trading.reconciliation.parsers import parse_file
from trading.reconciliation.parsers.base import ParseError
from trading.reconciliation.parsers.checks import check_statements
from trading.reconciliation.parsers.iso20022 import parse_camt053, parse_semt002
from trading.reconciliation.parsers.layouts import available_layouts, load_layout, parse_layout
from trading.reconciliation.parsers.mt535 import parse_mt535

from .builders import camt053, mt535, semt002

APPLE = {"isin": "US0378331005", "cusip": "037833100", "qty": "1000", "price": "185.64", "price_ccy": "USD",
         "fx": "0.92", "base_value": "170788.80", "blocked": "100"}
VOD = {"isin": "GB00BH4HKS39", "sedol": "BH4HKS3", "qty": "2500", "price": "71.52", "price_ccy": "GBX"}


def test_semt002_holdings_with_identifiers_prices_fx_and_sub_balances():
    (st,) = parse_semt002(semt002(holdings=[APPLE, VOD], basis="TRAD"), file="s.xml")
    assert st.as_of == dt.date(2024, 1, 31) and st.basis == "TRAD" and st.account == "SAFE-001"
    apple, vod = st.holdings
    assert (apple.isin, apple.cusip, apple.quantity, apple.price, apple.price_currency) == \
        ("US0378331005", "037833100", Decimal(1000), Decimal("185.64"), "USD")
    assert apple.fx_rate == Decimal("0.92") and apple.base_value == Decimal("170788.80")
    assert apple.sub_balances == (("BLOK", Decimal(100)),)
    assert vod.sedol == "BH4HKS3" and vod.price_currency == "GBX"


def test_semt002_short_position_is_negative():
    (st,) = parse_semt002(semt002(holdings=[{**VOD, "side": "SHOR"}]))
    assert st.holdings[0].quantity == Decimal(-2500)


def test_semt002_missing_quantity_names_element_and_line():
    xml = semt002(holdings=[APPLE]).replace(b"<AggtBal><Qty><Qty><Unit>1000</Unit></Qty></Qty>", b"<AggtBal>")
    with pytest.raises(ParseError) as err:
        parse_semt002(xml, file="bad.xml")
    assert err.value.element.endswith("BalForAcct/AggtBal")
    assert "no Unit" in err.value.reason and err.value.line == 7


def test_semt002_bad_isin_check_digit_is_refused():
    with pytest.raises(ParseError) as err:
        parse_semt002(semt002(holdings=[{**APPLE, "isin": "US0378331006"}]))
    assert err.value.element.endswith("FinInstrmId/ISIN")


def test_semt002_wrong_message_is_refused():
    with pytest.raises(ParseError) as err:
        parse_semt002(camt053())
    assert "is not semt.002" in err.value.reason


def test_camt053_balances_entries_and_consistency():
    (st,) = parse_camt053(camt053(), file="c.xml")
    assert st.account == "DE89370400440532013000" and st.currency == "EUR"
    assert st.opening.amount == Decimal("1000.00") and st.closing.amount == Decimal("1250.00")
    assert [e.amount for e in st.entries] == [Decimal("300.00"), Decimal("-50.00")]
    assert st.entries[0].reference == "E2E1" and st.entries[0].type_code == "PMNT"
    assert check_statements([st]) == []


def test_camt053_pending_entry_is_not_a_movement():
    (st,) = parse_camt053(camt053(entries=(("300.00", "CRDT", "BOOK"), ("50.00", "DBIT", "BOOK"),
                                           ("999.00", "CRDT", "PDNG"))))
    assert st.movements == Decimal("250.00") and check_statements([st]) == []


def test_camt053_inconsistent_statement_is_flagged():
    (st,) = parse_camt053(camt053(closing="1200.00"))
    (issue,) = check_statements([st])
    assert issue.kind == "consistency" and issue.expected == Decimal("1250.00")


def test_camt053_entry_in_other_currency_is_refused():
    with pytest.raises(ParseError) as err:
        parse_camt053(camt053(entry_ccy="USD"), file="c.xml")
    assert "Ntry[1]/Amt" in err.value.element and "USD" in err.value.reason


def test_camt053_unreadable_xml_names_the_line():
    with pytest.raises(ParseError) as err:
        parse_camt053(b"<Document>\n<Stmt>\n</Document>", file="c.xml")
    assert err.value.line == 3 and "well-formed" in err.value.reason


def test_mt535_holdings():
    (st,) = parse_mt535(mt535(holdings=[{**APPLE, "value": "185640,", "price": "185,64", "fx": "0,92",
                                         "qty": "1000,", "blocked": "100,"}]), file="h.535")
    assert st.account == "SAFE-001" and st.as_of == dt.date(2024, 1, 31) and st.basis == "SETT"
    (h,) = st.holdings
    assert (h.isin, h.cusip, h.quantity, h.price, h.price_currency, h.mic) == \
        ("US0378331005", "037833100", Decimal(1000), Decimal("185.64"), "USD", "XNAS")
    assert h.market_value == Decimal(185640) and h.base_value == Decimal("170788.80")
    assert h.sub_balances == (("BLOK", Decimal(100)),)


def test_mt535_unclosed_block_is_refused():
    text = mt535(holdings=[{**APPLE, "qty": "1000,", "price": "185,64", "blocked": "100,", "fx": "0,92"}]).replace(
        ":16S:FIN\r\n", "")
    with pytest.raises(ParseError) as err:
        parse_mt535(text, file="h.535")
    assert ":16S:SUBSAFE closes a block that is not open" in err.value.reason


def test_mt535_quantity_without_comma_is_refused_with_line():
    text = mt535(holdings=[{**APPLE, "qty": "1000", "price": "185,64", "blocked": "100,"}])
    with pytest.raises(ParseError) as err:
        parse_mt535(text, file="h.535")
    assert err.value.line == 22 and "decimal comma" in err.value.reason


# ------------------------------------------------------------------ layouts

SCHWAB = (
    "H20240131SCHW01\n"
    + "D" + "12345678" + "037833100" + "AAPL    " + "000000001000000" + "0000185640000" + "USD" + "000000018564000\n"
    + "D" + "12345678" + "594918104" + "MSFT    " + "00000000050000-" + "0000397580000" + "USD" + "00000001987900-\n"
    + "C" + "12345678" + "USD" + "000000001234567\n"
    + "T000000003\n"
)


def test_three_custodian_styles_are_layout_files():
    assert {"schwab_fixed", "pershing_csv", "euro_semicolon"} <= set(available_layouts())
    for code in available_layouts():
        spec = load_layout(code)
        assert spec["source"] and spec["effective_from"]


def test_fixed_width_layout_with_implied_decimals_and_trailing_minus():
    result = parse_layout(SCHWAB, "schwab_fixed", file="schwab.txt")
    assert result.as_of == dt.date(2024, 1, 31)
    apple, msft = result.holdings
    assert apple.cusip == "037833100" and apple.quantity == Decimal("100.0000")
    assert apple.price == Decimal("185.640000") and apple.market_value == Decimal("185640.00")
    assert msft.quantity == Decimal("-5.0000")
    assert result.cash[0].amount == Decimal("12345.67") and result.cash[0].currency == "USD"


def test_fixed_width_trailer_count_mismatch_is_refused():
    with pytest.raises(ParseError) as err:
        parse_layout(SCHWAB.replace("T000000003", "T000000004"), "schwab_fixed", file="schwab.txt")
    assert err.value.line == 5 and err.value.field == "record_count"


def test_fixed_width_truncated_file_is_refused():
    with pytest.raises(ParseError) as err:
        parse_layout(SCHWAB.rsplit("T", 1)[0], "schwab_fixed", file="schwab.txt")
    assert "trailer" in err.value.reason


PERSHING = (
    'HDR,01/31/2024,SD\n'
    'POS,ACC-1,037833100,US0378331005,AAPL,"APPLE INC",1000,185.64,USD,"185,640.00"\n'
    'POS,ACC-1,594918104,,MSFT,"MICROSOFT",(50),397.58,USD,"(19,879.00)"\n'
    'CSH,ACC-1,USD,"(1,250.50)"\n'
    'TRL,3,950\n'
)


def test_pershing_record_types_thousands_and_parentheses():
    result = parse_layout(PERSHING, "pershing_csv", file="pershing.csv")
    assert result.as_of == dt.date(2024, 1, 31) and result.basis == "SETT"
    apple, msft = result.holdings
    assert apple.market_value == Decimal("185640.00") and apple.description == "APPLE INC"
    assert msft.quantity == Decimal(-50) and msft.market_value == Decimal("-19879.00")
    assert result.cash[0].amount == Decimal("-1250.50")


def test_pershing_trailer_total_mismatch_is_refused():
    with pytest.raises(ParseError) as err:
        parse_layout(PERSHING.replace("TRL,3,950", "TRL,3,1000"), "pershing_csv", file="p.csv")
    assert err.value.field == "quantity_total" and err.value.line == 5


def test_pershing_unknown_record_type_is_refused():
    with pytest.raises(ParseError) as err:
        parse_layout(PERSHING.replace("CSH,", "XXX,"), "pershing_csv", file="p.csv")
    assert err.value.line == 4 and err.value.field == "record_type"


EURO = (
    "Depot;ISIN;WKN;Bezeichnung;Bestand;S/H;Kurs;Waehrung;Kurswert;Devisenkurs;Datum\n"
    "DEP-77;DE0007164600;716460;SAP SE;1.250,5;H;181,62;EUR;227.116,81;1;31.01.2024\n"
    "DEP-77;de0005557508;555750;DT TELEKOM;300;S;22,31;EUR;6.693,00;1;31.01.2024\n"
)


def test_european_semicolon_decimal_comma_and_sign_column():
    result = parse_file(EURO.encode(), "csv:euro_semicolon", file="depot.csv")
    sap, dtag = result.holdings
    assert sap.quantity == Decimal("1250.5") and sap.price == Decimal("181.62")
    assert sap.market_value == Decimal("227116.81") and sap.custodian_code == "716460"
    assert dtag.quantity == Decimal(-300) and dtag.isin == "DE0005557508"
    assert result.as_of == dt.date(2024, 1, 31)


def test_european_point_as_decimal_is_refused_with_line_and_field():
    with pytest.raises(ParseError) as err:
        parse_file(EURO.replace("22,31", "22.31").encode(), "csv:euro_semicolon", file="depot.csv")
    assert err.value.line == 3 and err.value.field == "price"


def test_european_wrong_header_is_refused():
    with pytest.raises(ParseError) as err:
        parse_file(EURO.replace("Kurswert", "Wert").encode(), "csv:euro_semicolon", file="depot.csv")
    assert err.value.line == 1
