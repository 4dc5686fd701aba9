"""Screen a name against the active lists.

    python manage.py screen "Usama bin Ladin" --dob 1957-07-30 --country SA --type person --json
"""
from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from compliance.screening.matcher import Query
from compliance.selectors import active_index


class Command(BaseCommand):
    help = "Screen one name against the active watchlist snapshots and print the hits."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--dob")
        parser.add_argument("--country", action="append", default=[])
        parser.add_argument("--id", action="append", default=[], dest="ids")
        parser.add_argument("--type", choices=["person", "entity"])
        parser.add_argument("--threshold", type=float)
        parser.add_argument("--limit", type=int, default=10)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **opts):
        index, _, snapshots = active_index()
        if index is None:
            raise CommandError("no active watchlist: run sanctions_import first")
        query = Query(name=opts["name"], kind=opts["type"], dob=opts["dob"],
                      countries=tuple(c.upper() for c in opts["country"]), identifiers=tuple(opts["ids"]))
        hits = index.screen(query, threshold=opts["threshold"], limit=opts["limit"])
        if opts["json"]:
            self.stdout.write(json.dumps({"query": opts["name"], "lists": [str(s) for s in snapshots],
                                          "hits": [h.as_dict() for h in hits]}, ensure_ascii=False))
            return
        if not hits:
            self.stdout.write("no hits")
        for h in hits:
            ex = h.explanation
            conflicts = ", ".join(c["feature"] for c in ex["conflicts"]) or "none"
            matched = ", ".join(m["feature"] for m in ex["matched"])
            self.stdout.write(f"{h.score:.3f}  {h.source}:{h.ref}  {h.listed_name}  (as {h.matched_name!r}; "
                              f"matched: {matched}; conflicts: {conflicts})")
