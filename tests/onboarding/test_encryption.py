"""Sensitive fields are encrypted at rest, masked for display, and keys can be rotated."""
import datetime as dt

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from onboarding import services
from onboarding.crypto import mask
from onboarding.models import Party, PartyIdentifier, TaxResidence
from tests.factories import FirmFactory, PersonFactory

pytestmark = pytest.mark.django_db


def raw(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_tax_ids_passports_and_dates_of_birth_are_ciphertext_in_the_database():
    party = PersonFactory(firm=FirmFactory(), date_of_birth=dt.date(1980, 2, 3))
    ident = services.party_add_identifier(party=party, actor=None, kind="tax_id", country="US", value="536-90-4399")
    residence = services.party_set_tax_residence(party=party, actor=None, country="US", tin="536-90-4399")
    assert "536904399" not in raw("onboarding_partyidentifier", "value", ident.pk)
    assert "536904399" not in raw("onboarding_taxresidence", "tin", residence.pk)
    assert "1980" not in str(raw("onboarding_party", "date_of_birth", party.pk))
    assert PartyIdentifier.objects.get(pk=ident.pk).value == "536904399"
    assert TaxResidence.objects.get(pk=residence.pk).tin == "536904399"
    assert Party.objects.get(pk=party.pk).date_of_birth == dt.date(1980, 2, 3)


def test_the_same_identifier_is_recognised_through_its_blind_index():
    party = PersonFactory(firm=FirmFactory())
    first = services.party_add_identifier(party=party, actor=None, kind="passport", country="GB", value="123456789")
    again = services.party_add_identifier(party=party, actor=None, kind="passport", country="GB", value="123 456 789")
    assert first.pk == again.pk
    assert PartyIdentifier.objects.count() == 1


def test_values_are_masked_for_display():
    assert mask("536904399") == "•••••4399"
    assert mask("1234") == "••••"
    party = PersonFactory(firm=FirmFactory())
    ident = services.party_add_identifier(party=party, actor=None, kind="passport", country="GB", value="123456789")
    assert "123456789" not in str(ident)
    assert ident.masked_value == "•••••6789"


def test_keys_rotate_without_losing_data(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    party = PersonFactory(firm=FirmFactory(), date_of_birth=dt.date(1975, 5, 6))
    ident = services.party_add_identifier(party=party, actor=None, kind="passport", country="GB", value="987654321")
    before = raw("onboarding_partyidentifier", "value", ident.pk)
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_keys")
    after = raw("onboarding_partyidentifier", "value", ident.pk)
    assert after != before
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone: everything still reads
    assert PartyIdentifier.objects.get(pk=ident.pk).value == "987654321"
    assert Party.objects.get(pk=party.pk).date_of_birth == dt.date(1975, 5, 6)
