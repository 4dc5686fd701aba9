"""Data for the load benchmark (`bench_api`): one firm, an advisor, cases to read and fresh
parties to open cases for. Bulk inserts where the services would only repeat themselves."""
from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from django.db import transaction

from . import services
from .models import Firm, Party, Role, User


@dataclass
class BenchFirm:
    firm: Firm
    advisor: User
    password: str
    case_ids: list[int]
    fresh_party_ids: list[int]


@transaction.atomic
def seed_bench_firm(*, parties: int = 3000, cases: int = 200) -> BenchFirm:
    tag = secrets.token_hex(3)
    services.rulepacks_load()
    firm = Firm.objects.create(name=f"Bench Firm {tag}", kind="ria", home_jurisdiction="GB")
    password = secrets.token_urlsafe(12)
    advisor = User.objects.create(username=f"bench-{tag}", firm=firm, role=Role.ADVISOR)
    advisor.set_password(password)
    advisor.save()
    rows = [
        Party(firm=firm, kind="person", client_type="individual", given_names=f"Bench{i}", family_name=tag,
              date_of_birth=dt.date(1970, 1, 1) + dt.timedelta(days=i % 9000), residence_country="GB",
              nationalities=["GB"])
        for i in range(parties + cases)
    ]
    created = Party.objects.bulk_create(rows, batch_size=1000)
    case_ids = []
    for party in created[:cases]:
        case = services.case_create(firm=firm, party=party, actor=advisor)
        case_ids.append(services.case_submit(case=case, actor=advisor).pk)
    return BenchFirm(firm=firm, advisor=advisor, password=password, case_ids=case_ids,
                     fresh_party_ids=[p.pk for p in created[cases:]])
