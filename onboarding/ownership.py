"""Effective (indirect) ownership through chains of entities. Plain Python, no ORM.

A person's effective share of the root is the product of the percentages along each path from
the person to the root, summed over every path (A owns 50% of B, B owns 60% of C: A owns 30%
of C). A path that comes back to a node already on it is a circular holding: it is recorded
and cut, so the walk always ends.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

HUNDRED = Decimal("100")
MAX_DEPTH = 12


@dataclass(frozen=True)
class Edge:
    owner: int
    owned: int
    percentage: Decimal  # 0..100
    role: str = "shareholder"


@dataclass
class OwnerShare:
    party_id: int
    effective: Decimal = Decimal("0")  # percent of the root, summed over paths
    paths: list[tuple[tuple[int, ...], Decimal]] = field(default_factory=list)  # (root..owner), share
    roles: set[str] = field(default_factory=set)  # control roles held directly in the root


@dataclass
class OwnershipResult:
    root: int
    shares: dict[int, OwnerShare]
    cycles: list[tuple[int, ...]]
    truncated: bool = False

    def above(self, threshold: Decimal, *, inclusive: bool = True) -> list[OwnerShare]:
        """Owners whose effective share meets the threshold (>= when inclusive, > otherwise)."""
        def meets(value: Decimal) -> bool:
            return value >= threshold if inclusive else value > threshold

        return sorted(
            (share for share in self.shares.values() if meets(share.effective)),
            key=lambda share: (-share.effective, share.party_id),
        )


def effective_ownership(root: int, edges: Iterable[Edge]) -> OwnershipResult:
    """Walk upwards from `root` through owners. Every party reached gets its effective share and
    the paths that gave it; control roles (director, trustee, ...) held directly in the root are
    collected too."""
    owners_of: dict[int, list[Edge]] = defaultdict(list)
    for edge in edges:
        owners_of[edge.owned].append(edge)

    shares: dict[int, OwnerShare] = {}
    cycles: list[tuple[int, ...]] = []
    seen_cycles: set[frozenset[int]] = set()
    truncated = False

    stack: list[tuple[int, tuple[int, ...], Decimal]] = [(root, (root,), HUNDRED)]
    while stack:
        node, path, share = stack.pop()
        for edge in owners_of.get(node, ()):
            owner = edge.owner
            if owner in path:
                cycle = path[path.index(owner):] + (owner,)
                key = frozenset(cycle)
                if key not in seen_cycles:
                    seen_cycles.add(key)
                    cycles.append(cycle)
                continue
            entry = shares.setdefault(owner, OwnerShare(party_id=owner))
            new_path = path + (owner,)
            if edge.role != "shareholder" and node == root:
                entry.roles.add(edge.role)
            if edge.percentage > 0:
                through = share * edge.percentage / HUNDRED
                entry.effective += through
                entry.paths.append((new_path, through))
            else:
                through = Decimal("0")
            if len(new_path) > MAX_DEPTH:
                truncated = True
                continue
            if through > 0:
                stack.append((owner, new_path, through))
    return OwnershipResult(root=root, shares=shares, cycles=cycles, truncated=truncated)
