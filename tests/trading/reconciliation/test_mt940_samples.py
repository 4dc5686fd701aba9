"""Every MT940 sample in ../shared/data/mt940 is read in place, and for each one the test
states the decision: parsed (with what the statement checks say about it), or refused with
the line and the reason."""
from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from trading.reconciliation.parsers.base import Balance, ParseError
from trading.reconciliation.parsers.checks import check_statements
from trading.reconciliation.parsers.mt940 import parse_field, parse_mt940, parse_mt950
from trading.reconciliation.parsers.swift import split_messages

# file -> (statements, consistency/continuity issues as (kind, statement label))
PARSED = {
    "ASNB/0708271685_09022020_164516.940.txt": (31, []),  # SWIFT envelope {1:}{2:}{4: ... -}{5:}
    "betterplace/sepa_mt9401.sta": (26, []),               # funds code letter in :61: ("CR300,")
    "betterplace/sepa_snippet.sta": (2, [("consistency", "00004/00001")]),
    "betterplace/with_binary_character.sta": (2, []),      # UTF-8 letters in :20: and :86:
    "cmxl/mt940.sta": (3, []),                             # :28: old style, DEM, trailing blanks
    "jejik/abnamro.sta": (2, [("consistency", "19321/1"), ("consistency", "19322/1"),
                              ("continuity", "19322/1")]),  # file header lines, blank line in a statement
    "jejik/generic.sta": (2, []),                          # no '-' after the last statement
    "jejik/ing.sta": (1, [("consistency", "000")]),        # message-level :86: after :62F:, '-XXX'
    "jejik/postfinance.sta": (2, [("consistency", "999/2")]),  # :62M:/:60M: intermediate balances
    "jejik/rabobank-iban.sta": (2, []),                    # ':940:' header, no '-' between statements
    "jejik/rabobank.sta": (4, [("consistency", "00000/00"), ("consistency", "00000/00"),
                               ("continuity", "00000/00"), ("continuity", "00000/00")]),  # several :86:
    "jejik/sns.sta": (2, []),
    "jejik/triodos.sta": (1, [("consistency", "1")]),
    # Knab writes whole amounts in :61: without the decimal comma ("C500NTRF"): read as whole units
    # 3058,98 - 7260, + 500 = -3701,02, but :62F: says 798,98
    "jejik/knab.sta": (2, [("consistency", "999/1"), ("continuity", "999/1")]),  # 998 closed at 500,
}

# file -> (line, field, words of the reason)
REFUSED = {
    "betterplace/sepa_snippet_broken.sta": (6, ":25:", "out of order"),
    # Fragments holding single fields, not statements: refused as statements, read as fields below.
    "betterplace/amount_formats.sta": (1, ":60F:", "must begin with :20:"),
    "betterplace/currency_in_25.sta": (1, ":25:", "must begin with :20:"),
    "betterplace/empty_86.sta": (1, ":86:", "must begin with :20:"),
    "betterplace/empty_entry_date.sta": (1, ":61:", "must begin with :20:"),
    "betterplace/missing_crlf_at_end.sta": (1, ":62F:", "must begin with :20:"),
    "betterplace/empty_line.sta": (2, ":25:", "without :25:"),
    "cmxl/account_balance_credit.sta": (1, ":60F:", "must begin with :20:"),
    "cmxl/account_balance_debit.sta": (1, ":60F:", "must begin with :20:"),
    "cmxl/account_identification_iban.sta": (1, ":25:", "must begin with :20:"),
    "cmxl/account_identification_legacy.sta": (1, ":25:", "must begin with :20:"),
    "cmxl/available_balance.sta": (1, ":64:", "must begin with :20:"),
    "cmxl/closing_balance.sta": (1, ":62F:", "must begin with :20:"),
    "cmxl/reference.sta": (1, ":25:", "without :25:"),
    "cmxl/statement_details.sta": (1, ":61:", "must begin with :20:"),
    "cmxl/statement_line.sta": (1, ":61:", "must begin with :20:"),
    "cmxl/statement_number.sta": (1, ":28C:", "must begin with :20:"),
}


