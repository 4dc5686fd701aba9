"""The same custodian file received twice at once (a redelivered task while the first attempt is
still committing): one run, and the other call reports a duplicate - on both engines.

The first call is held at its COMMIT (CommitGate on the file table); the second call then
passes the early duplicate check (nothing committed yet) and waits on the first one's unique
(custodian, sha256) row; the gate opens, the first commits, the second must answer "duplicate"."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from tests.reliability.faults import CommitGate
from tests.trading.reconciliation.builders import semt002
from trading.reconciliation import services
from trading.reconciliation.models import CustodianFile, ReconRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres, pytest.mark.usefixtures("recon_rules")]
CSV = ("account,isin,cusip,sedol,ticker,mic,quantity,price,price_currency,fx_rate\n"
       "A1,US0378331005,,,,,100,185.64,USD,1\n")
SEMT = semt002(holdings=[{"isin": "US0378331005", "qty": "100", "price": "185.64", "price_ccy": "USD"}])


@pytest.mark.parametrize("engine, fmt, data", [("numpy", "semt002", SEMT),
                                               ("sql", "csv:meridian_positions_csv", CSV.encode())])
def test_the_same_file_received_twice_at_once_makes_one_run_and_one_duplicate(
        postgres_only, settings, tmp_path, engine, fmt, data):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = tmp_path / "positions.dat"
    path.write_bytes(data)
    outcomes: dict[int, object] = {}

    def receive(i):
        try:
            outcomes[i] = services.reconcile_file(custodian_code="CUST", path=path, fmt=fmt, engine=engine,
                                                  as_of=dt.date(2024, 1, 31))
        except Exception as exc:  # noqa: BLE001 - asserted below
            outcomes[i] = exc
        finally:
            connection.close()

    gate = CommitGate(CustodianFile._meta.db_table)
    try:
        first = threading.Thread(target=receive, args=(1,))
        first.start()
        (waiting,) = gate.wait_for_waiters(1)
        assert waiting["query"] == "COMMIT"
        second = threading.Thread(target=receive, args=(2,))
        second.start()
        gate.wait_for_waiters(2)
        gate.release()
        first.join(60)
        second.join(60)
    finally:
        gate.drop()
    assert not isinstance(outcomes[1], Exception), outcomes[1]
    assert not isinstance(outcomes[2], Exception), f"the second receipt failed: {outcomes[2]!r}"
    assert (outcomes[1].duplicate, outcomes[2].duplicate) == (False, True)
    assert outcomes[2].run.pk == outcomes[1].run.pk
    assert CustodianFile.objects.count() == 1 and ReconRun.objects.count() == 1
