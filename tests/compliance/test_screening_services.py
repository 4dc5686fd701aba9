"""Watchlist snapshots, screening parties into alerts, the alert state machine with four eyes,
remembered cleared pairs, and the wiring into onboarding (approval gate, rejection,
suspension, re-screening on change and on list update)."""
from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from compliance import services
from compliance.exceptions import (
    AlertFourEyesRequired,
    AlertInvalidTransition,
    AlertNoteRequired,
    NotAComplianceOfficer,
    WatchlistFormatError,
)
from compliance.models import (
    AlertState,
    ClearedMatch,
    ScreeningAlert,
    ScreeningRun,
    ScreeningThreshold,
    WatchlistEntry,
    WatchlistSnapshot,
)
from onboarding import services as onboarding
from onboarding.audit import events_for
from onboarding.exceptions import RelationshipNotActive, RequirementsOutstanding
from onboarding.models import CaseKind, CaseState, OnboardingCase, RelationshipState
from onboarding.selectors import case_outstanding
from tests.compliance.conftest import SDN, write_ofac
from tests.factories import EntityFactory, PersonFactory
from tests.onboarding.helpers import complete_person

pytestmark = pytest.mark.django_db


# --- Snapshots ------------------------------------------------------------------------------


def test_an_import_creates_the_active_snapshot_with_its_entries_and_an_audit_event(ofac_files):
    snapshot = services.watchlist_import(source="ofac", paths=ofac_files)
    assert snapshot.is_active and snapshot.version == 1 and snapshot.entry_count == 6
    assert snapshot.report["added"] == 6 and snapshot.report["removed"] == 0
    entry = WatchlistEntry.objects.get(snapshot=snapshot, ref="6330")
    assert entry.dobs == ["1940-11-01", "1940-10-01"]
    assert entry.identifiers[0] == {"kind": "Cedula No.", "number": "3710619", "country": "CO"}
    assert len(entry.content_hash) == 64
    event = events_for(snapshot).get()
    assert event.event_type == "watchlist.imported" and event.detail["entries"] == 6


def test_a_second_import_reports_what_was_added_changed_and_removed(tmp_path, ofac_files):
    services.watchlist_import(source="ofac", paths=ofac_files)
    sdn = SDN.replace("DOB 01 Nov 1940", "DOB 02 Nov 1940")  # 6330 changes
    sdn = "\n".join(line for line in sdn.splitlines() if not line.startswith("9002,")) + "\n"  # 9002 removed
    sdn += '9003,"IVANOV, Pyotr","individual","RUSSIA-EO14024",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1960."\n'
    second = services.watchlist_import(
        source="ofac", paths=write_ofac(tmp_path / "v2", sdn=sdn, add='36,25,-0- ,"Havana","Cuba",-0- \n'))
    assert second.version == 2 and second.is_active
    assert (second.report["added_refs"], second.report["changed_refs"], second.report["removed_refs"]) == (
        ["9003"], ["6330"], ["9002"])
    assert list(WatchlistSnapshot.objects.filter(source="ofac", is_active=True)) == [second]


def test_a_failed_import_names_the_line_and_leaves_the_active_list_untouched(tmp_path, ofac_active):
    bad = SDN.replace('"individual","SDNT"', '"person","SDNT"')
    with pytest.raises(WatchlistFormatError) as error:
        services.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "bad", sdn=bad))
    assert (error.value.line, error.value.field) == (3, "type")
    assert list(WatchlistSnapshot.objects.all()) == [ofac_active]
    ofac_active.refresh_from_db()
    assert ofac_active.is_active and WatchlistEntry.objects.count() == 6


def test_the_import_command_prints_json_and_refuses_a_bad_file(tmp_path, ofac_files):
    out = StringIO()
    call_command("sanctions_import", "--source", "ofac", *map(str, ofac_files), "--json", stdout=out)
    assert json.loads(out.getvalue()) | {} == {"ok": True, "source": "ofac", "version": 1, "entries": 6,
                                               "added": 6, "changed": 0, "removed": 0, "previous_version": None}
    bad = write_ofac(tmp_path / "bad", sdn=SDN.replace("6330,", "x,"))
    with pytest.raises(CommandError, match="sdn.csv, line 3, field 'ent_num'"):
        call_command("sanctions_import", "--source", "ofac", *map(str, bad), stdout=StringIO())
    assert WatchlistSnapshot.objects.get().version == 1


