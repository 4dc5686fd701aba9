"""Demo tax documents for the demo clients, so their cases can be approved."""
from __future__ import annotations

import datetime as dt

from django.utils import timezone

from . import services

ADDRESS = {
    "GB": {"line1": "1 Demo Street", "city": "London", "postal_code": "SW1A 1AA", "country": "GB"},
    "KY": {"line1": "Ugland House, 121 South Church Street", "city": "George Town", "country": "KY"},
    "US": {"line1": "1 Demo Street", "city": "New York", "region": "US-NY", "postal_code": "10001", "country": "US"},
    "CH": {"line1": "1 Demo Strasse", "city": "Zurich", "postal_code": "8001", "country": "CH"},
}


def seed(ctx) -> None:
    signed = timezone.localdate() - dt.timedelta(days=30)
    alice = ctx.parties.get("alice")
    if alice is not None:
        services.tax_form_capture(party=alice, form_type="W8BEN", signed_on=signed, data={
            "name": "Alice Carter", "citizenship": "GB", "permanent_address": ADDRESS["GB"],
            "date_of_birth": "1975-04-12", "foreign_tin": "1955839661",
            "treaty_claim": {"country": "GB", "article": "10(2)(b)", "rate": "15", "income_type": "dividends"},
            "signer_name": "Alice Carter", "certified": True})
        services.tax_form_capture(party=alice, form_type="CRS_IND", signed_on=signed, data={
            "name": "Alice Carter", "date_of_birth": "1975-04-12", "residence_address": ADDRESS["GB"],
            "tax_residences": [{"country": "GB", "tin": "1955839661"}], "signer_name": "Alice Carter"})
    edelweiss = ctx.parties.get("edelweiss")
    if edelweiss is not None:
        heidi = edelweiss.owners.filter(owner__kind="person").first().owner
        services.tax_form_capture(party=edelweiss, form_type="W8BENE", signed_on=signed, data={
            "name": edelweiss.legal_name, "country_of_incorporation": "KY", "chapter3_status": "corporation",
            "chapter4_status": "passive_nffe", "permanent_address": ADDRESS["KY"], "foreign_tin": "",
            "foreign_tin_not_required": True, "no_substantial_us_owners": True, "signer_name": "Heidi Brunner", "certified": True})
        services.tax_form_capture(party=edelweiss, form_type="CRS_ENT", signed_on=signed, data={
            "name": edelweiss.legal_name, "address": ADDRESS["KY"], "crs_classification": "passive_nfe",
            "tax_residences": [{"country": "KY", "no_tin_reason": "A"}],
            "controlling_persons": [{"name": "Heidi Brunner", "role": "CRS801",
                                     "tax_residences": [{"country": "CH", "tin": "7569217076985"}]}],
            "signer_name": "Heidi Brunner"})
        services.tax_form_capture(party=heidi, related_party=edelweiss, form_type="CRS_CP", signed_on=signed, data={
            "name": "Heidi Brunner", "date_of_birth": "1960-07-07", "residence_address": ADDRESS["CH"],
            "tax_residences": [{"country": "CH", "tin": "7569217076985"}], "entity_name": edelweiss.legal_name,
            "role": "CRS801", "signer_name": "Heidi Brunner"})
    bob = ctx.parties.get("bob")
    if bob is not None:
        services.tax_form_capture(party=bob, form_type="W9", signed_on=signed, data={
            "name": "Robert Miller", "tax_classification": "individual", "address": ADDRESS["US"],
            "tin": "536-90-4399", "signer_name": "Robert Miller", "certified": True})
