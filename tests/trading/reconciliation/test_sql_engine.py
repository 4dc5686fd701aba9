"""The PostgreSQL engine (COPY + one classifying statement + set-wise break writes) gives the
same answer as the numpy engine, refuses bad files with line and field, and carries breaks."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.conftest import requires_postgres
from tests.factories import UserFactory
from trading.reconciliation import services
from trading.reconciliation.exceptions import FileRefused
from trading.reconciliation.models import BookCorporateAction, Break, CustodianFile, ReconLine, ReconRun

from .factories import BookPositionFactory, IdentifierFactory, PendingTradeFactory

pytestmark = [pytest.mark.django_db, requires_postgres, pytest.mark.postgres]
AS_OF = dt.date(2024, 1, 31)
HEADER = "account,isin,cusip,sedol,ticker,mic,quantity,price,price_currency,fx_rate\n"


@pytest.fixture
def books(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    ids = [("US0378331005", "037833100", "2046251", "AAPL"), ("US5949181045", "594918104", "2588173", "MSFT"),
           ("GB0009895292", "G0593M107", "0989529", "AZN"), ("US7960508882", "796050888", "B0XYZ12", "SMSN"),
           ("US88160R1014", "88160R101", "B616C79", "TSLA"), ("NL0010273215", "N07059210", "B929F46", "ASML")]
    for n, (isin, cusip, sedol, ticker) in enumerate(ids, start=1):
        IdentifierFactory(kind="isin", value=isin, instrument_id=n)
        IdentifierFactory(kind="cusip", value=cusip, instrument_id=n)
        IdentifierFactory(kind="sedol", value=sedol, instrument_id=n)
        IdentifierFactory(kind="ticker_mic", value=f"{ticker}@XNAS", instrument_id=n)
    IdentifierFactory(kind="isin", value="KR7005930003", instrument_id=4, quantity_factor=Decimal("0.04"))  # ords
    common = {"custodian_code": "CUST"}
    BookPositionFactory(custody_account="A1", instrument_id=1, quantity=100, price=Decimal("185.64"), **common)
    BookPositionFactory(custody_account="A1", instrument_id=2, quantity=50, price=Decimal("397.58"), **common)
    BookPositionFactory(custody_account="A1", instrument_id=3, quantity=1000, price=Decimal("71.52"),
                        price_currency="GBP", fx_rate=Decimal("1.27"), **common)
    BookPositionFactory(custody_account="A1", instrument_id=4, quantity=10, price=Decimal(1250), **common)
    BookPositionFactory(custody_account="A2", instrument_id=1, quantity=10, price=Decimal("185.64"), **common)
    BookPositionFactory(custody_account="A2", instrument_id=2, quantity=20, price=Decimal("397.58"), **common)
    BookPositionFactory(custody_account="A2", instrument_id=5, quantity=30, price=Decimal(200), **common)
    BookPositionFactory(custody_account="A2", instrument_id=6, quantity=40, price=Decimal(600),
                        price_currency="EUR", fx_rate=Decimal("1.08"), **common)
    BookPositionFactory(custody_account="A3", instrument_id=1, quantity=5, price=Decimal("185.64"), **common)
    PendingTradeFactory(custodian_code="CUST", custody_account="A2", instrument_id=2, quantity=Decimal(5))
    BookCorporateAction.objects.create(instrument_id=5, effective_date=AS_OF, ratio=Decimal(3))


FILE_ROWS = [
    "A1,US0378331005,,,,,100,185.64,USD,1",        # clean by ISIN
    "A1,,594918104,,,,50,397.58,USD,1",            # clean by CUSIP
    "A1,,,0989529,,,1000,7152,GBX,1.27",           # clean by SEDOL, pence
    "A1,KR7005930003,,,,,250,50,USD,1",            # 250 ordinaries = 10 ADRs
    "A2,,,,AAPL,XNAS,11,185.64,USD,1",             # quantity (ticker + MIC)
    "A2,US5949181045,,,,,15,397.58,USD,1",         # pending 5 explains
    "A2,US88160R1014,,,,,90,66.6667,USD,1",        # 3:1 split at the custodian only
    "A2,NL0010273215,,,,,40,600,EUR,1.10",         # fx source
    "A3,US5949181045,,,,,7,397.58,USD,1",          # missing in books
    "A3,XS0000000000,,,,,1,100,USD,1",             # unknown instrument
    # A3 / instrument 1 absent: missing at custodian
]


def write(tmp_path, name, rows, header=HEADER):
    path = tmp_path / name
    path.write_text(header + "\n".join(rows) + "\n")
    return path


def found(run):
    return sorted(((b.custody_account, b.instrument_id, b.identifier, b.kind, b.explained)
                   for b in Break.objects.filter(last_run=run)), key=lambda r: (r[0], r[1] or 0, r[2], r[3]))




def test_sql_and_numpy_engines_agree(books, tmp_path):
    sql_run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "a.csv", FILE_ROWS),
                                      fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql").run
    assert sql_run.engine == "sql"
    sql_found = found(sql_run)
    Break.objects.all().delete()
    numpy_run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "b.csv", FILE_ROWS + [""]),
                                        fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="numpy").run
    assert numpy_run.engine == "numpy"
    assert sql_found == found(numpy_run)
    assert sql_found == [
        ("A2", 1, "US0378331005", "quantity", False),  # breaks name the ISIN, not only our id
        ("A2", 2, "US5949181045", "pending_settlement", True),
        ("A2", 5, "US88160R1014", "corporate_action", False),
        ("A2", 6, "NL0010273215", "market_value", False),
        ("A3", None, "XS0000000000", "unknown_instrument", False),
        ("A3", 1, "US0378331005", "missing_at_custodian", False),
        ("A3", 2, "US5949181045", "missing_in_books", False),
    ]
    for key in ("clean", "compared", "breaks", "explained"):
        assert sql_run.stats[key] == numpy_run.stats[key], key


def test_sql_engine_aggregates_a_key_given_twice(books, tmp_path):
    rows = FILE_ROWS + ["A1,,037833100,,,,0,185.64,USD,1"]  # second line for A1/AAPL (by CUSIP), zero
    run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d.csv", rows),
                                  fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql").run
    assert ("A1", 1) not in {(b.custody_account, b.instrument_id) for b in Break.objects.filter(last_run=run)}
    rows = FILE_ROWS + ["A1,,037833100,,,,2,185.64,USD,1"]
    run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "e.csv", rows),
                                  fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql").run
    brk = Break.objects.get(last_run=run, custody_account="A1", instrument_id=1)
    assert brk.kind == "quantity" and brk.custodian_quantity == Decimal(102)


def test_a_weaker_identifier_resolves_a_line_whose_strongest_is_unknown(books, tmp_path):
    """Fixture map (hand-read): ISIN XS0000000000 is nobody's; CUSIP 594918104 is MSFT (2), ticker
    AAPL@XNAS is Apple (1), SEDOL 0989529 is AZN (3). Each line resolves by the strongest of its
    identifiers that maps, and says so in its rule."""
    rows = ["A1,XS0000000000,594918104,,,,50,397.58,USD,1",   # ISIN unknown, CUSIP: MSFT, A1 holds 50
            "A2,XS0000000000,,,AAPL,XNAS,10,185.64,USD,1",     # ISIN unknown, ticker: Apple, A2 holds 10
            "A1,,000000000,0989529,MSFT,XNAS,1000,7152,GBX,1.27",  # CUSIP unknown, SEDOL (AZN) before ticker
            "A3,US0378331005,000000000,,,,5,185.64,USD,1"]     # ISIN: Apple, the unknown CUSIP is not looked at
    run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "w.csv", rows),
                                  fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql").run
    got = {(x.custody_account, x.instrument_id): (x.status, x.rule)
           for x in ReconLine.objects.filter(run=run, custodian_quantity__gt=0)}
    assert got == {("A1", 2): ("matched", "matched by cusip"), ("A2", 1): ("matched", "matched by ticker_mic"),
                   ("A1", 3): ("matched", "matched by sedol"), ("A3", 1): ("matched", "matched by isin")}


def test_sql_engine_refuses_a_bad_number_naming_line_and_field(books, tmp_path):
    rows = list(FILE_ROWS)
    rows[2] = "A1,,,0989529,,,1O00,7152,GBX,1.27"
    with pytest.raises(FileRefused) as err:
        services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "bad.csv", rows),
                                fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql")
    assert err.value.detail["line"] == 4 and err.value.detail["field"] == "quantity"
    assert not CustodianFile.objects.exists() and not ReconRun.objects.exists() and not Break.objects.exists()


def test_sql_engine_refuses_a_wrong_header_or_a_short_row(books, tmp_path):
    with pytest.raises(FileRefused):
        services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "h.csv", FILE_ROWS,
                                                                  header=HEADER.replace("price,", "px,")),
                                fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql")
    rows = list(FILE_ROWS)
    rows[4] = "A2,,,,AAPL,XNAS,11"
    with pytest.raises(FileRefused) as err:
        services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "s.csv", rows),
                                fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql")
    assert err.value.detail["line"] == 6
    assert not CustodianFile.objects.exists()


def test_sql_engine_carries_breaks_across_days_and_audits(books, tmp_path):
    from onboarding.models import AuditEvent

    ops = UserFactory(role="operations")
    services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d1.csv", FILE_ROWS),
                            fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql")
    brk = Break.objects.get(custody_account="A2", instrument_id=1)
    services.break_assign(brk=brk, owner=ops, actor=ops)
    assert AuditEvent.objects.filter(subject_id=str(brk.pk), event_type="break.opened").exists()
    # the next day by the numpy engine: same key, same row
    day2 = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d2.csv", FILE_ROWS + [""]),
                                   fmt="csv:meridian_positions_csv", as_of=AS_OF + dt.timedelta(days=1),
                                   engine="numpy").run
    brk.refresh_from_db()
    assert brk.occurrences == 2 and brk.owner == ops and brk.state == "assigned" and brk.last_run == day2
    # fixed on day 3 (sql): cleared, audited
    rows = [r for r in FILE_ROWS if not r.startswith("A2,,,,AAPL")] + ["A2,,,,AAPL,XNAS,10,185.64,USD,1"]
    services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "d3.csv", rows),
                            fmt="csv:meridian_positions_csv", as_of=AS_OF + dt.timedelta(days=2), engine="sql")
    brk.refresh_from_db()
    assert brk.state == "resolved" and brk.resolution_reason.startswith("cleared")
    assert AuditEvent.objects.filter(subject_id=str(brk.pk), event_type="break.cleared").exists()
    assert brk.priority == 4 and brk.due_at is not None


def test_sql_engine_sums_the_same_unknown_identifier_given_twice(books, tmp_path):
    rows = FILE_ROWS + ["A3,XS0000000000,,,,,2,100,USD,1"]
    run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "u.csv", rows),
                                  fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql").run
    unknown = Break.objects.get(last_run=run, kind="unknown_instrument")
    assert unknown.custodian_quantity == Decimal("3") and unknown.identifier == "XS0000000000"
    Break.objects.all().delete()
    run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "v.csv", rows + [""]),
                                  fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="numpy").run
    assert Break.objects.get(last_run=run, kind="unknown_instrument").custodian_quantity == Decimal("3")


def test_sql_engine_breaks_carry_the_firm_of_their_custody_account(books, tmp_path):
    from onboarding.models import AuditEvent
    from tests.factories import FirmFactory
    from trading.reconciliation.models import BookCustodyAccount

    firm = FirmFactory()
    BookCustodyAccount.objects.create(custodian_code="CUST", custody_account="A2", firm=firm)
    run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, "f.csv", FILE_ROWS),
                                  fmt="csv:meridian_positions_csv", as_of=AS_OF, engine="sql").run
    a2 = Break.objects.filter(last_run=run, custody_account="A2")
    assert a2.count() == 4 and set(a2.values_list("firm_id", flat=True)) == {firm.pk}
    assert set(Break.objects.filter(last_run=run, custody_account="A3").values_list("firm_id", flat=True)) == {None}
    brk = a2.get(kind="quantity")
    assert AuditEvent.objects.get(subject_id=str(brk.pk), event_type="break.opened").firm_id == firm.pk


# ---------------------------------------------------------------- property: both engines, same lines

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

IDENTS = [("US0378331005", "", "", "", ""), ("", "594918104", "", "", ""), ("", "", "0989529", "", ""),
          ("", "", "", "AAPL", "XNAS"), ("KR7005930003", "", "", "", ""), ("US88160R1014", "", "", "", ""),
          ("NL0010273215", "", "", "", ""), ("XS0000000000", "", "", "", ""), ("US5949181045", "", "", "", ""),
          # several identifiers on a line: the strongest that maps to an instrument wins
          ("XS0000000000", "594918104", "", "", ""), ("US0378331005", "000000000", "", "", ""),
          ("XS0000000000", "", "", "AAPL", "XNAS"), ("", "000000000", "0989529", "MSFT", "XNAS")]
ROW = st.tuples(st.sampled_from(["A1", "A2", "A3", "A4"]), st.sampled_from(IDENTS),
                st.one_of(st.just(""), st.integers(min_value=-50, max_value=2000).map(str)),
                st.sampled_from(["185.64", "397.58", "7152", "600", "1250", "", "190"]),
                st.sampled_from(["USD", "GBX", "EUR", ""]), st.sampled_from(["1", "1.27", "1.10", ""]))


def _line(row) -> str:
    account, (isin, cusip, sedol, ticker, mic), qty, price, ccy, fx = row
    return ",".join([account, isin, cusip, sedol, ticker, mic, qty, price, ccy, fx])


def _outcome(tmp_path, name, rows, engine):
    try:
        run = services.reconcile_file(custodian_code="CUST", path=write(tmp_path, name, rows),
                                      fmt="csv:meridian_positions_csv", as_of=AS_OF, engine=engine).run
    except FileRefused as exc:
        return ("refused", exc.detail["line"], exc.detail["field"], exc.detail["reason"])
    lines = sorted((b.custody_account, b.instrument_id or 0, b.identifier, b.kind, b.explained,
                    b.custodian_quantity, b.book_quantity, b.amount_base, b.amount_local)
                   for b in Break.objects.filter(last_run=run))
    # every line compared, matched ones too, with both figures and the rule
    recorded = sorted((x.custody_account, x.instrument_id or 0, x.identifier, x.status, x.kind, x.rule,
                       x.custodian_quantity, x.book_quantity, x.price_currency,
                       None if x.custodian_price is None else round(x.custodian_price, 6),
                       None if x.book_price is None else round(x.book_price, 6),
                       round(x.amount_base or 0, 6), round(x.amount_local or 0, 6), x.line)
                      for x in ReconLine.objects.filter(run=run))
    return ("run", lines, recorded,
            {k: run.stats[k] for k in ("clean", "compared", "breaks", "explained", "lines")})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(ROW, min_size=1, max_size=12))
def test_both_engines_give_identical_lines_on_generated_files(books, tmp_path, rows):
    """Generated files (empty required quantities included): the SQL engine and the Python
    parser + numpy engine refuse the same line and field for the same reason, or write the same
    lines with the same figures."""
    lines = [_line(r) for r in rows]
    results = []
    for engine in ("sql", "numpy"):
        Break.objects.all().delete()
        ReconRun.objects.all().delete()
        ReconLine.objects.all().delete()
        CustodianFile.objects.all().delete()
        results.append(_outcome(tmp_path, f"{engine}.csv", lines, engine))
    assert results[0] == results[1]


def test_an_empty_required_quantity_is_refused_by_both_engines(books, tmp_path):
    rows = list(FILE_ROWS)
    rows[1] = "A1,,594918104,,,,,397.58,USD,1"
    for engine in ("sql", "numpy"):
        with pytest.raises(FileRefused) as err:
            services.reconcile_file(custodian_code="CUST", path=write(tmp_path, f"{engine}.csv", rows),
                                    fmt="csv:meridian_positions_csv", as_of=AS_OF, engine=engine)
        assert (err.value.detail["line"], err.value.detail["field"], err.value.detail["reason"]) == \
            (3, "quantity", "required field is empty")
