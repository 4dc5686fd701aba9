"""Pro-rata allocation of a block's fills to its orders (no ORM).

Each order first gets whole lots of its pro-rata share, rounded down. The lots left over go one
at a time to the orders with the largest fractional remainder (Hamilton's largest-remainder
method); ties go to the larger order, then to the earlier order key, so the result does not
depend on the order the rows were read. An odd-lot residue (a fill that is not a whole number
of lots) goes to the order with the largest remainder that still has room. No order receives
more than it asked for, and the allocations add up to the filled quantity.
"""
from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal


def allocate_pro_rata(
    *, wanted: list[Decimal], keys: list[str], filled: Decimal, lot: Decimal
) -> list[Decimal]:
    total = sum(wanted, Decimal(0))
    if filled <= 0 or total <= 0:
        return [Decimal(0)] * len(wanted)
    if filled >= total:
        return list(wanted)
    lot = lot if lot > 0 else Decimal(1)
    shares = [q * filled / total for q in wanted]
    out = [(s / lot).to_integral_value(rounding=ROUND_FLOOR) * lot for s in shares]
    remainder = [s - o for s, o in zip(shares, out)]
    left = filled - sum(out, Decimal(0))
    ranking = sorted(range(len(wanted)), key=lambda i: (-remainder[i], -wanted[i], keys[i]))
    while left >= lot:
        given = False
        for i in ranking:
            if left < lot:
                break
            if out[i] + lot <= wanted[i]:
                out[i] += lot
                left -= lot
                given = True
        if not given:
            break
    if left > 0:
        for i in ranking:
            room = wanted[i] - out[i]
            take = min(room, left)
            if take > 0:
                out[i] += take
                left -= take
            if left <= 0:
                break
    return out
