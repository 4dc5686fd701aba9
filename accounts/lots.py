"""Tax-lot relief engine: which lots a disposal comes out of. Plain Python, no ORM.

FIFO takes the oldest lots first, HIFO the highest unit cost in the local currency first
(ties: oldest first), LOWEST_GAIN the highest unit cost in the account's base currency first
(the smallest gain in base currency at one sale price, which differs from HIFO when lots were
bought at different exchange rates), SPECIFIC exactly the lots and quantities the caller names.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .exceptions import LotSelectionError


@dataclass(frozen=True)
class OpenLot:
    lot_id: int
    acquisition_date: dt.date
    quantity_open: Decimal
    unit_cost: Decimal  # local currency per unit
    unit_cost_base: Decimal | None = None  # base currency per unit


def select(
    lots: Sequence[OpenLot],
    quantity: Decimal,
    method: str,
    specific: Sequence[tuple[int, Decimal]] | None = None,
) -> list[tuple[int, Decimal]]:
    """[(lot_id, quantity relieved)] summing to `quantity` (> 0)."""
    if quantity <= 0:
        raise LotSelectionError("the quantity to relieve must be positive", detail={"quantity": str(quantity)})
    if method == "specific":
        return _specific(lots, quantity, specific or [])
    if method == "fifo":
        order = sorted(lots, key=lambda lot: (lot.acquisition_date, lot.lot_id))
    elif method == "hifo":
        order = sorted(lots, key=lambda lot: (-lot.unit_cost, lot.acquisition_date, lot.lot_id))
    elif method == "lowest_gain":
        order = sorted(lots, key=lambda lot: (-(lot.unit_cost_base if lot.unit_cost_base is not None else lot.unit_cost),
                                              lot.acquisition_date, lot.lot_id))
    else:
        raise LotSelectionError(f"unknown lot relief method {method!r}")
    remaining = quantity
    out: list[tuple[int, Decimal]] = []
    for lot in order:
        if remaining <= 0:
            break
        take = min(lot.quantity_open, remaining)
        if take > 0:
            out.append((lot.lot_id, take))
            remaining -= take
    if remaining > 0:
        raise LotSelectionError(
            f"open lots hold {quantity - remaining}, cannot relieve {quantity}",
            detail={"requested": str(quantity), "available": str(quantity - remaining)},
        )
    return out


def _specific(lots: Sequence[OpenLot], quantity: Decimal, specific: Sequence[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
    by_id = {lot.lot_id: lot for lot in lots}
    total = Decimal(0)
    seen: set[int] = set()
    for lot_id, qty in specific:
        lot = by_id.get(lot_id)
        if lot is None:
            raise LotSelectionError(f"lot {lot_id} is not an open lot of this holding", detail={"lot": lot_id})
        if lot_id in seen:
            raise LotSelectionError(f"lot {lot_id} named twice", detail={"lot": lot_id})
        seen.add(lot_id)
        if qty <= 0 or qty > lot.quantity_open:
            raise LotSelectionError(
                f"lot {lot_id} has {lot.quantity_open} open, cannot relieve {qty}",
                detail={"lot": lot_id, "open": str(lot.quantity_open), "requested": str(qty)},
            )
        total += qty
    if total != quantity:
        raise LotSelectionError(
            f"the named lots relieve {total}, the disposal is {quantity}",
            detail={"named": str(total), "quantity": str(quantity)},
        )
    return [(lot_id, qty) for lot_id, qty in specific]
