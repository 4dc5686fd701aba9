"""Management commands on the real OFAC and UN files, the benchmark's shape, and the admin."""
from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from compliance import services
from compliance.models import WatchlistEntry, WatchlistSnapshot
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db


def test_the_real_ofac_and_un_files_import_and_screen_through_the_commands(shared_data):
    ofac = sorted((shared_data / "sanctions" / "ofac").glob("*.csv"))
    out = StringIO()
    call_command("sanctions_import", "--source", "ofac", *map(str, ofac), "--json", stdout=out)
    assert json.loads(out.getvalue())["entries"] == 8976
    out = StringIO()
    call_command("sanctions_import", "--source", "un", str(shared_data / "sanctions" / "un" / "consolidated.xml"),
                 "--json", stdout=out)
    assert json.loads(out.getvalue())["entries"] == 1003
    assert WatchlistSnapshot.objects.filter(is_active=True).count() == 2
    assert WatchlistEntry.objects.count() == 9979
    out = StringIO()
    call_command("screen", "Osama bin Laden", "--dob", "1957-07-30", "--type", "person", "--json", stdout=out)
    hits = json.loads(out.getvalue())["hits"]
    top = hits[0]
    assert (top["source"], top["ref"]) == ("ofac", "6365") and top["score"] == 1.0
    assert any(m["feature"] == "dob" for m in top["explanation"]["matched"])
    # Re-importing the same files changes nothing but the version.
    out = StringIO()
    call_command("sanctions_import", "--source", "ofac", *map(str, ofac), "--json", stdout=out)
    report = json.loads(out.getvalue())
    assert (report["version"], report["added"], report["changed"], report["removed"]) == (2, 0, 0, 0)


def test_the_benchmark_prints_one_json_object_with_the_required_figures(shared_data):
    out = StringIO()
    call_command("bench_screening", "--json", "--positives", "60", "--innocents", "60", "--near-misses", "20",
                 stdout=out)
    figures = json.loads(out.getvalue())
    for key in ("list_names", "queries", "per_second", "p50_ms", "p99_ms", "recall", "false_positive_rate"):
        assert key in figures
    # 60 positives + 60 innocents + 20 near misses + 60 // 10 innocents written in Hebrew or Arabic letters
    assert figures["queries"] == 60 + 60 + 20 + 6 and figures["list_names"] > 25000
    for key in ("recall_by_variant", "retrieval_recall_by_variant", "false_positive_rate_by_kind", "public_cases"):
        assert figures[key]
    assert figures["public_cases"]["passed"] == figures["public_cases"]["cases"]
    assert 0.0 <= figures["false_positive_rate"] <= 1.0 and figures["recall"] > 0.9


def test_the_admin_lists_snapshots_entries_and_alerts_and_clears_through_the_service(
        client, firm, officer, second_officer, ofac_active):
    officer.is_superuser = True
    officer.save()
    party = PersonFactory(firm=firm, given_names="Julio Cesar", family_name="Nasser David", date_of_birth=None,
                          residence_country="CO", nationalities=["CO"])
    [alert] = services.screen_party(party=party, trigger="manual")
    client.force_login(officer)
    for url in ("/admin/compliance/watchlistsnapshot/", "/admin/compliance/watchlistentry/?q=NASSER",
                "/admin/compliance/screeningalert/", "/admin/compliance/riskmodel/",
                f"/admin/compliance/screeningalert/{alert.pk}/change/"):
        assert client.get(url).status_code == 200, url
    page = client.get(f"/admin/compliance/screeningalert/{alert.pk}/change/").content.decode()
    # The hit in words, not JSON; the actions with a note on the same page.
    assert "Why this alert" in page and "NASSER ~ NASSER: the same" in page and '"matched"' not in page
    assert 'name="note"' in page and 'value="clear"' in page
    url = f"/admin/compliance/screeningalert/{alert.pk}/change/"
    client.post(url, {"_alert_action": "clear", "note": ""})
    alert.refresh_from_db()
    assert alert.state == "open"  # a note is required: nothing happened
    assert client.post(url, {"_alert_action": "clear", "note": "born 1985; different person"}).status_code == 302
    alert.refresh_from_db()
    assert alert.clear_requested_by == officer and alert.state == "under_review"
    assert alert.score >= Decimal("0.95")
    second_officer.is_superuser = True
    second_officer.save()
    client.force_login(second_officer)
    client.post(url, {"_alert_action": "clear", "note": "agreed: different person"})
    alert.refresh_from_db()
    assert alert.state == "cleared" and alert.decision_note == "agreed: different person"
    page = client.get(url).content.decode()
    assert "is decided" in page and 'name="note"' not in page and 'name="decision_note"' not in page