def _samples(shared_data: Path) -> set[str]:
    root = shared_data / "mt940"
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p.name != "LICENSE"}


def test_every_sample_file_has_a_decision(shared_data):
    assert _samples(shared_data) == set(PARSED) | set(REFUSED)


@pytest.mark.parametrize("name", sorted(PARSED))
def test_sample_is_parsed_and_checked(shared_data, name):
    count, issues = PARSED[name]
    data = (shared_data / "mt940" / name).read_bytes()
    statements = parse_mt940(data, file=name)
    assert len(statements) == count
    for statement in statements:
        assert statement.account and len(statement.currency) == 3
        assert statement.opening.currency == statement.closing.currency == statement.currency
    found = [(i.kind, i.statement) for i in check_statements(statements)]
    assert found == issues


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_sample_is_refused_with_line_and_reason(shared_data, name):
    line, fld, words = REFUSED[name]
    data = (shared_data / "mt940" / name).read_bytes()
    with pytest.raises(ParseError) as err:
        parse_mt940(data, file=name)
    assert err.value.line == line
    assert err.value.field == fld
    assert words in err.value.reason
    assert name in str(err.value) and f"line {line}" in str(err.value)


def test_fragments_are_read_field_by_field(shared_data):
    root = shared_data / "mt940"

    def only_field(name):
        (msg,) = split_messages((root / name).read_text())
        return msg.fields

    amounts = [parse_field("60F", f.value).amount for f in only_field("betterplace/amount_formats.sta")]
    assert amounts == [Decimal("380115.12"), Decimal("380115.1"), Decimal(380115), Decimal("0.12"),
                       Decimal("0.12"), Decimal("1.12")]
    (credit,) = only_field("cmxl/account_balance_credit.sta")
    (debit,) = only_field("cmxl/account_balance_debit.sta")
    assert parse_field("60F", credit.value).amount == Decimal("147.64")
    assert parse_field("60F", debit.value).amount == Decimal("-147.64")
    assert parse_field("25", only_field("betterplace/currency_in_25.sta")[0].value) == ("51210600/9223382012", "EUR")
    assert parse_field("25", only_field("cmxl/account_identification_legacy.sta")[0].value) == ("70011110/4005287001",
                                                                                              "EUR")
    assert parse_field("25", only_field("cmxl/account_identification_iban.sta")[0].value)[0].startswith("PL25")
    assert parse_field("28C", only_field("cmxl/statement_number.sta")[0].value) == ("00035", "001")
    (line61,) = only_field("betterplace/empty_entry_date.sta")
    entry = parse_field("61", line61.value)
    assert entry.entry_date is None and entry.amount == Decimal("50.00") and entry.type_code == "NZ10"
    details = parse_field("61", only_field("cmxl/statement_details.sta")[0].value)
    assert details.amount == Decimal("-1.62") and details.bank_reference == "025498557/000001"
    closing = parse_field("62F", only_field("betterplace/missing_crlf_at_end.sta")[0].value)
    assert isinstance(closing, Balance) and closing.amount == Decimal("42570.04")


def test_reversal_of_a_credit_is_a_debit_and_funds_code_is_skipped(shared_data):
    statements = parse_mt940((shared_data / "mt940/betterplace/sepa_mt9401.sta").read_bytes())
    reversal = [e for e in statements[0].entries if e.reversal]
    assert reversal[0].amount == Decimal("-204.88")
    assert statements[0].entries[0].amount == Decimal(300)


def test_asnb_statements_chain_without_gaps(shared_data):
    statements = parse_mt940((shared_data / "mt940/ASNB/0708271685_09022020_164516.940.txt").read_bytes())
    assert [s.statement_number for s in statements[:3]] == ["1", "2", "3"]
    assert statements[0].entries[0].amount == Decimal("-65.00")
    assert statements[-1].closing.amount == statements[-1].opening.amount + statements[-1].movements


def test_utf8_reference_is_kept(shared_data):
    statements = parse_mt940((shared_data / "mt940/betterplace/with_binary_character.sta").read_bytes())
    assert statements[0].reference == "STAR1ÜTßUMS"


