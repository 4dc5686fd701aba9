"""The custodian simulator: the statements a custodian would send for our custody accounts,
written from what settled in the ledger, with named differences injected on demand.

It is the one statement generator for the demo, the tests and the benchmark. It shares no code
with the reconciliation parsers: ISO 20022 XML is built through the `python-iso20022` models
(an independent implementation of the schemas: semt.002.001.11, camt.053.001.12), and the SWIFT
MT535/MT940 text is written from the published field formats (SWIFT user handbook field
specifications, see `../shared/domain/FACTS.md`).

    collect(custodian, as_of)         -> Snapshot (holdings and cash, settled basis)
    inject(snapshot, ["fee:25", ...]) -> the same with named differences, listed in .injected
    render(snapshot, "semt002")       -> bytes
"""
from .core import (
    FORMATS,
    CashDay,
    Entry,
    Position,
    SimulatorError,
    Snapshot,
    collect,
    inject,
    render,
    statement_files,
)

__all__ = ["FORMATS", "CashDay", "Entry", "Position", "Snapshot", "SimulatorError", "collect", "inject", "render",
           "statement_files"]
