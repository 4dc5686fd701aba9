"""Load compliance/risk_models/*.yaml as versioned, active risk models."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from compliance.exceptions import RiskModelError
from compliance.services import risk_models_load


class Command(BaseCommand):
    help = "Load the risk model files; a changed file becomes a new version."

    def add_arguments(self, parser):
        parser.add_argument("--dir")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        try:
            report = risk_models_load(directory=opts["dir"])
        except RiskModelError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(json.dumps(report) if opts["json"] else "\n".join(
            f"{r['code']} v{r['version']}{' (new)' if r['created'] else ''}" for r in report))