def test_the_screen_command_prints_hits_with_explanations(ofac_active):
    out = StringIO()
    call_command("screen", "Julio Nasser David", "--dob", "1940-11-01", "--country", "CO", "--type", "person",
                 "--json", stdout=out)
    hits = json.loads(out.getvalue())["hits"]
    assert hits[0]["ref"] == "6330" and hits[0]["score"] > 0.9
    assert {m["feature"] for m in hits[0]["explanation"]["matched"]} == {"name", "dob", "country"}


# --- Screening a party ----------------------------------------------------------------------


def listed_person(firm, **extra):
    data = dict(given_names="Julio Cesar", family_name="Nasser David", nationalities=["CO"],
                residence_country="CO", date_of_birth=None)
    data.update(extra)
    return PersonFactory(firm=firm, **data)


def test_screening_a_listed_person_opens_one_alert_with_an_explanation(firm, ofac_active):
    party = listed_person(firm)
    [alert] = services.screen_party(party=party, trigger="manual")
    assert (alert.source, alert.entry_ref, alert.state) == ("ofac", "6330", AlertState.OPEN)
    assert alert.score >= Decimal("0.9") and alert.party_version == party.version
    assert alert.explanation["matched"][0]["feature"] == "name"
    assert events_for(alert).get().event_type == "screening.alert_opened"
    assert services.screen_party(party=party, trigger="manual") == []  # the live alert is not duplicated
    assert ScreeningAlert.objects.count() == 1
    assert ScreeningRun.objects.filter(party=party).count() == 2


def test_an_innocent_person_opens_no_alert_but_the_screening_is_recorded(firm, ofac_active):
    party = PersonFactory(firm=firm, given_names="Emma", family_name="Laurent")
    assert services.screen_party(party=party, trigger="manual") == []
    assert events_for(party).get(event_type="screening.performed").detail["hits"] == 0


def test_a_firm_threshold_overrides_the_platform_default(firm, ofac_active):
    ScreeningThreshold.objects.create(firm=firm, source="ofac", threshold=Decimal("0.999"))
    party = listed_person(firm, given_names="Julio", family_name="Nasser")
    assert services.screen_party(party=party, trigger="manual") == []


# --- Alert decisions ------------------------------------------------------------------------


def test_only_officers_decide_and_clearing_needs_a_note(firm, advisor, officer, ofac_active):
    [alert] = services.screen_party(party=listed_person(firm), trigger="manual")
    with pytest.raises(NotAComplianceOfficer):
        services.alert_clear(alert=alert, actor=advisor, note="not him")
    with pytest.raises(AlertNoteRequired):
        services.alert_clear(alert=alert, actor=officer, note="  ")
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN


def test_clearing_a_high_score_needs_a_second_officer(firm, officer, second_officer, ofac_active):
    [alert] = services.screen_party(party=listed_person(firm), trigger="manual")
    assert alert.score >= Decimal("0.95")
    alert = services.alert_clear(alert=alert, actor=officer, note="different DOB on passport")
    assert alert.state == AlertState.UNDER_REVIEW and alert.clear_requested_by == officer
    with pytest.raises(AlertFourEyesRequired):
        services.alert_clear(alert=alert, actor=officer, note="still not him")
    alert = services.alert_clear(alert=alert, actor=second_officer, note="agreed: passport shows 1985")
    assert alert.state == AlertState.CLEARED and alert.decided_by == second_officer
    steps = [(e.event_type, e.actor) for e in events_for(alert)]
    assert steps[1:] == [("screening.alert_clear_requested", officer), ("screening.alert_cleared", second_officer)]


def test_a_lower_score_is_cleared_by_one_officer_and_the_pair_is_remembered(firm, officer, ofac_active):
    ScreeningThreshold.objects.create(source="", threshold=Decimal("0.7"), high_score=Decimal("0.99"))
    party = listed_person(firm, given_names="Julio", family_name="Naser")
    [alert] = services.screen_party(party=party, trigger="manual")
    assert alert.score < Decimal("0.99")
    services.alert_clear(alert=alert, actor=officer, note="client is 30 years younger")
    alert.refresh_from_db()
    assert alert.state == AlertState.CLEARED
    assert ClearedMatch.objects.get().entry_ref == "6330"
    assert services.screen_party(party=party, trigger="manual") == []
    assert events_for(party).filter(event_type="screening.performed").last().detail["suppressed"] == 1
    with pytest.raises(AlertInvalidTransition):
        services.alert_escalate(alert=alert, actor=officer, note="second thoughts")


def test_a_cleared_pair_alerts_again_when_the_party_changes(firm, advisor, officer, ofac_active):
    ScreeningThreshold.objects.create(source="", threshold=Decimal("0.7"), high_score=Decimal("0.99"))
    party = listed_person(firm, given_names="Julio", family_name="Naser")
    [alert] = services.screen_party(party=party, trigger="manual")
    services.alert_clear(alert=alert, actor=officer, note="not him")
    party = onboarding.party_update(party=party, actor=advisor, residence_country="ES")
    [again] = services.screen_party(party=party, trigger="manual")
    assert again.pk != alert.pk and again.party_version == party.version


