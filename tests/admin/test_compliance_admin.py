"""The compliance officer's admin: work queues, the case page with its checklist and buttons,
transitions through services, four-eyes visible in the buttons."""
import pytest
from django.core.management import call_command
from django.test import Client

from onboarding.models import CaseState, OnboardingCase, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("rulepacks", "load")
    call_command("seed_demo")


def signed_in(username):
    client = Client()
    assert client.login(username=username, password="meridian-demo")
    return client


def test_officers_see_the_work_queues_with_the_waiting_cases(demo):
    page = signed_in("officer").get("/admin/queues/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Cases awaiting review" in text and "Awaiting a second approval" in text
    assert "Edelweiss Holdings (Cayman) Ltd" in text  # awaiting the second approval


def test_firm_users_cannot_enter_the_admin(demo):
    client = signed_in("thames-advisor")
    assert client.get("/admin/queues/").status_code == 302
    assert client.get("/admin/onboarding/onboardingcase/").status_code == 302


def test_the_case_page_shows_checklist_owners_audit_and_only_allowed_buttons(demo):
    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    first = signed_in(case.first_approver.username).get(f"/admin/onboarding/onboardingcase/{case.pk}/change/")
    assert first.status_code == 200
    text = first.content.decode()
    assert "Heidi Brunner" in text  # ownership chart
    assert "First approval given" in text and "case.first_approval" not in text  # audit trail in words
    assert "Startreview" not in text and "Requestinformation" not in text
    assert "Reject" in text and 'name="reason"' in text and "required" in text  # every decision takes a rationale
    assert "/transition/approve/" not in text  # four-eyes: no approve button for the first approver
    other = User.objects.filter(role="compliance_officer", is_superuser=False).exclude(pk=case.first_approver_id).first()
    second = signed_in(other.username).get(f"/admin/onboarding/onboardingcase/{case.pk}/change/")
    assert "/transition/approve/" in second.content.decode()


def test_a_button_runs_the_service_and_reports_outstanding_requirements(demo):
    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    other = User.objects.filter(role="compliance_officer", is_superuser=False).exclude(pk=case.first_approver_id).first()
    client = signed_in(other.username)
    refused = client.post(f"/admin/onboarding/onboardingcase/{case.pk}/transition/approve/", follow=True)
    assert "give the rationale" in refused.content.decode()  # no rationale, no decision
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_SECOND_APPROVAL
    response = client.post(f"/admin/onboarding/onboardingcase/{case.pk}/transition/approve/",
                           {"reason": "Documents and screening reviewed; structure explained."}, follow=True)
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
    draft = OnboardingCase.objects.filter(state=CaseState.IN_REVIEW).first()
    response = client.post(f"/admin/onboarding/onboardingcase/{draft.pk}/transition/approve/",
                           {"reason": "looks fine"}, follow=True)
    draft.refresh_from_db()
    assert draft.state == CaseState.IN_REVIEW
    assert "outstanding" in response.content.decode()


def test_an_officer_edits_a_rule_pack_in_the_admin_as_a_new_version(demo):
    import yaml

    from onboarding.models import RulePack

    pack = RulePack.objects.get(code="GB", version=1)
    content = dict(pack.content)
    content["rules"][0]["set"]["beneficial_ownership"]["threshold"] = 20
    client = signed_in("officer")
    bad = client.post(f"/admin/onboarding/rulepack/{pack.pk}/change/",
                      {"content_yaml": "code: GB\nrules: []\n", "reason": "test"})
    assert bad.status_code == 200 and "required property" in bad.content.decode()
    response = client.post(f"/admin/onboarding/rulepack/{pack.pk}/change/",
                           {"content_yaml": yaml.safe_dump(content), "reason": "FCA guidance"})
    assert response.status_code == 302
    assert RulePack.objects.get(code="GB", version=1).content["rules"][0]["set"]["beneficial_ownership"]["threshold"] == 25
    newer = RulePack.objects.get(code="GB", version=2)
    assert newer.content["rules"][0]["set"]["beneficial_ownership"]["threshold"] == 20
    assert newer.created_by.username == "officer"
    assert client.get(f"/admin/onboarding/rulepack/{pack.pk}/change/").status_code == 200  # view only now


def test_an_officer_exports_a_cases_audit_trail(demo):
    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    response = signed_in("officer").get(f"/admin/onboarding/onboardingcase/{case.pk}/audit.csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    text = response.content.decode()
    assert "case.first_approval" in text and "party.created" in text


def test_an_officers_correction_of_a_party_in_the_admin_is_audited(demo):
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    from onboarding.models import AuditEvent, Party

    party = Party.objects.get(given_names="Alice")
    officer = User.objects.get(username="officer")
    model_admin = site._registry[Party]
    request = RequestFactory().post("/")
    request.user = officer
    form_class = model_admin.get_form(request, party, change=True)
    assert "firm" not in form_class.base_fields  # the party's firm is evidence, never edited here
    data = {name: getattr(party, name) for name in form_class.base_fields if name not in ("nationalities", "correction_reason")}
    data.update(email="alice.carter@example.com", residence_country="FR", nationalities=["GB"], correction_reason="")
    form = form_class(data=data, instance=Party.objects.get(pk=party.pk))
    assert not form.is_valid() and "correction_reason" in form.errors  # no correction without a reason
    data["correction_reason"] = "Client moved to Paris (letter of 2 March on file)"
    form = form_class(data=data, instance=party)
    assert form.is_valid(), form.errors
    model_admin.save_model(request, form.save(commit=False), form, change=True)
    party.refresh_from_db()
    assert party.residence_country == "FR" and party.version == 2
    event = AuditEvent.objects.get(event_type="party.corrected", subject_id=str(party.pk))
    assert {"email", "residence_country"} <= set(event.detail["fields"])
    assert "residence_country" in event.detail["material"] and event.actor == officer
    assert event.reason == "Client moved to Paris (letter of 2 March on file)"


def test_evidence_is_read_only_and_there_is_no_bulk_approval(demo):
    from onboarding.models import Document, Party, TaxResidence

    client = signed_in("officer")
    changelist = client.get("/admin/onboarding/onboardingcase/").content.decode()
    assert 'name="action"' not in changelist  # no bulk actions, so no bulk approve
    document = Document.objects.first()
    page = client.get(f"/admin/onboarding/document/{document.pk}/change/").content.decode()
    i = page.find("/media/")
    assert i < 0, page[i - 300:i + 100]
    assert 'type="file"' not in page and "Save" not in page
    assert client.post(f"/admin/onboarding/document/{document.pk}/delete/").status_code == 403
    party = Party.objects.exclude(nationalities=[]).first()
    party_page = client.get(f"/admin/onboarding/party/{party.pk}/change/").content.decode()
    assert "TaxResidence object" not in party_page
    assert '["' not in party_page.split('id="id_nationalities"')[0][-2000:]  # nationalities offered by name
    residence = TaxResidence.objects.first()
    assert str(residence).startswith("Tax resident in ")


def test_plurals_read_as_english():
    from compliance.models import ClearedMatch
    from trading.reconciliation.models import BookCash

    assert str(ClearedMatch._meta.verbose_name_plural) == "cleared matches"
    assert str(BookCash._meta.verbose_name_plural) == "book cash balances"
