"""Country names as watchlists spell them -> ISO 3166-1 alpha-2."""
from __future__ import annotations

import re
from functools import lru_cache

import pycountry
from unidecode import unidecode

# Spellings used by OFAC, the UN and the UK/EU lists that pycountry does not resolve by itself.
_ALIASES = {
    "RUSSIA": "RU", "IRAN": "IR", "SYRIA": "SY", "BURMA": "MM", "MYANMAR": "MM", "LAOS": "LA",
    "KOREA, NORTH": "KP", "NORTH KOREA": "KP", "DPRK": "KP",
    "DEMOCRATIC PEOPLE'S REPUBLIC OF KOREA": "KP", "KOREA, SOUTH": "KR", "SOUTH KOREA": "KR",
    "REPUBLIC OF KOREA": "KR", "VIETNAM": "VN", "VIET NAM": "VN", "TANZANIA": "TZ",
    "UNITED REPUBLIC OF TANZANIA": "TZ", "BOLIVIA": "BO", "VENEZUELA": "VE", "MOLDOVA": "MD",
    "REPUBLIC OF MOLDOVA": "MD", "CONGO, DEMOCRATIC REPUBLIC OF THE": "CD", "DRC": "CD",
    "DEMOCRATIC REPUBLIC OF THE CONGO": "CD", "CONGO": "CG", "REPUBLIC OF THE CONGO": "CG",
    "CONGO, REPUBLIC OF THE": "CG", "IVORY COAST": "CI", "COTE D'IVOIRE": "CI", "CÔTE D'IVOIRE": "CI",
    "TURKEY": "TR", "TURKIYE": "TR", "PALESTINIAN": "PS", "PALESTINE": "PS", "WEST BANK": "PS",
    "GAZA": "PS", "STATE OF PALESTINE": "PS", "UNITED KINGDOM": "GB", "UK": "GB", "GREAT BRITAIN": "GB",
    "UNITED STATES": "US", "USA": "US", "UNITED STATES OF AMERICA": "US", "UAE": "AE",
    "UNITED ARAB EMIRATES": "AE", "CZECH REPUBLIC": "CZ", "MACEDONIA": "MK", "NORTH MACEDONIA": "MK",
    "THE FORMER YUGOSLAV REPUBLIC OF MACEDONIA": "MK", "KOSOVO": "XK", "BRITISH VIRGIN ISLANDS": "VG",
    "VIRGIN ISLANDS, BRITISH": "VG", "SWAZILAND": "SZ", "CAPE VERDE": "CV", "EAST TIMOR": "TL",
    "BOSNIA": "BA", "BOSNIA AND HERZEGOVINA": "BA", "HOLLAND": "NL", "VATICAN": "VA", "MACAU": "MO",
    "MACAO": "MO", "HONG KONG": "HK", "TAIWAN": "TW", "CRIMEA": "UA", "SAINT KITTS AND NEVIS": "KN",
    "ST. KITTS AND NEVIS": "KN", "SAINT VINCENT AND THE GRENADINES": "VC", "BRUNEI": "BN",
    "GAMBIA": "GM", "THE GAMBIA": "GM", "BAHAMAS": "BS", "THE BAHAMAS": "BS", "SUDAN": "SD",
    "SOUTH SUDAN": "SS", "NETHERLANDS ANTILLES": "CW", "CURACAO": "CW", "REGION: GAZA": "PS",
    "IRAN (ISLAMIC REPUBLIC OF)": "IR", "SYRIAN ARAB REPUBLIC": "SY", "LIBYAN ARAB JAMAHIRIYA": "LY",
    "LIBYA": "LY", "LAO PEOPLE'S DEMOCRATIC REPUBLIC": "LA", "RUSSIAN FEDERATION": "RU",
}
_CODE = re.compile(r"^[A-Z]{2}$")


@lru_cache(maxsize=4096)
def to_iso2(name: str) -> str:
    """Best-effort ISO alpha-2 for a country name or code; "" if unknown."""
    if not name:
        return ""
    text = " ".join(name.replace("\u2019", "'").split()).strip(" .;,")
    upper = text.upper()
    if upper in _ALIASES:
        return _ALIASES[upper]
    if _CODE.match(upper) and pycountry.countries.get(alpha_2=upper):
        return upper
    ascii_upper = unidecode(upper)
    if ascii_upper in _ALIASES:
        return _ALIASES[ascii_upper]
    try:
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        pass
    # "Tehran, Iran" / "Moscow, Russia": the country is the last comma part.
    if "," in text:
        return to_iso2(text.rsplit(",", 1)[1])
    return ""
