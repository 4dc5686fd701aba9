"""Routing of orders to a custody account and a broker (no ORM).

An order goes to the account's custody account that settles the listing's market, then to
the broker of highest priority (lowest number) that reaches the market and settles with that
custodian. The broker master is data (brokers.yaml, loaded into trading.Broker rows)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from onboarding import safeyaml

BROKER_FILE = Path(__file__).with_name("brokers.yaml")


@dataclass(frozen=True)
class BrokerSpec:
    code: str
    name: str
    markets: frozenset[str]
    custodians: frozenset[str]
    priority: int = 100
    lei: str = ""
    fix_target_comp_id: str = ""
    source: str = ""
    effective_from: dt.date | None = None


@dataclass(frozen=True)
class Route:
    custody_account: str
    custodian: str
    broker: str


class RoutingError(Exception):
    pass


def load_broker_master(path: Path = BROKER_FILE) -> list[BrokerSpec]:
    data = safeyaml.load(Path(path).read_text())
    out = []
    for i, row in enumerate(data.get("brokers", []), start=1):
        for key in ("code", "markets", "custodians", "source", "effective_from"):
            if key not in row:
                raise RoutingError(f"{path}: broker {i}: missing field {key!r}")
        out.append(BrokerSpec(
            code=row["code"], name=row.get("name", row["code"]), markets=frozenset(row["markets"]),
            custodians=frozenset(row["custodians"]), priority=int(row.get("priority", 100)),
            lei=row.get("lei", ""), fix_target_comp_id=row.get("fix_target_comp_id", ""),
            source=row["source"], effective_from=row["effective_from"],
        ))
    return out


def route(
    *, market: str, custody_accounts: dict[str, tuple[str, str]], brokers: list[BrokerSpec],
) -> Route:
    """custody_accounts: market MIC -> (custody account number, custodian code)."""
    if market not in custody_accounts:
        raise RoutingError(f"no custody account settles {market}")
    number, custodian = custody_accounts[market]
    eligible = sorted(
        (b for b in brokers if market in b.markets and custodian in b.custodians),
        key=lambda b: (b.priority, b.code),
    )
    if not eligible:
        raise RoutingError(f"no broker reaches {market} and settles with {custodian}")
    return Route(custody_account=number, custodian=custodian, broker=eligible[0].code)
