"""Officers deciding one alert at the same time: exactly one decision wins (PostgreSQL row locks)."""
from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from compliance import services
from compliance.exceptions import AlertInvalidTransition
from compliance.models import AlertState, ClearedMatch, ScreeningAlert, ScreeningThreshold
from onboarding.models import AuditEvent
from tests.compliance.conftest import write_ofac
from tests.factories import FirmFactory, OfficerFactory, PersonFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row-lock concurrency is tested on PostgreSQL")


def test_twenty_officers_deciding_one_alert_at_once_produce_one_decision(tmp_path):
    services.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "ofac"))
    ScreeningThreshold.objects.create(source="", threshold=Decimal("0.7"), high_score=Decimal("0.999"))
    firm = FirmFactory()
    party = PersonFactory(firm=firm, given_names="Julio", family_name="Naser", date_of_birth=None,
                          residence_country="CO", nationalities=["CO"])
    [alert] = services.screen_party(party=party, trigger="manual")
    officers = [OfficerFactory() for _ in range(20)]
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def worker(i: int) -> None:
        close_old_connections()
        try:
            barrier.wait()
            target = ScreeningAlert.objects.get(pk=alert.pk)
            if i % 2:
                services.alert_clear(alert=target, actor=officers[i], note="not him")
            else:
                services.alert_confirm(alert=target, actor=officers[i], note="him")
            outcomes.append("ok")
        except AlertInvalidTransition:
            outcomes.append("refused")
        except Exception as exc:  # noqa: BLE001 - recorded and asserted below
            outcomes.append(f"error: {exc!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 19
    alert.refresh_from_db()
    decisions = AuditEvent.objects.filter(subject_id=str(alert.pk),
                                          event_type__in=["screening.alert_cleared", "screening.alert_confirmed"])
    assert decisions.count() == 1
    assert ClearedMatch.objects.count() == (1 if alert.state == AlertState.CLEARED else 0)
