"""A holdings statement speaks for its own safekeeping account only (issue 14). A complete (COMP)
semt.002 is one document per safekeeping account, so with two custody accounts at one custodian
each file must be compared with that account's books, and must not open (or clear) breaks on the
other. A delta (DELT) statement speaks only for the positions it lists.

Two accounts at Citi London (CITIGB2L), booked through the accounts services:
    SIM-1-EU (conftest.sim_ledger): 1,000 VOD at 92p; USD 10,000 face of the demo bond at 98.5 %.
    SIM-2-EU (here): GBP 10,000 deposited; 500 VOD at 92p = GBP 460.00.
Each account's statement, written by the simulator from the ledger, matches its own books exactly.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from trading.reconciliation import services, simulator
from trading.reconciliation.models import Break

from .conftest import SIM_DAY

pytestmark = pytest.mark.django_db
CITI = "CITIGB2L"


@pytest.fixture
def two_accounts(sim_ledger):
    from accounts import services as accounts_services
    from tests.accounts.conftest import fund, make_account

    account = sim_ledger.account
    # the owner is tax-documented by sim_ledger (tests.factories.tax_documented): the real gate activates
    second, custody = make_account(account.firm, account.owner, sim_ledger.custodians, number="SIM-2")
    fund(second, custody["eu"], "GBP", "10000", day=dt.date(2026, 11, 2))
    accounts_services.trade_book(account=second, custody_account=custody["eu"],
                                 listing=sim_ledger.ref.listings["VOD.L"], side="buy", quantity=Decimal(500),
                                 price=Decimal(92), trade_date=dt.date(2026, 11, 2))
    return sim_ledger


def _semt002(ledger, tmp_path, inject=(), *, update="COMP"):
    snap = simulator.collect(ledger.custodians[CITI], SIM_DAY)
    simulator.inject(snap, list(inject))
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in simulator.statement_files(snap, "semt002"):
        if update != "COMP":
            data = re.sub(rb"(<UpdTp>\s*<Cd>)COMP(</Cd>)", rb"\g<1>" + update.encode() + rb"\g<2>", data)
            assert f"<Cd>{update}</Cd>".encode() in data
        path = tmp_path / name
        path.write_bytes(data)
        account = "SIM-2-EU" if b"SIM-2-EU" in data else "SIM-1-EU"
        paths[account] = path
    return paths


def _reconcile(path, fmt="semt002"):
    return services.reconcile_file(custodian_code=CITI, path=path, fmt=fmt, as_of=SIM_DAY).run


def test_one_complete_semt002_per_account_opens_no_break_on_the_other(two_accounts, tmp_path):
    paths = _semt002(two_accounts, tmp_path)
    assert set(paths) == {"SIM-1-EU", "SIM-2-EU"}  # one document per safekeeping account
    for account in ("SIM-1-EU", "SIM-2-EU"):
        run = _reconcile(paths[account])
        assert run.stats["breaks"] == 0, list(Break.objects.values("custody_account", "kind"))
    assert not Break.objects.exists()


def test_the_other_accounts_file_does_not_clear_a_break(two_accounts, tmp_path):
    paths = _semt002(two_accounts, tmp_path, ["quantity:GB00BH4HKS39:-100"])  # SIM-1-EU's VOD, first line
    run = _reconcile(paths["SIM-1-EU"])
    assert run.stats["breaks"] == 1
    _reconcile(paths["SIM-2-EU"])
    brk = Break.objects.get()
    assert (brk.custody_account, brk.kind, brk.state) == ("SIM-1-EU", "quantity", "open")
    assert (brk.custodian_quantity, brk.book_quantity) == (Decimal(900), Decimal(1000))


def test_a_complete_statement_still_finds_what_is_missing_in_its_own_account(two_accounts, tmp_path):
    paths = _semt002(two_accounts, tmp_path, ["missing:XS2000000005"])  # SIM-1-EU's bond left out
    run = _reconcile(paths["SIM-1-EU"])
    assert run.stats["breaks"] == 1
    brk = Break.objects.get()
    assert (brk.custody_account, brk.kind) == ("SIM-1-EU", "missing_at_custodian")
    assert (brk.custodian_quantity, brk.book_quantity) == (Decimal(0), Decimal(10000))


def test_a_delta_statement_speaks_only_for_the_lines_it_lists(two_accounts, tmp_path):
    # a complete statement opens a price break on SIM-1-EU's bond (98.75 % x 1.05, beyond the 2 % band)
    _reconcile(_semt002(two_accounts, tmp_path / "comp", ["price:XS2000000005:1.05"])["SIM-1-EU"])
    assert Break.objects.get().kind == "price"
    # then a delta listing only VOD (unchanged): the bond is not missing, and its break is not cleared
    delta = _semt002(two_accounts, tmp_path / "delt", ["missing:XS2000000005"], update="DELT")
    run = _reconcile(delta["SIM-1-EU"])
    assert run.stats["breaks"] == 0
    brk = Break.objects.get()
    assert (brk.kind, brk.state) == ("price", "open")


def test_mt535_for_one_account_leaves_the_other_alone(two_accounts, tmp_path):
    snap = simulator.collect(two_accounts.custodians[CITI], SIM_DAY)
    snap.positions = [p for p in snap.positions if p.account == "SIM-2-EU"]  # as `--account SIM-2-EU`
    snap.cash = [c for c in snap.cash if c.account == "SIM-2-EU"]
    [(name, data)] = simulator.statement_files(snap, "mt535")
    (tmp_path / name).write_bytes(data)
    run = _reconcile(tmp_path / name, "mt535")
    assert run.stats["breaks"] == 0, list(Break.objects.values("custody_account", "kind"))
