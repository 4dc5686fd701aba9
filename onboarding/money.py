"""The one money and quantity convention: Decimal, with an ISO 4217 code beside every amount,
rounded by the currency's minor units here and nowhere else."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import pycountry

# pycountry has no minor units; ISO 4217 exceptions to the default of 2.
_MINOR_UNITS = {
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}


def is_currency(code: str) -> bool:
    return bool(code) and len(code) == 3 and pycountry.currencies.get(alpha_3=code.upper()) is not None


def minor_units(currency: str) -> int:
    return _MINOR_UNITS.get(currency.upper(), 2)


def quantize_money(amount: Decimal | int | str, currency: str, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round an amount to the currency's minor units (banker's rounding by default)."""
    exponent = Decimal(1).scaleb(-minor_units(currency))
    return Decimal(amount).quantize(exponent, rounding=rounding)
