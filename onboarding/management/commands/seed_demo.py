"""Load demo data: onboarding's, then the steps other apps registered (`onboarding.demo.register_demo`
in their AppConfig.ready()), in INSTALLED_APPS order."""
from __future__ import annotations

from django.core.management.base import BaseCommand

from onboarding.demo import DEMO_PASSWORD, DemoContext, demo_steps, finish, seed


class Command(BaseCommand):
    help = "Load demo firms, users and clients (idempotent)."

    def handle(self, *args, **options):
        from django.conf import settings
        from django.core.management.base import CommandError

        if not getattr(settings, "DEMO_SEEDING", False):
            raise CommandError("demo seeding is off under these settings (production): it would create users "
                               "with a published password")
        context = seed(DemoContext())
        if context.extra.get("already_seeded"):
            self.stdout.write("Demo data already loaded.")
        else:
            for step in demo_steps():
                if step.seed is not None:
                    step.seed(context)
                    self.stdout.write(f"Demo data loaded for {step.app}.")
            for problem in finish(context):
                self.stderr.write(f"note: not approved: {problem}")
        # Each app's after-approval step finds its own data and does nothing twice, so it also runs
        # on a database seeded before that step existed (e.g. the trading day).
        for step in demo_steps():
            if step.after_approval is not None:
                step.after_approval(context)
                self.stdout.write(f"Demo data loaded for {step.app} (after approval).")
        self.stdout.write(self.style.SUCCESS(
            "\nMeridian is ready at http://127.0.0.1:8000/\n"
            f"  Advisor portal:      thames-advisor / {DEMO_PASSWORD}   (also alpen-advisor, hudson-advisor)\n"
            f"  Compliance officers: officer / {DEMO_PASSWORD}   and officer2 / {DEMO_PASSWORD}\n"
            "                       review desk at /desk/ (queues, cases, four-eyes approvals); rules and\n"
            "                       reference data in /admin/\n"
            f"  Superuser:           admin / {DEMO_PASSWORD}\n"
            "  API schema:          /api/schema/   interactive: /api/docs/\n"
            "  Trading day:         20 Nov 2026 in progress on account TWP-0001 (orders, blocks, fills, one open\n"
            "                       break): /clients/accounts/ as thames-advisor, /admin/trading/ and\n"
            "                       /reconciliation/runs/2026-11-20/report/ as officer\n"
        ))
