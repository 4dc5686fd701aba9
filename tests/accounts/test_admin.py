"""Every model is in the admin, and its change lists render."""
import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("label", ["accounts", "reference"])
def test_every_model_is_registered(label):
    missing = [m.__name__ for m in apps.get_app_config(label).get_models() if m not in admin.site._registry]
    assert missing == []


def test_change_lists_render_for_a_superuser(client, booked, ref):
    user = UserFactory(is_staff=True, is_superuser=True, firm=None, role="compliance_officer")
    client.force_login(user)
    for label in ("accounts", "reference"):
        for model in apps.get_app_config(label).get_models():
            url = reverse(f"admin:{label}_{model._meta.model_name}_changelist")
            assert client.get(url).status_code == 200, url


def test_a_settlement_cycle_edited_in_the_admin_is_audited(client, ref):
    from onboarding.audit import events_for
    from trading.reference.models import SettlementCycle

    user = UserFactory(is_staff=True, is_superuser=True, firm=None, role="compliance_officer")
    client.force_login(user)
    cycle = SettlementCycle.objects.get(market__mic="XTKS")
    url = reverse("admin:reference_settlementcycle_change", args=[cycle.pk])
    response = client.post(url, {"market": cycle.market_id, "instrument_type": "", "days": 1, "cash_days": "",
                                 "effective_from": "2019-07-16", "source": "test: JPX T+1", "version": "x"})
    assert response.status_code == 302
    cycle.refresh_from_db()
    assert cycle.days == 1
    event = events_for(cycle).get()
    assert event.event_type == "reference.rule_changed" and event.actor == user
    assert set(event.detail["fields"]) >= {"days", "source"}


def test_the_admin_activate_action_goes_through_the_gate(client, firm, custodians):
    from accounts.models import Account
    from onboarding.models import Relationship
    from tests.accounts.conftest import make_account
    from tests.factories import PersonFactory, tax_documented

    user = UserFactory(is_staff=True, is_superuser=True, firm=None, role="compliance_officer")
    client.force_login(user)
    ok_owner, blocked_owner = PersonFactory(firm=firm), PersonFactory(firm=firm)
    Relationship.objects.create(firm=firm, party=ok_owner, state="active")
    Relationship.objects.create(firm=firm, party=blocked_owner, state="pending")
    tax_documented(ok_owner)
    tax_documented(blocked_owner)
    good, _ = make_account(firm, ok_owner, custodians, number="ADM-1", activate=False)
    bad, _ = make_account(firm, blocked_owner, custodians, number="ADM-2", activate=False)
    client.post(reverse("admin:accounts_account_changelist"),
                {"action": "activate_accounts", "_selected_action": [good.pk, bad.pk]})
    assert Account.objects.get(pk=good.pk).status == "active"
    assert Account.objects.get(pk=bad.pk).status == "pending"
