"""Return attribution in the account's base currency, split into what the assets did (local
return) and what the currencies did (currency return). Plain numpy.

Over one period each holding i has a base-currency weight w_i at the start, a local return
r_L,i (price change in its own currency; 0 for cash) and a currency return r_X,i (change of its
currency against base; 0 for base-currency holdings). Then exactly

    R = sum w_i ((1 + r_L,i)(1 + r_X,i) - 1)
      = sum w_i r_L,i  +  sum w_i r_X,i (1 + r_L,i)
      =   local part   +   currency part (including the cross term)

so the two parts always add up to the base-currency return.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ReturnSplit:
    total: float
    local: float
    currency: float
    start_value: float
    end_value: float


def split_return(
    start_value_base: np.ndarray,
    local_start: np.ndarray,
    local_end: np.ndarray,
    fx_start: np.ndarray,
    fx_end: np.ndarray,
) -> ReturnSplit:
    """Arrays per holding: base value at the start, local price (or 1 for cash) at start and
    end, FX rate to base at start and end."""
    start_value_base = np.asarray(start_value_base, dtype=float)
    total_start = start_value_base.sum()
    if total_start == 0:
        return ReturnSplit(0.0, 0.0, 0.0, 0.0, 0.0)
    w = start_value_base / total_start
    r_local = np.asarray(local_end, dtype=float) / np.asarray(local_start, dtype=float) - 1.0
    r_fx = np.asarray(fx_end, dtype=float) / np.asarray(fx_start, dtype=float) - 1.0
    local = float((w * r_local).sum())
    currency = float((w * r_fx * (1.0 + r_local)).sum())
    end_value = float((start_value_base * (1.0 + r_local) * (1.0 + r_fx)).sum())
    return ReturnSplit(total=end_value / total_start - 1.0, local=local, currency=currency,
                       start_value=float(total_start), end_value=end_value)
