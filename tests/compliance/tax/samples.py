"""Form data samples shared by the tests: each a complete, valid form."""
from __future__ import annotations

import copy
import datetime as dt

GB_ADDRESS = {"line1": "10 Downing Street", "city": "London", "postal_code": "SW1A 2AA", "country": "GB"}
US_ADDRESS = {"line1": "1 Main Street", "city": "Springfield", "region": "US-IL", "postal_code": "62701", "country": "US"}
KY_ADDRESS = {"line1": "PO Building, 94 Solaris Avenue", "city": "George Town", "country": "KY"}

FORMS = {
    "W9": {"name": "Jane Roe", "tax_classification": "individual", "address": US_ADDRESS, "tin": "536-90-4399",
           "signer_name": "Jane Roe", "certified": True},
    "W8BEN": {"name": "Oliver Twist", "citizenship": "GB", "permanent_address": GB_ADDRESS,
              "date_of_birth": "1980-05-01", "foreign_tin": "1955839661",
              "treaty_claim": {"country": "GB", "article": "10(2)(b)", "rate": "15", "income_type": "dividends"},
              "signer_name": "Oliver Twist", "certified": True},
    "W8BENE": {"name": "Thames Holdings Ltd", "country_of_incorporation": "GB", "chapter3_status": "corporation",
               "chapter4_status": "active_nffe", "permanent_address": GB_ADDRESS, "foreign_tin": "1955839661",
               "treaty_claim": {"country": "GB", "article": "10(2)(b)", "rate": "15", "income_type": "dividends"},
               "lob_test": "publicly traded company", "signer_name": "A Director", "certified": True},
    "W8IMY": {"name": "Cayman Feeder LP", "country_of_incorporation": "KY",
              "chapter3_status": "nonwithholding_foreign_partnership", "chapter4_status": "participating_ffi",
              "giin": "98Q96B.00000.LE.250", "permanent_address": KY_ADDRESS, "withholding_statement": True,
              "signer_name": "GP Director", "certified": True},
    "W8ECI": {"name": "Maple Trading Inc", "permanent_address": {"line1": "1 Bay St", "city": "Toronto", "country": "CA"},
              "us_business_address": US_ADDRESS, "us_tin": "91-1144442",
              "income_description": "Rental income from US real property", "signer_name": "CFO", "certified": True},
    "CRS_IND": {"name": "Oliver Twist", "date_of_birth": "1980-05-01", "residence_address": GB_ADDRESS,
                "tax_residences": [{"country": "GB", "tin": "1955839661"}], "signer_name": "Oliver Twist"},
    "CRS_ENT": {"name": "Solaris Family Trust", "address": KY_ADDRESS, "crs_classification": "passive_nfe",
                "tax_residences": [{"country": "KY", "no_tin_reason": "A"}],
                "controlling_persons": [{"name": "Ann Lee", "role": "CRS803",
                                         "tax_residences": [{"country": "GB", "tin": "1955839661"}]}],
                "signer_name": "Trustee"},
    "CRS_CP": {"name": "Ann Lee", "date_of_birth": "1970-01-01", "residence_address": GB_ADDRESS,
               "tax_residences": [{"country": "GB", "tin": "1955839661"}], "entity_name": "Solaris Family Trust",
               "role": "CRS803", "signer_name": "Ann Lee"},
}

SIGNED = dt.date(2026, 3, 10)
TODAY = dt.date(2026, 6, 1)


def form(kind: str, **changes) -> dict:
    data = copy.deepcopy(FORMS[kind])
    data.update(changes)
    return data