def test_a_cleared_pair_alerts_again_when_the_list_entry_changes(tmp_path, firm, officer, ofac_active):
    ScreeningThreshold.objects.create(source="", threshold=Decimal("0.7"), high_score=Decimal("0.99"))
    party = listed_person(firm, given_names="Julio", family_name="Naser")
    [alert] = services.screen_party(party=party, trigger="manual")
    services.alert_clear(alert=alert, actor=officer, note="not him")
    services.watchlist_import(source="ofac",
                              paths=write_ofac(tmp_path / "v2", sdn=SDN.replace("H130865", "H130866")))
    [again] = services.screen_party(party=party, trigger="manual")
    assert again.entry_hash != alert.entry_hash


# --- Onboarding wiring ----------------------------------------------------------------------


def submitted_case(firm, advisor, party, capture):
    complete_person(party, actor=advisor)
    case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")
    with capture(execute=True):
        case = onboarding.case_submit(case=case, actor=advisor)
    return OnboardingCase.objects.get(pk=case.pk)


def test_an_open_alert_blocks_approval_without_revealing_the_list(
        packs, firm, advisor, officer, ofac_active, django_capture_on_commit_callbacks):
    party = listed_person(firm, residence_country="GB", nationalities=["GB"])
    case = submitted_case(firm, advisor, party, django_capture_on_commit_callbacks)
    assert ScreeningAlert.objects.filter(party=party, case=case).count() == 1
    case = onboarding.case_start_review(case=case, actor=officer)
    with pytest.raises(RequirementsOutstanding) as error:
        onboarding.case_approve(case=case, actor=officer)
    [item] = [i for i in error.value.detail if i["category"] == "screening"]
    assert item["code"] == "screening.alert_open"
    text = json.dumps(item)
    assert "NASSER DAVID" not in text and "ofac" not in text.lower() and "SDNT" not in text


def test_a_cleared_alert_lets_the_case_through(packs, firm, advisor, officer, second_officer, ofac_active,
                                               django_capture_on_commit_callbacks):
    ScreeningThreshold.objects.create(source="", threshold=Decimal("0.8"), high_score=Decimal("0.85"))
    party = listed_person(firm, residence_country="GB", nationalities=["GB"])
    case = submitted_case(firm, advisor, party, django_capture_on_commit_callbacks)
    alert = ScreeningAlert.objects.get(party=party)
    services.alert_clear(alert=alert, actor=officer, note="born 1985, not the listed person")
    assert [i.code for i in case_outstanding(case) if i.category == "screening"] == ["screening.alert_open"]
    services.alert_clear(alert=alert, actor=second_officer, note="agree")
    assert [i for i in case_outstanding(case) if i.category == "screening"] == []


def test_a_confirmed_match_rejects_the_case_and_suspends_the_relationship(
        packs, firm, advisor, officer, ofac_active, django_capture_on_commit_callbacks):
    party = listed_person(firm, residence_country="GB", nationalities=["GB"])
    case = submitted_case(firm, advisor, party, django_capture_on_commit_callbacks)
    alert = ScreeningAlert.objects.get(party=party)
    services.alert_confirm(alert=alert, actor=officer, note="DOB and passport match the SDN entry")
    case.refresh_from_db()
    case.relationship.refresh_from_db()
    assert case.state == CaseState.REJECTED
    assert case.relationship.state == RelationshipState.SUSPENDED
    rejected = events_for(case).get(event_type="case.rejected")
    assert rejected.reason == services.NEUTRAL_FIRM_MESSAGE and "6330" not in rejected.reason
    with pytest.raises(RelationshipNotActive, match="compliance has declined"):
        onboarding.assert_relationship_active(party=party, firm=firm)


def test_owners_of_an_entity_client_are_screened_on_submission(
        packs, firm, advisor, ofac_active, django_capture_on_commit_callbacks):
    company = EntityFactory(firm=firm, legal_name="Harbor Holdings Ltd")
    owner = listed_person(firm)
    onboarding.ownership_link_add(owner=owner, owned=company, actor=advisor, percentage=Decimal("60"))
    case = onboarding.case_create(firm=firm, party=company, actor=advisor, jurisdiction="GB")
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.case_submit(case=case, actor=advisor)
    alert = ScreeningAlert.objects.get()
    assert alert.party == owner and alert.case_id == case.pk
    assert any(i.code == "screening.alert_open" and i.subject == f"party:{owner.pk}"
               for i in case_outstanding(case))


