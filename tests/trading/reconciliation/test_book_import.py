"""book_import: our books (opening lots with cost, opening cash, pending trades) from the CSV
template, posted through the accounts ledger; validated whole, refused whole, imported once."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import CashBalance, Position, TaxLot, Transaction
from onboarding.models import AuditEvent, Relationship
from tests.factories import FirmFactory, PersonFactory, UserFactory, tax_documented
from trading.reconciliation.book_import import book_import
from trading.reconciliation.exceptions import BookImportRefused
from trading.reconciliation.models import BookImport

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 11, 20)  # a Friday, the demo price date
HEADER = ("record,custodian,custody_account,isin,mic,quantity,cost,acquisition_date,currency,amount,side,price,"
          "trade_date,settle_date,reference\n")
GOOD = HEADER + (
    "position,CITIGB2L,T-1-EU,GB00BH4HKS39,,1000,850.00,2024-03-14,GBP,,,,,,\n"
    "position,CITIGB2L,T-1-EU,GB00BH4HKS39,,500,460.00,2025-06-02,,,,,,,\n"
    "cash,CITIGB2L,T-1-EU,,,,,,GBP,48500.00,,,,,\n"
    "position,IRVTUS3N,T-1-US,US0378331005,,100,25000.00,2025-01-10,USD,,,,,,\n"
    "cash,IRVTUS3N,T-1-US,,,,,,USD,12000.50,,,,,\n"
    "pending,IRVTUS3N,T-1-US,US0378331005,,10,,,,,buy,260,2026-11-20,,ORD-77\n"
)


@pytest.fixture
def books_account(db):
    from accounts.demo import custodians_demo
    from tests.accounts.conftest import make_account
    from trading.reference.demo import reference_demo

    ref = reference_demo()
    custodians = custodians_demo()
    firm = FirmFactory(home_jurisdiction="CH")
    owner = PersonFactory(firm=firm, residence_country="CH", nationalities=["GB"])
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    account, custody = make_account(firm, owner, custodians, number="T-1")
    return ref, firm, account, custody


def test_a_book_is_posted_through_the_ledger_with_lots_cost_and_cash(books_account):
    ref, _firm, account, custody = books_account
    outcome = book_import(data=GOOD.encode(), name="books.csv", as_of=AS_OF)
    assert outcome.counts == {"positions": 2, "lots": 3, "cash": 2, "pending": 1, "custody_accounts": 2}
    lots = TaxLot.objects.filter(custody_account=custody["eu"]).order_by("acquisition_date")
    assert [(lot.acquisition_date, lot.quantity, lot.cost_local) for lot in lots] == [
        (dt.date(2024, 3, 14), Decimal(1000), Decimal("850.00")), (dt.date(2025, 6, 2), Decimal(500), Decimal("460.00"))]
    opening = Transaction.objects.filter(account=account, detail__opening_balance=True)
    assert opening.count() == 2 and {t.kind for t in opening} == {"transfer"}
    assert {t.trade_date for t in opening} == {AS_OF}
    # the pending buy: 10 AAPL at 260 on Friday 20 Nov settles T+1 on Monday 23 Nov
    from accounts.selectors import custodian_books

    us = custodian_books(custodian_bic="IRVTUS3N", as_of=AS_OF)
    (number, _iid, isin, trade_q, settled_q, *_rest), = us.positions
    assert (number, isin, trade_q, settled_q) == ("T-1-US", "US0378331005", Decimal(110), Decimal(100))
    assert us.pending[0][2:] == (Decimal(10), AS_OF, dt.date(2026, 11, 23))
    # cash: 12,000.50 settled; on trade date less the 10 x 260 = 2,600.00 pending payment = 9,400.50
    assert us.cash == [("T-1-US", "USD", Decimal("9400.50"), Decimal("12000.50"))]
    eu = custodian_books(custodian_bic="CITIGB2L", as_of=AS_OF)
    assert eu.cash == [("T-1-EU", "GBP", Decimal("48500.00"), Decimal("48500.00"))]
    held = Position.objects.filter(custody_account=custody["eu"])
    assert {(p.basis, p.quantity, p.cost_local) for p in held} == {
        ("trade", Decimal(1500), Decimal("1310.00")), ("settle", Decimal(1500), Decimal("1310.00"))}  # 850 + 460
    assert CashBalance.objects.filter(custody_account=custody["eu"], currency="GBP").exists()
    record = BookImport.objects.get()
    assert AuditEvent.objects.filter(event_type="recon.book_imported", subject_id=str(record.pk)).exists()


def test_the_same_file_again_changes_nothing(books_account):
    first = book_import(data=GOOD.encode(), name="books.csv", as_of=AS_OF)
    before = Transaction.objects.count()
    again = book_import(data=GOOD.encode(), name="books-copy.csv", as_of=AS_OF)
    assert again.duplicate and again.book_import.pk == first.book_import.pk
    assert Transaction.objects.count() == before and BookImport.objects.count() == 1


def test_a_bad_file_is_refused_whole_naming_each_line_and_field(books_account):
    bad = HEADER + (
        "position,CITIGB2L,T-1-EU,GB00BH4HKS39,,1000,850.00,2024-03-14,GBP,,,,,,\n"   # line 2: fine
        "position,CITIGB2L,T-1-EU,GB0000000001,,10,1.00,,,,,,,,\n"                    # line 3: not in the master
        "cash,CITIGB2L,T-1-EU,,,,,,GBP,12.3.4,,,,,\n"                                 # line 4: not a number
        "position,CITIGB2L,T-9-EU,GB00BH4HKS39,,5,1.00,,,,,,,,\n"                      # line 5: no such account
        "pending,IRVTUS3N,T-1-US,US0378331005,,10,,,,,hold,260,2026-11-21,,\n"        # line 6: side, trade date
        "position,IRVTUS3N,T-1-US,US0378331005,,,25000.00,,,,,,,,\n"                  # line 7: no quantity
    )
    with pytest.raises(BookImportRefused) as err:
        book_import(data=bad.encode(), name="bad.csv", as_of=AS_OF)
    detail = err.value.detail
    assert "bad.csv: line 4, field amount" in err.value.message and "nothing was imported" in err.value.message
    assert set(detail) >= {"line 4.amount", "line 6.side", "line 6.trade_date", "line 7.quantity"}
    with pytest.raises(BookImportRefused) as err:  # once the values are right, the references are checked
        book_import(data=(HEADER + "position,CITIGB2L,T-1-EU,GB0000000001,,10,1.00,,,,,,,,\n"
                          "position,CITIGB2L,T-9-EU,GB00BH4HKS39,,5,1.00,,,,,,,,\n"
                          "position,CITIGB2L,T-1-EU,US0378331005,,5,1.00,,,,,,,,\n").encode(),
                    name="refs.csv", as_of=AS_OF)
    detail = err.value.detail
    assert "not in the instrument master" in detail["line 2.isin"][0]
    assert "no custody account 'T-9-EU'" in detail["line 3.custody_account"][0]
    assert "XNAS" not in detail["line 4.isin"][0] and "XLON" in detail["line 4.isin"][0]  # AAPL: not at Citi London
    assert not Transaction.objects.exists() and not BookImport.objects.exists() and not TaxLot.objects.exists()


def test_a_failure_while_posting_leaves_nothing_half_written(books_account):
    """The first custody account posts, then a pending sale of more than is held fails: the whole
    file is rolled back and the refusal names the line."""
    text = GOOD.replace("pending,IRVTUS3N,T-1-US,US0378331005,,10,,,,,buy,260",
                        "pending,IRVTUS3N,T-1-US,US0378331005,,500,,,,,sell,260")
    with pytest.raises(BookImportRefused) as err:
        book_import(data=text.encode(), name="books.csv", as_of=AS_OF)
    assert "line 7" in err.value.message and "cannot deliver 500" in err.value.message
    assert not Transaction.objects.exists() and not TaxLot.objects.exists() and not BookImport.objects.exists()


def test_command_imports_once_and_reports_refusals(books_account, tmp_path):
    path = tmp_path / "books.csv"
    path.write_text(GOOD)
    out = StringIO()
    call_command("book_import", str(path), "--as-of", "2026-11-20", "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["ok"] and not body["duplicate"] and body["lots"] == 3
    out = StringIO()
    call_command("book_import", str(path), "--as-of", "2026-11-20", "--json", stdout=out)
    assert json.loads(out.getvalue())["duplicate"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text("record,colour\nposition,red\n")
    out = StringIO()
    with pytest.raises(SystemExit):
        call_command("book_import", str(bad), "--as-of", "2026-11-20", "--json", stdout=out)
    body = json.loads(out.getvalue())
    assert body["code"] == "book_import_refused" and "line 1.header" in body["detail"]


def test_api_imports_for_operations_and_refuses_in_the_catalogue_language(books_account):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.api.conftest import assert_error, token_client

    _ref, firm, _account, _custody = books_account
    client = token_client(UserFactory(firm=firm, role="operations"))
    response = client.post("/api/v1/book-imports/", {"as_of": "2026-11-20", "file": SimpleUploadedFile(
        "books.csv", GOOD.encode(), content_type="text/csv")}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["counts"]["pending"] == 1 and response.json()["duplicate"] is False
    bad = HEADER + "cash,CITIGB2L,T-1-EU,,,,,,GBP,abc,,,,,\n"
    response = client.post("/api/v1/book-imports/", {"as_of": "2026-11-20", "file": SimpleUploadedFile(
        "bad.csv", bad.encode(), content_type="text/csv")}, format="multipart")
    body = assert_error(response, 422, "book_import_refused")
    assert body["detail"] == {"line 2.amount": ["'abc' is not a number"]}
    # another firm's operations user does not see these custody accounts
    other = token_client(UserFactory(firm=FirmFactory(), role="operations"))
    response = other.post("/api/v1/book-imports/", {"as_of": "2026-11-20", "file": SimpleUploadedFile(
        "books2.csv", GOOD.replace("12000.50", "1.00").encode(), content_type="text/csv")}, format="multipart")
    assert_error(response, 422, "book_import_refused")
    # an advisor may not import books
    advisor = token_client(UserFactory(firm=firm, role="advisor"))
    response = advisor.post("/api/v1/book-imports/", {"as_of": "2026-11-20", "file": SimpleUploadedFile(
        "books3.csv", b"x", content_type="text/csv")}, format="multipart")
    assert_error(response, 403, "permission_denied")


GOOD_JSON = """{"records": [
  {"record": "position", "custodian": "CITIGB2L", "custody_account": "T-1-EU", "isin": "GB00BH4HKS39",
   "quantity": 1000, "cost": "850.00", "acquisition_date": "2024-03-14", "currency": "GBP"},
  {"record": "position", "custodian": "CITIGB2L", "custody_account": "T-1-EU", "isin": "GB00BH4HKS39",
   "quantity": "500", "cost": 460.00, "acquisition_date": "2025-06-02", "mic": null},
  {"record": "cash", "custodian": "CITIGB2L", "custody_account": "T-1-EU", "currency": "GBP", "amount": 48500.00},
  {"record": "position", "custodian": "IRVTUS3N", "custody_account": "T-1-US", "isin": "US0378331005",
   "quantity": 100, "cost": 25000.00, "acquisition_date": "2025-01-10", "currency": "USD"},
  {"record": "cash", "custodian": "IRVTUS3N", "custody_account": "T-1-US", "currency": "USD", "amount": "12000.50"},
  {"record": "pending", "custodian": "IRVTUS3N", "custody_account": "T-1-US", "isin": "US0378331005",
   "quantity": 10, "side": "buy", "price": 260, "trade_date": "2026-11-20", "reference": "ORD-77"}
]}"""


def test_the_json_template_books_what_the_csv_template_books(books_account):
    """GOOD_JSON holds GOOD's six records: the same lots, cash and pending trade (numbers given as
    JSON numbers or strings alike; 12000.50 kept exact, never a float)."""
    from accounts.selectors import custodian_books

    outcome = book_import(data=GOOD_JSON.encode(), name="books.json", as_of=AS_OF)
    assert outcome.counts == {"positions": 2, "lots": 3, "cash": 2, "pending": 1, "custody_accounts": 2}
    us = custodian_books(custodian_bic="IRVTUS3N", as_of=AS_OF)
    assert us.cash == [("T-1-US", "USD", Decimal("9400.50"), Decimal("12000.50"))]   # 12,000.50 - 10 x 260
    assert us.pending[0][2:] == (Decimal(10), AS_OF, dt.date(2026, 11, 23))
    lots = TaxLot.objects.filter(custody_account=books_account[3]["eu"]).order_by("acquisition_date")
    assert [(lot.quantity, lot.cost_local) for lot in lots] == [(Decimal(1000), Decimal("850.00")),
                                                                (Decimal(500), Decimal("460.00"))]


def test_a_bad_json_file_is_refused_whole_naming_each_record_and_key(books_account):
    bad = json.dumps({"records": [
        {"record": "cash", "custodian": "CITIGB2L", "custody_account": "T-1-EU", "currency": "GBP", "amount": "x"},
        {"record": "position", "custodian": "CITIGB2L", "custody_account": "T-1-EU", "isin": "GB00BH4HKS39",
         "quantity": 5, "cost": 1, "colour": "red"},
        {"record": "pending", "custodian": "IRVTUS3N", "custody_account": "T-1-US", "isin": "US0378331005",
         "quantity": 10, "side": "buy", "price": [260], "trade_date": "2026-11-20"},
    ]})
    with pytest.raises(BookImportRefused) as err:
        book_import(data=bad.encode(), name="bad.json", as_of=AS_OF)
    assert err.value.message.startswith("bad.json: record 1, field amount: 'x' is not a number")
    assert set(err.value.detail) >= {"record 1.amount", "record 2.colour", "record 3.price"}
    with pytest.raises(BookImportRefused) as err:
        book_import(data=b'{"records": [{"record": "cash",}]}', name="broken.json", as_of=AS_OF)
    assert "not valid JSON (line 1" in err.value.message
    assert not Transaction.objects.exists() and not BookImport.objects.exists()
