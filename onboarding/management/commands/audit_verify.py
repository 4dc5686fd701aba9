"""Prove the audit trail's hash chains, or name the first broken row of each chain that fails
(firm, row id, what is wrong, expected vs found). Runs nightly (Celery beat,
`onboarding.tasks.audit_verify`), which also raises an alert for the officers."""
from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from onboarding.audit_chain import chain_pending, verify, verify_and_alert


class Command(BaseCommand):
    help = "Prove the audit hash chains or name the first broken row; exits non-zero when one fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-chain", action="store_true", help="verify only what is chained already")
        parser.add_argument("--alert", action="store_true", help="raise an alert for the officers on failure")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["alert"]:
            report = verify_and_alert()
        else:
            if not options["no_chain"]:
                chain_pending()
            report = verify()
        if options["json"]:
            self.stdout.write(json.dumps({
                "ok": report.ok, "chains": report.chains, "rows": report.rows,
                "breaks": [{"firm": b.firm_id, "event_id": b.event_id, "problem": b.problem,
                            "expected": b.expected, "found": b.found} for b in report.breaks]}))
        if not report.ok:
            raise CommandError("; ".join(str(b) for b in report.breaks))
        if not options["json"]:
            self.stdout.write(f"audit trail proved: {report.rows} row(s) in {report.chains} chain(s)")