def active_relationship(firm, party):
    from onboarding.models import Relationship

    relationship = Relationship.objects.create(firm=firm, party=party)
    Relationship.objects.filter(pk=relationship.pk).update(state=RelationshipState.ACTIVE)  # as if approved
    relationship.refresh_from_db()
    return relationship


def test_a_change_of_name_rescreens_and_opens_an_event_review(
        firm, advisor, ofac_active, django_capture_on_commit_callbacks):
    party = PersonFactory(firm=firm, given_names="Julio", family_name="Smith", date_of_birth=None,
                          residence_country="CO", nationalities=["CO"])
    relationship = active_relationship(firm, party)
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.party_update(party=party, actor=advisor, family_name="Nasser David", given_names="Julio Cesar")
    alert = ScreeningAlert.objects.get()
    assert alert.party == party and alert.party_version == 2
    review = OnboardingCase.objects.get(party=party, kind=CaseKind.EVENT_REVIEW)
    assert review.state == CaseState.DRAFT
    relationship.refresh_from_db()
    assert relationship.state == RelationshipState.UNDER_REVIEW


def test_a_change_of_residence_opens_an_event_review_without_a_hit(
        firm, advisor, ofac_active, django_capture_on_commit_callbacks):
    party = PersonFactory(firm=firm, given_names="Emma", family_name="Laurent")
    active_relationship(firm, party)
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.party_update(party=party, actor=advisor, residence_country="FR")
    assert not ScreeningAlert.objects.exists()
    review = OnboardingCase.objects.get(party=party, kind=CaseKind.EVENT_REVIEW)
    assert "residence_country" in events_for(review).get(event_type="case.created").reason


def test_a_list_update_rescreens_the_book_against_what_changed(
        tmp_path, firm, ofac_active, django_capture_on_commit_callbacks):
    from onboarding.models import Relationship

    party = PersonFactory(firm=firm, given_names="Pyotr", family_name="Ivanov", date_of_birth=None)
    Relationship.objects.create(firm=firm, party=party)
    assert services.screen_party(party=party, trigger="manual") == []
    sdn = SDN + '9003,"IVANOV, Pyotr","individual","RUSSIA-EO14024",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"DOB 1960."\n'
    with django_capture_on_commit_callbacks(execute=True):
        snapshot = services.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "v2", sdn=sdn))
    alert = ScreeningAlert.objects.get()
    assert alert.entry_ref == "9003" and alert.party == party
    run = ScreeningRun.objects.filter(party=party).first()
    assert run.trigger == f"list_update:ofac:v{snapshot.version}"
    # Idempotent: running the chunk again opens nothing new.
    from compliance.tasks import rescreen_chunk

    assert rescreen_chunk(snapshot.pk, [party.pk]) == 0


def ftm_pep_file(tmp_path):
    path = tmp_path / "peps.json"
    path.write_text(json.dumps({
        "id": "Q-lopez", "schema": "Person", "target": True, "datasets": ["everypolitician"],
        "topics": ["role.pep"],
        "properties": {"name": ["Maria Fernanda Lopez"], "birthDate": ["1965-04-02"], "nationality": ["mx"],
                       "position": ["Senator"]}}) + "\n", encoding="utf-8")
    return path


def test_a_confirmed_pep_match_marks_the_party_pep_and_rates_the_case_high_instead_of_declining(
        tmp_path, packs, firm, advisor, officer, django_capture_on_commit_callbacks):
    services.risk_models_load()
    services.watchlist_import(source="ftm", paths=[ftm_pep_file(tmp_path)])
    party = onboarding.party_create(firm=firm, actor=advisor, kind="person", given_names="Maria Fernanda",
                                    family_name="Lopez", date_of_birth="1965-04-02", residence_country="GB",
                                    nationalities=["MX"])
    case = onboarding.case_create(firm=firm, party=party, actor=advisor, jurisdiction="GB")
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.case_submit(case=case, actor=advisor)
    alert = ScreeningAlert.objects.get(party=party)
    assert alert.is_pep and alert.source == "ftm"
    with django_capture_on_commit_callbacks(execute=True):
        services.alert_confirm(alert=alert, actor=officer, note="she is the senator")
    party.refresh_from_db()
    case.refresh_from_db()
    assert party.is_pep
    assert case.state == CaseState.SUBMITTED and case.risk_level == "high"
    assert [i for i in case_outstanding(case) if i.category == "screening"] == []


