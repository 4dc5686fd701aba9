"""Render a captured tax form (or an onboarding case file) to PDF.

    python manage.py render_tax_form --form 12 --out w8ben.pdf
    python manage.py render_tax_form --case 7 --out case7.pdf
"""
from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from onboarding.audit import record_event
from onboarding.models import OnboardingCase

from ...documents import render_case_file_pdf, render_tax_form_pdf
from ...models import TaxForm


class Command(BaseCommand):
    help = "Render a tax form or a case file to PDF"

    def add_arguments(self, parser):
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--form", type=int)
        target.add_argument("--case", type=int)
        parser.add_argument("--out", required=True)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--reveal", action="store_true",
                            help="print TINs, identifiers and dates of birth in full (written to the audit trail)")

    def handle(self, *args, **options):
        try:
            reveal = options["reveal"]
            if options["form"]:
                subject = TaxForm.objects.select_related("party").get(pk=options["form"])
                pdf = render_tax_form_pdf(subject, reveal=reveal)
            else:
                subject = OnboardingCase.objects.select_related("party", "firm").get(pk=options["case"])
                pdf = render_case_file_pdf(subject, reveal=reveal)
            if reveal:
                record_event(subject=subject, event_type="sensitive.revealed", firm=subject.firm,
                             detail={"rendering": "pdf", "by": "render_tax_form command"})
        except (TaxForm.DoesNotExist, OnboardingCase.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
        Path(options["out"]).write_bytes(pdf)
        result = {"out": options["out"], "bytes": len(pdf)}
        self.stdout.write(json.dumps(result) if options["json"] else f"wrote {options['out']} ({len(pdf)} bytes)")