def test_mt950_refuses_information_to_account_owner(shared_data):
    data = (shared_data / "mt940/jejik/generic.sta").read_bytes()
    with pytest.raises(ParseError) as err:
        parse_mt950(data, file="generic.sta")
    assert err.value.line == 6 and "MT950" in err.value.reason


def test_mt950_without_86_parses():
    text = ":20:REF1\n:25:DE89370400440532013000\n:28C:1/1\n:60F:C240102EUR100,00\n" \
           ":61:2401020102D30,00NTRFNONREF\n:62F:C240102EUR70,00\n-\n"
    (st,) = parse_mt950(text)
    assert st.closing.amount == Decimal("70.00") and st.movements == Decimal("-30.00")


def test_continuity_uses_the_previous_files_closing():
    text = ":20:REF1\n:25:ACC\n:28C:2/1\n:60F:C240102EUR100,00\n:62F:C240102EUR100,00\n-\n"
    statements = parse_mt940(text)
    issues = check_statements(statements, previous_closing={("ACC", "EUR"): Decimal("90.00")})
    assert [(i.kind, i.expected, i.actual) for i in issues] == [("continuity", Decimal("90.00"), Decimal("100.00"))]


def test_impossible_date_is_refused_with_line():
    text = ":20:REF1\n:25:ACC\n:28C:2/1\n:60F:C240231EUR100,00\n:62F:C240102EUR100,00\n-\n"
    with pytest.raises(ParseError) as err:
        parse_mt940(text, file="x.sta")
    assert err.value.line == 4 and "does not exist" in err.value.reason


# ------------------------------------------------------------------ property: render, parse, same statement

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

amounts = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("9999999.99"), places=2)


def _swift(amount: Decimal) -> str:
    return f"{abs(amount):.2f}".replace(".", ",")


@settings(max_examples=60, deadline=None)
@given(opening=st.decimals(min_value=Decimal("-99999.99"), max_value=Decimal("99999.99"), places=2),
       entries=st.lists(st.tuples(st.booleans(), amounts, st.text(alphabet="ABCDEFGHIJ0123456789 ", max_size=30)),
                        max_size=8),
       day=st.dates(min_value=__import__("datetime").date(2000, 1, 1),
                    max_value=__import__("datetime").date(2079, 12, 30)))
def test_any_rendered_statement_parses_back_and_is_consistent(opening, entries, day):
    closing = opening + sum((a if credit else -a for credit, a, _ in entries), Decimal(0))
    lines = [":20:REF", ":25:DE89370400440532013000", ":28C:1/1",
             f":60F:{'C' if opening >= 0 else 'D'}{day:%y%m%d}EUR{_swift(opening)}"]
    for credit, amount, text in entries:
        lines.append(f":61:{day:%y%m%d}{day:%m%d}{'C' if credit else 'D'}{_swift(amount)}NTRFNONREF")
        lines.append(f":86:{text}")
    lines += [f":62F:{'C' if closing >= 0 else 'D'}{day:%y%m%d}EUR{_swift(closing)}", "-"]
    (st_,) = parse_mt940("\r\n".join(lines) + "\r\n")
    assert st_.opening.amount == opening and st_.closing.amount == closing
    assert [e.amount for e in st_.entries] == [a if c else -a for c, a, _ in entries]
    assert [e.details for e in st_.entries] == [t.strip() for _, _, t in entries]
    assert check_statements([st_]) == []


def test_knab_whole_amounts_without_decimal_comma(shared_data):
    """By eye: statement 998 opens at 0, and closes at 500, (one credit 'C500,'); statement 999
    opens at 3058,98, debits 7260, and credits 500 written 'C500' with no comma."""
    first, second = parse_mt940((shared_data / "mt940" / "jejik/knab.sta").read_bytes(), file="knab.sta")
    assert (first.opening.amount, first.closing.amount) == (Decimal("0"), Decimal("500"))
    assert [e.amount for e in first.entries] == [Decimal("500")]
    assert (second.opening.amount, second.closing.amount) == (Decimal("3058.98"), Decimal("798.98"))
    assert [e.amount for e in second.entries] == [Decimal("-7260"), Decimal("500")]
