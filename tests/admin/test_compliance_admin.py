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
    assert "case.first_approval" in text  # audit trail
    assert "/transition/approve/" not in text  # four-eyes: no approve button for the first approver
    other = User.objects.filter(role="compliance_officer", is_superuser=False).exclude(pk=case.first_approver_id).first()
    second = signed_in(other.username).get(f"/admin/onboarding/onboardingcase/{case.pk}/change/")
    assert "/transition/approve/" in second.content.decode()


def test_a_button_runs_the_service_and_reports_outstanding_requirements(demo):
    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    other = User.objects.filter(role="compliance_officer", is_superuser=False).exclude(pk=case.first_approver_id).first()
    client = signed_in(other.username)
    response = client.post(f"/admin/onboarding/onboardingcase/{case.pk}/transition/approve/", follow=True)
    assert response.status_code == 200
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
    draft = OnboardingCase.objects.filter(state=CaseState.IN_REVIEW).first()
    response = client.post(f"/admin/onboarding/onboardingcase/{draft.pk}/transition/approve/", follow=True)
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
