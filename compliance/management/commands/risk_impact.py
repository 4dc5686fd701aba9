"""Re-score the book against a draft risk model and report upgrades and downgrades.

    python manage.py risk_impact --model compliance/risk_models/draft.yaml --json
"""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from compliance.exceptions import RiskModelError
from compliance.risk import load_model_file
from compliance.services import risk_impact


class Command(BaseCommand):
    help = "Risk impact assessment of a draft model over every relationship not closed (writes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--limit", type=int, default=50, help="moves to list")

    def handle(self, *args, **opts):
        try:
            content = load_model_file(opts["model"])
        except RiskModelError as exc:
            raise CommandError(exc.message) from exc
        report = risk_impact(content=content)
        report["moves"] = report["moves"][: opts["limit"]]
        if opts["json"]:
            self.stdout.write(json.dumps(report))
            return
        self.stdout.write(f"{report['relationships']} relationships: {report['upgrades']} upgrades, "
                          f"{report['downgrades']} downgrades, {report['unchanged']} unchanged")
        for m in report["moves"]:
            self.stdout.write(f"  {m['direction']:9} {m['from']:>6} -> {m['to']:<6} {m['party']} (score {m['score']})")
