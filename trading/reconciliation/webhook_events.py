"""Reconciliation's webhook events (breaks), registered in onboarding's catalogue from
ReconciliationConfig.ready()."""
from __future__ import annotations

from onboarding.webhook_events import (
    CURRENCY,
    DATE,
    DECIMAL,
    ID,
    INT,
    STR,
    array,
    data_schema,
    enum,
    register,
)


def register_events() -> None:
    from .models import BreakState

    register("break.opened", summary="A reconciliation run opened breaks on the firm's custody accounts "
             "(`break_ids`: the first 100 by priority).",
             data=data_schema(run=ID, custodian=STR, as_of=DATE, breaks_opened=INT, break_ids=array(ID)),
             example={"run": 5, "custodian": "IRVTUS3N", "as_of": "2026-12-07", "breaks_opened": 2,
                      "break_ids": [31, 32]})
    for name, summary in (("break.resolved", "A break was resolved: by a person, with a reason (an explained "
                                             "difference), or by a later run that no longer finds the difference "
                                             "or finds it explained (`reason` says which run)."),
                          ("break.written_off", "An unexplained break was written off, approved by a second "
                                                "person.")):
        register(name, summary=summary,
                 data=data_schema(**{"break": ID}, custodian=STR, custody_account=STR, kind=STR,
                                  amount_base=DECIMAL, base_currency=CURRENCY, state=enum(*BreakState.values),
                                  reason=STR),
                 example={"break": 31, "custodian": "IRVTUS3N", "custody_account": "IRV-0001", "kind": "quantity",
                          "amount_base": "-125.00", "base_currency": "USD", "state": name.split(".")[1],
                          "reason": "trade booked late by the custodian"})
