"""`rulepacks check` validates every pack file and the coverage of every jurisdiction x client
type x risk level; `rulepacks load` loads changed files as new versions; `rulepacks show`
prints the resolved policy for one combination."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from onboarding.exceptions import RulePackError
from onboarding.rules.packs import (
    PACK_DIR,
    PackVersion,
    check_coverage,
    read_pack_dir,
    resolve,
    validate_pack,
)


class Command(BaseCommand):
    help = "Check, load or show the jurisdiction rule packs."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["check", "load", "show"])
        parser.add_argument("--dir", default=str(PACK_DIR), help="Folder of pack files")
        parser.add_argument("--as-of", default=None, help="YYYY-MM-DD (default today)")
        parser.add_argument("--jurisdiction", default="US")
        parser.add_argument("--client-type", default="individual")
        parser.add_argument("--risk", default="medium")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        directory = Path(options["dir"])
        as_of = dt.date.fromisoformat(options["as_of"]) if options["as_of"] else dt.date.today()
        try:
            files = read_pack_dir(directory)
            if not files:
                raise RulePackError(f"{directory}: no rule pack files (*.yaml)")
            for pack in files:
                validate_pack(pack)
            codes = [pack.code for pack in files]
            duplicates = sorted({code for code in codes if codes.count(code) > 1})
            if duplicates:
                raise RulePackError(f"pack code(s) used by more than one file: {duplicates}")
            versions = [PackVersion(code=p.code, version=0, content=p.content) for p in files]
            if options["action"] == "check":
                combos = check_coverage(versions, as_of=as_of)
                result = {"ok": True, "files": len(files), "rules": sum(len(p.content["rules"]) for p in files),
                          "combinations": combos, "as_of": as_of.isoformat()}
                self._out(result, options, f"OK: {len(files)} packs, {result['rules']} rules, "
                                           f"{combos} jurisdiction x client type x risk combinations covered")
            elif options["action"] == "load":
                from onboarding.services import rulepacks_load

                report = rulepacks_load(directory=directory)
                created = [f"{r['code']}@{r['version']}" for r in report if r["created"]]
                self._out({"loaded": report}, options,
                          f"Loaded {len(created)} new pack version(s): {', '.join(created) or 'none (all current)'}")
            else:
                resolved = resolve(versions, jurisdiction=options["jurisdiction"].upper(),
                                   client_type=options["client_type"], risk_level=options["risk"], as_of=as_of)
                self.stdout.write(json.dumps(resolved.as_dict(), indent=2))
        except RulePackError as exc:
            raise CommandError(f"rule pack error: {exc.message}") from exc

    def _out(self, payload, options, text):
        self.stdout.write(json.dumps(payload, indent=2) if options["json"] else text)