def test_a_new_owner_is_screened_and_the_owned_client_goes_to_early_review(
        firm, advisor, ofac_active, django_capture_on_commit_callbacks):
    company = EntityFactory(firm=firm, legal_name="Harbor Holdings Ltd")
    active_relationship(firm, company)
    owner = listed_person(firm)
    with django_capture_on_commit_callbacks(execute=True):
        onboarding.ownership_link_add(owner=owner, owned=company, actor=advisor, percentage=Decimal("40"))
    assert ScreeningAlert.objects.get().party == owner
    review = OnboardingCase.objects.get(party=company, kind=CaseKind.EVENT_REVIEW)
    assert events_for(review).get(event_type="case.created").reason == "change of ownership"


def test_the_book_for_delta_screening_is_clients_and_everyone_above_them(firm, advisor):
    from compliance.selectors import book_party_ids

    company = EntityFactory(firm=firm)
    holding = EntityFactory(firm=firm)
    person = PersonFactory(firm=firm)
    stranger = PersonFactory(firm=firm)
    active_relationship(firm, company)
    onboarding.ownership_link_add(owner=holding, owned=company, actor=advisor, percentage=Decimal("100"))
    onboarding.ownership_link_add(owner=person, owned=holding, actor=advisor, percentage=Decimal("100"))
    assert book_party_ids() == sorted([company.pk, holding.pk, person.pk])
    assert stranger.pk not in book_party_ids()


def test_the_database_refuses_a_second_active_snapshot_and_a_duplicate_live_alert(firm, ofac_active):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        WatchlistSnapshot.objects.create(source="ofac", version=99, is_active=True)
    [alert] = services.screen_party(party=listed_person(firm), trigger="manual")
    with pytest.raises(IntegrityError), transaction.atomic():
        ScreeningAlert.objects.create(firm=firm, party=alert.party, source="ofac", entry_ref=alert.entry_ref,
                                      entry_hash="x", entry_name="x", party_version=1, score=Decimal("0.9"))
    with pytest.raises(IntegrityError), transaction.atomic():
        ScreeningAlert.objects.create(firm=firm, party=alert.party, source="ofac", entry_ref="other",
                                      entry_hash="x", entry_name="x", party_version=1, score=Decimal("1.5"))


def test_an_import_failing_halfway_through_the_write_leaves_the_previous_snapshot_active(
        tmp_path, ofac_active, monkeypatch):
    calls = {"n": 0}
    real_bulk_create = WatchlistEntry.objects.bulk_create

    def failing_bulk_create(objs, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real_bulk_create(objs, *args, **kwargs)

    monkeypatch.setattr(WatchlistEntry.objects, "bulk_create", failing_bulk_create)
    with pytest.raises(RuntimeError):
        services.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "v2"), batch_size=2)
    assert list(WatchlistSnapshot.objects.all()) == [ofac_active]
    assert WatchlistSnapshot.objects.get().is_active and WatchlistEntry.objects.count() == 6


def test_a_delisted_entry_flags_its_live_alerts_for_the_officer(tmp_path, firm, ofac_active):
    [alert] = services.screen_party(party=listed_person(firm), trigger="manual")
    sdn = "\n".join(line for line in SDN.splitlines() if not line.startswith("6330,")) + "\n"
    services.watchlist_import(source="ofac", paths=write_ofac(tmp_path / "v2", sdn=sdn))
    alert.refresh_from_db()
    assert alert.state == AlertState.OPEN
    assert events_for(alert).filter(event_type="screening.entry_delisted").count() == 1


def test_a_party_whose_passport_number_is_listed_alerts_whatever_its_name(firm, advisor, ofac_active):
    party = PersonFactory(firm=firm, given_names="Pedro", family_name="Gomez")
    onboarding.party_add_identifier(party=party, actor=advisor, kind="passport", country="CO", value="H130865")
    [alert] = services.screen_party(party=party, trigger="manual")
    assert alert.entry_ref == "6330" and alert.score == Decimal("1")
    assert {"feature": "identifier", "value": "H130865"} in alert.explanation["matched"]


def test_a_new_alert_is_announced_to_the_firm_by_webhook_without_list_details(firm, ofac_active):
    from onboarding.models import WebhookDelivery
    from onboarding.webhooks import webhook_register

    webhook_register(firm=firm, url="http://127.0.0.1:9/hook", events=["alert.raised"])
    party = listed_person(firm)
    [alert] = services.screen_party(party=party, trigger="manual")
    delivery = WebhookDelivery.objects.get(event_type="alert.raised")
    assert delivery.payload["data"] == {"alert": alert.pk, "party": party.pk, "case": None}
    assert "Nasser" not in json.dumps(delivery.payload) and "6330" not in json.dumps(delivery.payload)
