"""Issue 15, audit that shows tampering: each audit row carries a hash chained to the previous row of
its firm (chained after commit, in batches, with a per-firm watermark); `audit_verify` proves the
chains or names the first broken row, and its nightly run raises an alert for the officers.

Tampering goes behind the append-only triggers, as an attacker with the database's owner rights
would: the trigger is dropped (SQLite) or disabled (PostgreSQL) inside the test's transaction, so
the rollback at the end of the test restores it."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from onboarding.audit import record_event
from onboarding.audit_chain import chain_pending, verify, verify_and_alert
from onboarding.models import AuditChainHead, AuditEvent, AuditIntegrityAlert
from onboarding.queues import audit_integrity
from tests.factories import FirmFactory, UserFactory

pytestmark = pytest.mark.django_db
TABLE = "onboarding_auditevent"


def _behind_the_trigger(sql: str, params: list) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no deferred checks pending (ALTER TABLE refuses)
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
            cursor.execute(sql, params)
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER onboarding_auditevent_no_update")
            cursor.execute("DROP TRIGGER onboarding_auditevent_no_delete")
            cursor.execute(sql, params)


@pytest.fixture
def trail():
    """Two firms with three events each, one platform event; all chained."""
    firms = [FirmFactory(), FirmFactory()]
    events = {f.pk: [record_event(subject=f, event_type=f"test.e{i}", firm=f, reason=f"r{i}", detail={"i": i, "b": "x"})
                     for i in range(3)] for f in firms}
    record_event(subject=firms[0], event_type="test.platform", firm=None)
    assert chain_pending().chained >= 7
    return firms, events


def _verify_output() -> str:
    with pytest.raises(CommandError) as failed:
        call_command("audit_verify", stdout=StringIO())
    return str(failed.value)


def test_the_first_row_hash_is_sha256_of_the_documented_form():
    """Oracle by hand: the first row of a firm's chain hashes "" + newline + the JSON list
    [place, id, firm, actor, subject type, subject id, event, from, to, reason, detail, time]."""
    firm = FirmFactory()
    event = record_event(subject=firm, event_type="test.first", firm=firm, reason="why", detail={"z": 1, "a": "é"})
    chain_pending(keys=[firm.pk])
    row = AuditEvent.objects.get(pk=event.pk)
    when = row.created_at.astimezone(dt.UTC).isoformat()
    text = (f'[1,{row.pk},{firm.pk},null,"onboarding.firm","{firm.pk}","test.first","","","why",'
            f'{{"a":"é","z":1}},"{when}"]')
    assert row.chain_seq == 1 and row.prev_hash == ""
    assert row.hash == hashlib.sha256(b"\n" + text.encode()).hexdigest()
    head = AuditChainHead.objects.get(chain_key=firm.pk)
    assert (head.last_seq, head.last_event_id, head.last_hash) == (1, row.pk, row.hash)


def test_each_firm_has_its_own_chain_in_id_order_and_it_proves(trail):
    firms, events = trail
    for firm in firms:
        rows = list(AuditEvent.objects.filter(firm=firm).order_by("chain_seq"))
        assert [r.pk for r in rows] == sorted(r.pk for r in rows)
        assert [r.chain_seq for r in rows] == [1, 2, 3]
        assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:]))
    report = verify()
    assert report.ok and report.rows >= 7 and report.chains >= 3
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "proved" in out.getvalue()


def test_rows_written_later_continue_the_chain_from_the_watermark(trail):
    firms, events = trail
    later = record_event(subject=firms[0], event_type="test.later", firm=firms[0])
    assert AuditEvent.objects.get(pk=later.pk).hash == ""  # written unchained: no lock in the writer's transaction
    assert chain_pending().chains == {firms[0].pk: 1}
    row = AuditEvent.objects.get(pk=later.pk)
    assert row.chain_seq == 4 and row.prev_hash == AuditEvent.objects.get(pk=events[firms[0].pk][-1].pk).hash
    assert chain_pending().chained == 0  # running twice chains nothing twice
    assert verify().ok


def test_a_changed_row_is_named_with_expected_and_found_hashes(trail):
    firms, events = trail
    victim = events[firms[1].pk][1]
    stored = AuditEvent.objects.get(pk=victim.pk).hash
    _behind_the_trigger(f"UPDATE {TABLE} SET reason = %s WHERE id = %s", ["nothing to see", victim.pk])
    message = _verify_output()
    assert f"firm {firms[1].pk}" in message and f"row {victim.pk}" in message
    assert "content changed" in message and f"found {stored}" in message
    assert f"firm {firms[0].pk}" not in message  # the other firm's chain still proves


def test_a_deleted_row_is_named_by_the_row_after_it(trail):
    firms, events = trail
    first, second, third = events[firms[0].pk]
    _behind_the_trigger(f"DELETE FROM {TABLE} WHERE id = %s", [second.pk])
    message = _verify_output()
    assert f"firm {firms[0].pk}" in message and f"row {third.pk}" in message and "missing" in message


def test_a_deleted_last_row_is_named_from_the_watermark(trail):
    firms, events = trail
    last = events[firms[0].pk][-1]
    _behind_the_trigger(f"DELETE FROM {TABLE} WHERE id = %s", [last.pk])
    message = _verify_output()
    assert f"row {last.pk}" in message and "removed from the end" in message


def test_a_row_moved_to_another_firm_breaks_both_chains(trail):
    firms, events = trail
    moved = events[firms[0].pk][0]
    _behind_the_trigger(f"UPDATE {TABLE} SET firm_id = %s WHERE id = %s", [firms[1].pk, moved.pk])
    report = verify()
    assert {b.firm_id for b in report.breaks} >= {firms[0].pk, firms[1].pk}


def test_a_rewritten_hash_is_still_caught_by_the_next_row(trail):
    """Changing a row and recomputing its own hash breaks the link from the row after it."""
    from onboarding.audit_chain import row_hash

    firms, events = trail
    first, second, _third = events[firms[0].pk]
    row = AuditEvent.objects.filter(pk=first.pk).values(
        "id", "firm_id", "actor_id", "subject_type", "subject_id", "event_type", "from_state", "to_state",
        "reason", "detail", "created_at").get()
    row["reason"] = "rewritten"
    forged = row_hash("", 1, row)
    _behind_the_trigger(f"UPDATE {TABLE} SET reason = %s, hash = %s WHERE id = %s", ["rewritten", forged, first.pk])
    report = verify()
    broken = [b for b in report.breaks if b.firm_id == firms[0].pk][0]
    assert broken.event_id == second.pk and broken.problem == "does not follow the row before it"
    assert broken.found != forged and broken.expected == forged


def test_the_database_still_refuses_changes_to_a_chained_row_and_content_changes_while_chaining(trail):
    firms, events = trail
    event = events[firms[0].pk][0]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(hash="0" * 64)
    fresh = record_event(subject=firms[0], event_type="test.fresh", firm=firms[0])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=fresh.pk).update(chain_seq=99, hash="1" * 64, reason="smuggled")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=fresh.pk).delete()


def test_nightly_verification_raises_one_alert_for_officers_and_logs_an_error(trail, caplog):
    firms, events = trail
    victim = events[firms[0].pk][2]
    _behind_the_trigger(f"UPDATE {TABLE} SET detail = %s WHERE id = %s", [json.dumps({"i": 99}), victim.pk])
    with caplog.at_level(logging.ERROR, logger="meridian.audit"):
        report = verify_and_alert()
    assert not report.ok
    assert any(f"row {victim.pk}" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    alert = AuditIntegrityAlert.objects.get()
    assert alert.firm == firms[0] and alert.event_id == victim.pk and alert.found and alert.expected != alert.found
    assert AuditEvent.objects.filter(event_type="audit.chain_broken", subject_id=str(alert.pk)).exists()
    verify_and_alert()
    assert AuditIntegrityAlert.objects.count() == 1  # raised once, not every night
    officer = UserFactory(firm=None, role="compliance_officer")
    queue = audit_integrity(officer)
    assert queue.count == 1 and queue.severity == "danger" and f"row {victim.pk}" in queue.rows[0]["label"]
    assert audit_integrity(UserFactory(firm=firms[0], role="firm_admin")).count == 0


def test_the_chainer_and_the_verifier_are_on_the_beat_schedule():
    tasks = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks["onboarding.tasks.audit_chain"] <= 60
    assert tasks["onboarding.tasks.audit_verify"] == 24 * 60 * 60


def test_the_nightly_task_reports_the_break():
    from onboarding.tasks import audit_verify

    firm = FirmFactory()
    kept = record_event(subject=firm, event_type="test.kept", firm=firm)
    assert audit_verify.delay().get()["ok"] is True
    _behind_the_trigger(f"UPDATE {TABLE} SET event_type = %s WHERE id = %s", ["test.changed", kept.pk])
    result = audit_verify.delay().get()
    assert result["ok"] is False and f"row {kept.pk}" in result["breaks"][0]


def test_bench_audit_chain_smoke():
    """Tiny size: both modes write, both chains prove, the figures and the load average are printed."""
    out = StringIO()
    call_command("bench_audit_chain", "--events", "6", "--writers", "1", "--work-ms", "0", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["chains_prove"] is True
    assert data["after_commit"]["writers_1"]["events"] == 6 and data["in_transaction"]["writers_1"]["events"] == 6
    assert data["after_commit"]["batch_chain"]["rows"] == 6
    assert len(data["load_average"]) == 3 and data["in_transaction_slowdown"] > 0
