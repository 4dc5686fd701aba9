"""Admin pages for tax forms, treaty rates and withholding rules load, and mask TINs."""
from __future__ import annotations

import pytest
from django.urls import reverse

from compliance.tax import services
from compliance.tax.admin import mask_sensitive

from .factories import PersonFactory
from .samples import SIGNED, TODAY, form

pytestmark = pytest.mark.django_db


@pytest.fixture
def officer_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("officer", "o@example.com", "pw", role="compliance_officer")
    client.force_login(user)
    return client


def test_admin_lists_and_pages_load_and_tins_are_masked(officer_client):
    services.tax_rules_load()
    f = services.tax_form_capture(party=PersonFactory(), form_type="W8BEN", data=form("W8BEN"), signed_on=SIGNED,
                                  today=TODAY)
    for name in ("taxform", "treatyrate", "withholdingrule", "formrule", "reportinginstitution", "taxreportrun",
                 "withholdingstatus"):
        assert officer_client.get(reverse(f"admin:tax_{name}_changelist")).status_code == 200, name
    assert officer_client.get(reverse("admin:tax_taxform_changelist") + "?expiring=soon").status_code == 200
    page = officer_client.get(reverse("admin:tax_taxform_change", args=[f.pk])).content.decode()
    assert "1955839661" not in page and "9661" in page


def test_masking_reaches_nested_tins():
    data = {"tax_residences": [{"country": "GB", "tin": "1955839661"}], "us_tin": "536904399", "name": "A"}
    masked = mask_sensitive(data)
    assert masked["tax_residences"][0]["tin"].endswith("9661") and "1955" not in masked["tax_residences"][0]["tin"]
    assert masked["us_tin"].endswith("4399") and masked["name"] == "A"


def test_editing_a_treaty_rate_in_the_admin_is_audited(officer_client):
    from decimal import Decimal

    from compliance.tax.models import TreatyRate
    from onboarding.audit import events_for

    services.tax_rules_load()
    row = TreatyRate.objects.get(country="IN", income_type="dividends")
    url = reverse("admin:tax_treatyrate_change", args=[row.pk])
    response = officer_client.post(url, {
        "country": "IN", "income_type": "dividends", "article": row.article, "rate": "20", "source": row.source,
        "effective_from": row.effective_from.isoformat(), "version": row.version, "is_active": "on",
    })
    assert response.status_code == 302, response.content[:2000]
    row.refresh_from_db()
    assert row.rate == Decimal("20")
    event = events_for(row).get()
    assert event.event_type == "tax.rule_changed" and event.detail["fields"] == ["rate"]
    assert event.actor.username == "officer"
