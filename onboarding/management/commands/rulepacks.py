"""`rulepacks check` validates every pack file and the coverage of every jurisdiction x client
type x risk level, and reports screening lists a pack names that nothing imports (an error with
--strict-lists); `rulepacks check --against TABLE` also compares the packs with a regulatory table
(tests/onboarding/jurisdictions.yaml) and fails on any difference; `rulepacks load` loads changed
files as new versions; `rulepacks show` prints the resolved policy for one combination."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from onboarding import safeyaml
from onboarding.exceptions import RulePackError
from onboarding.rules.packs import (
    PACK_DIR,
    PackVersion,
    check_coverage,
    compare_with_table,
    crs_disagreements,
    read_pack_dir,
    resolve,
    unimported_lists,
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
        parser.add_argument("--against", default=None,
                            help="A regulatory table (YAML with `rows`) to compare the packs with")
        parser.add_argument("--strict-lists", action="store_true",
                            help="Fail when a pack names a screening list nothing imports")

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
                from onboarding.requirements import crs_lookup, screening_lists

                combos = check_coverage(versions, as_of=as_of)
                unimported = unimported_lists(versions, screening_lists())
                result = {"ok": True, "files": len(files), "rules": sum(len(p.content["rules"]) for p in files),
                          "combinations": combos, "as_of": as_of.isoformat(), "unimported_lists": unimported}
                text = (f"OK: {len(files)} packs, {result['rules']} rules, "
                        f"{combos} jurisdiction x client type x risk combinations covered")
                for code, rules in unimported.items():
                    text += f"\nWARNING: list '{code}' named by {', '.join(rules)} is not imported by any importer"
                lookup = crs_lookup()
                crs_problems = crs_disagreements(versions, lookup, as_of=as_of) if lookup else []
                if crs_problems:
                    raise RulePackError("rule packs contradict the CRS participating-jurisdiction list:\n  "
                                        + "\n  ".join(crs_problems), detail={"crs": crs_problems})
                if options["against"]:
                    table = safeyaml.load(Path(options["against"]).read_text(encoding="utf-8")) or {}
                    rows = table.get("rows") or []
                    problems = compare_with_table(versions, rows)
                    result.update(table_rows=len(rows), differences=problems)
                    if problems:
                        raise RulePackError(f"{len(problems)} difference(s) from {options['against']}:\n  "
                                            + "\n  ".join(problems), detail={"differences": problems})
                    text += f"\nOK: the packs agree with all {len(rows)} rows of {options['against']}"
                if unimported and options["strict_lists"]:
                    raise RulePackError(f"lists named but not imported: {sorted(unimported)}",
                                        detail={"unimported_lists": unimported})
                self._out(result, options, text)
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
