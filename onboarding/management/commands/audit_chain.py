"""Chain every committed unchained audit row (per firm, in id order) and move the watermarks.
Celery beat runs it every minute (`onboarding.tasks.audit_chain`); safe to run at any time."""
from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from onboarding.audit_chain import chain_pending


class Command(BaseCommand):
    help = "Chain the audit rows written since the last run (per firm, in id order)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = chain_pending()
        self.stdout.write(f"chained {report.chained} audit row(s) in {len(report.chains)} chain(s)")
