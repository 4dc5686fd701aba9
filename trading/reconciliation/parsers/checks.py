"""Statement checks run before matching: consistency (opening + movements = closing) and
continuity (each opening balance equals the previous statement's closing balance)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .base import CashStatement


@dataclass(frozen=True)
class StatementIssue:
    kind: str            # "consistency" or "continuity"
    account: str
    currency: str
    statement: str       # statement number/sequence (or reference)
    expected: Decimal
    actual: Decimal
    line: int | None
    message: str

    def as_dict(self) -> dict:
        return {"kind": self.kind, "account": self.account, "currency": self.currency,
                "statement": self.statement, "expected": str(self.expected), "actual": str(self.actual),
                "line": self.line, "message": self.message}


def _label(st: CashStatement) -> str:
    number = "/".join(x for x in (st.statement_number, st.sequence) if x)
    return number or st.reference


def check_consistency(statement: CashStatement) -> list[StatementIssue]:
    expected = statement.opening.amount + statement.movements
    actual = statement.closing.amount
    if expected == actual:
        return []
    return [StatementIssue(
        kind="consistency", account=statement.account, currency=statement.currency,
        statement=_label(statement), expected=expected, actual=actual, line=statement.line,
        message=(f"opening {statement.opening.amount} + movements {statement.movements} = {expected}, "
                 f"but the closing balance is {actual}"),
    )]


def check_continuity(statements: Iterable[CashStatement],
                     previous_closing: dict[tuple[str, str], Decimal] | None = None) -> list[StatementIssue]:
    """`previous_closing` holds the last known closing per (account, currency) from earlier files."""
    last = dict(previous_closing or {})
    issues = []
    for st in statements:
        key = (st.account, st.currency)
        if key in last and last[key] != st.opening.amount:
            issues.append(StatementIssue(
                kind="continuity", account=st.account, currency=st.currency, statement=_label(st),
                expected=last[key], actual=st.opening.amount, line=st.line,
                message=f"opening balance {st.opening.amount} differs from the previous closing {last[key]}",
            ))
        last[key] = st.closing.amount
    return issues


def check_statements(statements: list[CashStatement],
                     previous_closing: dict[tuple[str, str], Decimal] | None = None) -> list[StatementIssue]:
    issues: list[StatementIssue] = []
    for st in statements:
        issues.extend(check_consistency(st))
    issues.extend(check_continuity(statements, previous_closing))
    return issues
