"""The officer's review desk: queues with risk, age, SLA, assignee and outstanding count; claim
and assign; filters; one page per case with checklist, documents, screening, risk, tax forms,
ownership and the audit trail in words; decisions in words with a mandatory rationale."""
import pytest
from django.core.management import call_command
from django.test import Client

from onboarding.models import AuditEvent, CaseState, OnboardingCase, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    call_command("rulepacks", "load")
    call_command("seed_demo")


def signed_in(username):
    client = Client()
    assert client.login(username=username, password="meridian-demo")
    return client


def test_an_officer_runs_the_day_from_the_desk(demo):
    officer = signed_in("officer")
    page = officer.get("/desk/")
    assert page.status_code == 200
    text = page.content.decode()
    for column in ("Risk", "Age (days)", "SLA due", "Assignee", "Outstanding"):
        assert column in text
    assert "Edelweiss Holdings (Cayman) Ltd" in text and "Awaiting second approval" in text.replace("a second", "second")
    # Filters by jurisdiction, client type and state
    filtered = officer.get("/desk/", {"state": "awaiting_second_approval"}).content.decode()
    assert "Edelweiss Holdings (Cayman) Ltd" in filtered
    case = OnboardingCase.objects.filter(state__in=[CaseState.SUBMITTED, CaseState.IN_REVIEW]) \
        .exclude(assigned_to__username="officer").first()
    other_state = officer.get("/desk/", {"state": "information_requested", "jurisdiction": "ZZ"}).content.decode()
    assert case.party.display_name not in other_state
    # Claim: the case moves to my work, audited
    assert f"/desk/cases/{case.pk}/" not in officer.get("/desk/mine/").content.decode()
    officer.post(f"/desk/cases/{case.pk}/assign/", {"assignee": "me", "next": "/desk/"})
    case.refresh_from_db()
    assert case.assigned_to.username == "officer"
    assert f"/desk/cases/{case.pk}/" in officer.get("/desk/mine/").content.decode()
    assert AuditEvent.objects.filter(event_type="case.claimed", subject_id=str(case.pk)).exists()
    # Assign to a colleague
    colleague = User.objects.get(username="officer2")
    officer.post(f"/desk/cases/{case.pk}/assign/", {"assignee": str(colleague.pk)})
    case.refresh_from_db()
    assert case.assigned_to == colleague


def test_the_case_page_supports_a_review_and_decisions_need_a_rationale(demo):
    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    other = User.objects.filter(role="compliance_officer", is_superuser=False).exclude(pk=case.first_approver_id).first()
    client = signed_in(other.username)
    page = client.get(f"/desk/cases/{case.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    for heading in ("Requirements checklist", "Documents", "Screening hits", "Risk rating", "Tax forms",
                    "Ownership and control", "Audit trail", "Pinned policy"):
        assert heading in text, heading
    assert "Heidi Brunner" in text  # ownership chart
    assert "First approval given" in text and "case.first_approval" not in text
    assert "awaiting_second_approval" not in text.replace('state-awaiting_second_approval', '') \
        .replace('value="awaiting_second_approval"', '')
    assert "Give the second approval" in text and "Startreview" not in text
    assert "/media/" not in text
    refused = client.post(f"/desk/cases/{case.pk}/decide/approve/", {"reason": " "}, follow=True)
    assert "write the rationale" in refused.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_SECOND_APPROVAL
    client.post(f"/desk/cases/{case.pk}/decide/approve/", {"reason": "Structure and sources of wealth verified."})
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
    event = AuditEvent.objects.filter(event_type="case.approved", subject_id=str(case.pk)).get()
    assert event.reason == "Structure and sources of wealth verified."


def test_the_first_approver_gets_no_approve_button_and_advisors_no_desk(demo):
    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    text = signed_in(case.first_approver.username).get(f"/desk/cases/{case.pk}/").content.decode()
    assert "/decide/approve/" not in text and "a second officer must approve" in text
    advisor = signed_in("thames-advisor")
    forbidden = advisor.get("/desk/")
    assert forbidden.status_code == 403 and "Meridian" in forbidden.content.decode()


def test_after_approval_the_desk_and_the_advisor_see_the_next_step_and_can_take_it(demo):
    """Approval is not a dead end: both case pages say what comes next (open an account, activate
    it, fund it, subscribe it), the advisor's links to the open-account form, and once the account
    is opened, the next step moves on to activating it."""
    from accounts.models import Account

    case = OnboardingCase.objects.get(state=CaseState.AWAITING_SECOND_APPROVAL)
    other = User.objects.filter(role="compliance_officer", is_superuser=False).exclude(pk=case.first_approver_id).first()
    officer = signed_in(other.username)
    assert "What comes next" not in officer.get(f"/desk/cases/{case.pk}/").content.decode()
    officer.post(f"/desk/cases/{case.pk}/decide/approve/", {"reason": "All verified."})
    case.refresh_from_db()
    assert case.state == CaseState.APPROVED
    desk = officer.get(f"/desk/cases/{case.pk}/").content.decode()
    assert "What comes next" in desk and "Open an account for the client" in desk
    assert "the advisor&#x27;s firm does this" in desk or "the advisor's firm does this" in desk

    advisor_user = User.objects.filter(firm=case.firm, role="advisor").first()
    advisor = Client()
    advisor.force_login(advisor_user)
    page = advisor.get(f"/cases/{case.pk}/").content.decode()
    open_url = f"/clients/accounts/open/{case.party_id}/"
    assert "What comes next" in page and f'href="{open_url}"' in page
    assert "Fund it" in page and "Subscribe it to a model portfolio" in page
    form = advisor.get(open_url)
    assert form.status_code == 200 and "Open the account" in form.content.decode()
    refused = advisor.post(open_url, {"number": "", "name": "x", "base_currency": "EU", "booking_centre": "offshore",
                                      "booking_jurisdiction": "KY"})
    assert refused.status_code == 200 and "Account number" in refused.content.decode()
    assert not Account.objects.filter(owner=case.party).exists()
    done = advisor.post(open_url, {"number": "EDW-001", "name": "Edelweiss main", "base_currency": "usd",
                                   "booking_centre": "offshore", "booking_jurisdiction": "KY"})
    account = Account.objects.get(owner=case.party, number="EDW-001")
    assert done.status_code == 302 and done["Location"] == f"/clients/accounts/{account.pk}/"
    assert account.base_currency == "USD" and account.status == "pending"
    assert AuditEvent.objects.filter(event_type="account.opened", subject_id=str(account.pk)).exists()
    page = advisor.get(f"/cases/{case.pk}/").content.decode()
    steps = page[page.index('id="next-title"'):page.index("</ol>")]
    assert steps.index("done") < steps.index("Open an account") < steps.index(">next<") < steps.index("Activate the account")
    # Another firm's adviser cannot open an account for this client
    stranger = Client()
    stranger.force_login(User.objects.exclude(firm=case.firm).filter(role="advisor").exclude(firm=None).first()
                         or User.objects.create_user("stranger", firm=None))
    assert stranger.get(open_url).status_code == 404
