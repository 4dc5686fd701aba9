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
