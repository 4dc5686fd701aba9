"""Setting an account up from the portal after approval: add the custody account, activate it
(the real activation gate: an active relationship and current tax forms), record the deposit
under the firm's approval policy, and subscribe it to a published model. Every step calls the
same service as the API; nothing here stubs the gate."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from accounts import services
from accounts.demo import custodians_demo, model_demo
from accounts.models import Account, ApprovalPolicy, ModelSubscription, Transaction
from onboarding.models import AuditEvent, Relationship
from tests.factories import PersonFactory, UserFactory, tax_documented
from trading.reference.demo import reference_demo

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference():
    ref = reference_demo(price_date=dt.date(2026, 11, 20))
    custodians_demo()
    return ref


@pytest.fixture
def owner(firm):
    return PersonFactory(firm=firm, given_names="Hugo", family_name="Holder", residence_country="CH")


@pytest.fixture
def pending(firm, advisor, owner, reference):
    return services.account_open(firm=firm, owner=owner, number="TW-100", name="Hugo Holder global",
                                 base_currency="GBP", booking_centre="offshore", booking_jurisdiction="CH", actor=advisor)


def _custodian_id(name: str) -> int:
    from accounts.models import Custodian

    return Custodian.objects.get(name=name).pk


def test_the_account_page_walks_a_pending_account_through_its_setup(signed_in, pending):
    page = signed_in.get(reverse("portal:account_detail", args=[pending.pk])).content.decode()
    assert "Setting the account up" in page and "Add the custody account" in page
    assert 'id="custody"' in page  # the form is on the page, not a pointer to the API
    assert "/api/v1/" not in page


def test_activation_is_refused_in_words_while_the_relationship_is_not_active(signed_in, pending):
    signed_in.post(reverse("portal:account_custody_add", args=[pending.pk]),
                   {"custodian": _custodian_id("Citibank London"), "number": "TW-100-EU"})
    assert pending.custody_accounts.get().number == "TW-100-EU"
    response = signed_in.post(reverse("portal:account_activate", args=[pending.pk]), follow=True)
    pending.refresh_from_db()
    assert pending.status == "pending"
    text = response.content.decode()
    assert "TW-100 is not activated" in text


def test_an_advisor_sets_up_funds_and_subscribes_an_account_through_the_real_gate(signed_in, pending, owner, firm,
                                                                                reference):
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    signed_in.post(reverse("portal:account_custody_add", args=[pending.pk]),
                   {"custodian": _custodian_id("Citibank London"), "number": "TW-100-EU"})
    response = signed_in.post(reverse("portal:account_activate", args=[pending.pk]), follow=True)
    assert "TW-100 is active. Next: fund it." in response.content.decode()
    custody = pending.custody_accounts.get()

    form = signed_in.get(reverse("portal:account_deposit", args=[pending.pk]))
    assert form.status_code == 200 and form.context["form"].initial["currency"] == "GBP"
    response = signed_in.post(reverse("portal:account_deposit", args=[pending.pk]), {
        "custody_account": custody.pk, "currency": "gbp", "amount": "250000.00", "value_date": "2026-11-16",
        "external_ref": "SWIFT-1"})
    assert response.status_code == 302, response.context["form"].errors
    deposit = Transaction.objects.get(account=pending, kind="deposit")
    assert deposit.external_ref == "SWIFT-1"
    assert [(m.currency, m.amount) for m in deposit.movements.all()] == [("GBP", Decimal("250000.00"))]

    model = model_demo(ref=reference, effective_from=dt.date(2026, 11, 20))
    page = signed_in.get(reverse("portal:account_subscribe", args=[pending.pk])).content.decode()
    assert "Global equity (GBP) (version 1, Meridian Demo AM)" in page
    response = signed_in.post(reverse("portal:account_subscribe", args=[pending.pk]),
                              {"model": model.pk, "start_date": "2026-11-20", "follow_latest": "on"}, follow=True)
    assert "TW-100 follows Global equity (GBP) from 20 Nov 2026" in response.content.decode()
    assert ModelSubscription.objects.get(account=pending, status="active").model == model
    assert AuditEvent.objects.filter(event_type="account.subscribed", subject_id=str(pending.pk)).exists()
    # All four steps done: the setup panel gives way to the account's own actions
    page = signed_in.get(reverse("portal:account_detail", args=[pending.pk])).content.decode()
    assert "Setting the account up" not in page and "Record a deposit" in page


@pytest.fixture
def active(pending, owner, firm, advisor):
    Relationship.objects.create(firm=firm, party=owner, state="active")
    tax_documented(owner)
    from accounts.models import Custodian

    services.custody_account_add(account=pending, custodian=Custodian.objects.get(name="Citibank London"),
                                 number="TW-100-EU", actor=advisor)
    return services.account_activate(account=pending, actor=advisor)


def test_a_deposit_above_the_firms_limit_for_advisors_is_refused_and_nothing_is_booked(signed_in, active, firm):
    """The firm's approval policy (accounts.approvals) applies to the portal as to the API: an
    advisor's deposit limit of GBP 100,000 refuses GBP 100,000.01."""
    ApprovalPolicy.objects.create(firm=firm, deposit_limit=Decimal("100000"))
    response = signed_in.post(reverse("portal:account_deposit", args=[active.pk]), {
        "custody_account": active.custody_accounts.get().pk, "currency": "GBP", "amount": "100000.01",
        "value_date": "2026-11-16"})
    assert response.status_code == 422
    assert "100,000" in str(response.context["form"].errors)
    assert not Transaction.objects.filter(account=active).exists()


def test_a_role_the_policy_does_not_name_may_not_book_a_deposit(signed_in, active, firm):
    ApprovalPolicy.objects.create(firm=firm, deposit_roles=["operations"])
    response = signed_in.post(reverse("portal:account_deposit", args=[active.pk]), {
        "custody_account": active.custody_accounts.get().pk, "currency": "GBP", "amount": "10",
        "value_date": "2026-11-16"})
    assert response.status_code == 422
    assert "an advisor may not approve deposits at this firm" in str(response.context["form"].errors)


def test_a_deposit_on_a_pending_account_is_refused_by_the_gate(signed_in, pending, advisor):
    from accounts.models import Custodian

    custody = services.custody_account_add(account=pending, custodian=Custodian.objects.get(name="Citibank London"),
                                           number="TW-100-EU", actor=advisor)
    response = signed_in.post(reverse("portal:account_deposit", args=[pending.pk]), {
        "custody_account": custody.pk, "currency": "GBP", "amount": "10", "value_date": "2026-11-16"})
    assert response.status_code == 422
    assert not Transaction.objects.filter(account=pending).exists()


def test_another_firm_cannot_reach_the_setup_pages(client, other_advisor, pending):
    client.force_login(other_advisor)
    for name in ("account_deposit", "account_subscribe"):
        assert client.get(reverse(f"portal:{name}", args=[pending.pk])).status_code == 404
    assert client.post(reverse("portal:account_activate", args=[pending.pk])).status_code == 404
    assert Account.objects.get(pk=pending.pk).status == "pending"


def test_a_platform_officer_reads_the_account_but_does_not_fund_it(client, pending):
    officer = UserFactory(firm=None, role="compliance_officer", username="olive")
    client.force_login(officer)
    assert client.get(reverse("portal:account_deposit", args=[pending.pk])).status_code == 403
