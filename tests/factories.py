"""factory_boy factories shared by every app's tests."""
from __future__ import annotations

import datetime as dt

import factory

from onboarding.models import Firm, Party, Role, User


class FirmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Firm

    name = factory.Sequence(lambda n: f"Firm {n}")
    kind = "ria"
    home_jurisdiction = "GB"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}")
    firm = factory.SubFactory(FirmFactory)
    role = Role.ADVISOR
    password = factory.PostGenerationMethodCall("set_password", "pw")


class OfficerFactory(UserFactory):
    firm = None
    role = Role.COMPLIANCE_OFFICER
    is_staff = True


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    firm = factory.SubFactory(FirmFactory)
    kind = "person"
    client_type = "individual"
    given_names = factory.Sequence(lambda n: f"Given{n}")
    family_name = "Doe"
    date_of_birth = dt.date(1970, 1, 1)
    residence_country = "GB"
    nationalities = ["GB"]


class EntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Party

    firm = factory.SubFactory(FirmFactory)
    kind = "entity"
    client_type = "corporation"
    legal_name = factory.Sequence(lambda n: f"Entity {n} Ltd")
    date_of_incorporation = dt.date(2005, 5, 5)
    country_of_incorporation = "GB"
