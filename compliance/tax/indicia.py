"""US indicia that contradict a W-8, and whether the cure documents on file cure them.
Plain Python: the caller passes what it knows about the party and the form."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from . import rulefiles


@dataclass(frozen=True)
class PartyContext:
    """What the validator needs to know about the party, read by the selectors."""

    ref: str
    kind: str  # individual | entity
    name: str
    residence_country: str = ""
    incorporation_country: str = ""
    nationalities: tuple[str, ...] = ()
    place_of_birth_country: str = ""
    address_countries: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    standing_instruction_countries: tuple[str, ...] = ()
    passive_nfe: bool = False
    controlling_person_refs: tuple[str, ...] = ()
    lawful_permanent_resident: bool = False  # holds a US green card (IRC 7701(b)(1)(A)(i))
    substantial_presence: bool = False  # meets the substantial presence test (IRC 7701(b)(3))
    # Owners KYC knows to be US persons, with their effective percentage of the entity:
    # ((name, "15.00"), ...). Checked against a passive NFFE's owner certification.
    kyc_us_owners: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Indicium:
    code: str
    description: str
    evidence: str
    cure_any_of: tuple[tuple[str, ...], ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "description": self.description,
            "evidence": self.evidence,
            "cure_any_of": [list(s) for s in self.cure_any_of],
        }


def _is_us_phone(phone: str, table: dict[str, Any]) -> bool:
    digits = re.sub(r"[^\d+]", "", phone or "")
    if not any(digits.startswith(p) for p in table["us_phone_prefixes"]):
        return False
    area = digits[2:5]
    return area not in set(table["non_us_nanp_area_codes"])


def find_indicia(
    party: PartyContext, form_data: dict[str, Any], rules: dict[str, Any] | None = None
) -> list[Indicium]:
    """US indicia on a W-8: US address, US phone (and no non-US phone), US place of birth,
    standing instructions to a US account."""
    table = (rules or rulefiles.form_rules())["indicia"]
    address_codes = set(table["address_codes"])
    birth_codes = set(table["place_of_birth_codes"])
    instruction_codes = set(table["standing_instruction_codes"])
    kinds = table["kinds"]

    def make(code: str, evidence: str) -> Indicium:
        row = kinds[code]
        return Indicium(code, row["description"], evidence, tuple(tuple(s) for s in row["cure_any_of"]))

    found: list[Indicium] = []
    form_countries = [
        (name, (form_data.get(name) or {}).get("country", ""))
        for name in ("permanent_address", "mailing_address", "residence_address")
    ]
    address_hits = [c for c in party.address_countries if c.upper() in address_codes]
    address_hits += [f"{n} on the form" for n, c in form_countries if c and c.upper() in address_codes]
    if address_hits:
        found.append(make("us_address", "US address: " + ", ".join(sorted(set(address_hits)))))
    phones = [p for p in party.phones if p] + [p for p in [form_data.get("phone", "")] if p]
    us_phones = [p for p in phones if _is_us_phone(p, table)]
    if us_phones and len(us_phones) == len(phones):
        found.append(make("us_phone", "US telephone number: " + ", ".join(us_phones)))
    pob = (form_data.get("place_of_birth_country") or party.place_of_birth_country or "").upper()
    if pob in birth_codes:
        found.append(make("us_place_of_birth", f"place of birth {pob}"))
    si = [c.upper() for c in party.standing_instruction_countries] + [
        str(c).upper() for c in form_data.get("standing_instruction_countries", [])
    ]
    if any(c in instruction_codes for c in si):
        found.append(make("us_standing_instruction", "standing instruction to a US account"))
    return found


def uncured(indicia: list[Indicium], cure_documents: list[str]) -> list[Indicium]:
    """The indicia that the cure documents on file do not cure."""
    have = set(cure_documents)
    return [i for i in indicia if not any(set(option) <= have for option in i.cure_any_of)]
