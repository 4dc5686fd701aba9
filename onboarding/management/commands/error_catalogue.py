"""Print the API's error catalogue (generated from the exception classes) as Markdown or JSON."""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand

from onboarding.api.errors import catalogue, catalogue_markdown


class Command(BaseCommand):
    help = "Print the API error catalogue: every stable code with its HTTP status and meaning."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["markdown", "json"], default="markdown")

    def handle(self, *args, **options):
        if options["format"] == "json":
            self.stdout.write(json.dumps([{"code": e.code, "status": e.status, "meaning": e.meaning,
                                           "raised_by": list(e.raised_by)} for e in catalogue()], indent=2))
        else:
            self.stdout.write(catalogue_markdown())
