"""Import a watchlist as a new active snapshot.

    python manage.py sanctions_import --source ofac sdn.csv alt.csv add.csv sdn_comments.csv
    python manage.py sanctions_import --source un consolidated.xml --json
"""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from compliance.exceptions import WatchlistFormatError
from compliance.screening.importers import SOURCES
from compliance.services import watchlist_import


class Command(BaseCommand):
    help = "Import a sanctions/PEP list file set as a new snapshot (all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("--source", required=True, choices=SOURCES)
        parser.add_argument("paths", nargs="+")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        quiet = opts["json"]

        def progress(items):
            return tqdm(items, desc=f"{opts['source']} entries", unit="entry", disable=quiet, file=self.stderr)

        try:
            snapshot = watchlist_import(source=opts["source"], paths=opts["paths"], progress=progress)
        except WatchlistFormatError as exc:
            if quiet:
                self.stdout.write(json.dumps({"ok": False, "code": exc.code, "message": exc.message,
                                              "detail": exc.detail}))
            raise CommandError(exc.message) from exc
        report = {k: v for k, v in snapshot.report.items() if not k.endswith("_refs")}
        out = {"ok": True, "source": snapshot.source, "version": snapshot.version, "entries": snapshot.entry_count,
               **report}
        if quiet:
            self.stdout.write(json.dumps(out))
        else:
            self.stdout.write(
                f"{snapshot}: {snapshot.entry_count} entries; added {report['added']}, "
                f"changed {report['changed']}, removed {report['removed']}")
