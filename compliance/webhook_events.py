"""compliance's webhook events (screening alerts, tax forms), registered in onboarding's catalogue from
ComplianceConfig.ready(). A firm learns that an alert was raised or decided on its client, never which list
or entry matched."""
from __future__ import annotations

from onboarding.webhook_events import DATE, ID, array, data_schema, enum, nullable, register


def register_events() -> None:
    from .tax.forms_catalogue import FORM_TYPES

    register("alert.raised", summary="Screening raised an alert on a party of the firm (the list and entry are "
             "never disclosed); the case cannot be approved until compliance decides it.",
             data=data_schema(alert=ID, party=ID, case=nullable(ID)),
             example={"alert": 301, "party": 12, "case": 41})
    register("alert.decided", summary="Compliance decided an alert: `cleared` (not a match) or `confirmed` "
             "(a true match; for a sanctions match the firm's open cases of the party are rejected).",
             data=data_schema(alert=ID, party=ID, case=nullable(ID), decision=enum("cleared", "confirmed")),
             example={"alert": 301, "party": 12, "case": 41, "decision": "cleared"})
    form_type = enum(*sorted(FORM_TYPES))
    register("tax_form.validated", summary="A tax form was validated: `valid` (it supersedes the party's earlier "
             "form of its kind) or `invalid` (`errors` lists the fields at fault).",
             data=data_schema(tax_form=ID, party=ID, form_type=form_type, status=enum("valid", "invalid"),
                              valid_until=nullable(DATE), errors=array({"type": "string"})),
             example={"tax_form": 55, "party": 12, "form_type": "W8BEN", "status": "valid",
                      "valid_until": "2029-12-31", "errors": []})
    register("tax_form.expiring", summary="A valid tax form expires within the warning window (sent once per form "
             "by the daily sweep): collect a new one before `valid_until`.",
             data=data_schema(tax_form=ID, party=ID, form_type=form_type, valid_until=DATE),
             example={"tax_form": 55, "party": 12, "form_type": "W8BEN", "valid_until": "2027-01-31"})
    register("tax_form.expired", summary="A tax form passed its validity (daily sweep); withholding may fall back "
             "to the default rate until a new form is validated.",
             data=data_schema(tax_form=ID, party=ID, form_type=form_type, valid_until=DATE),
             example={"tax_form": 55, "party": 12, "form_type": "W8BEN", "valid_until": "2026-12-06"})
