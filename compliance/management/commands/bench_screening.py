"""Benchmark the matcher on the full OFAC and UN lists with a labelled query set.

    python manage.py bench_screening --json
"""
from __future__ import annotations

import csv
import json
import os
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from compliance.screening import benchmark
from compliance.screening.importers import parse_ofac, parse_un
from compliance.screening.matcher import DEFAULT_CONFIG, ScreeningIndex
from onboarding.machine import machine


class Command(BaseCommand):
    help = ("Screen a labelled query set against the full OFAC + UN lists (and the UN list's original-script "
            "names against its Latin names); print one JSON object.")

    def add_arguments(self, parser):
        parser.add_argument("--data", default=str(settings.SHARED_DIR / "data" / "sanctions"))
        parser.add_argument("--positives", type=int, default=2000)
        parser.add_argument("--innocents", type=int, default=2000)
        parser.add_argument("--near-misses", type=int, default=500,
                            help="innocent names sharing a surname or the generic words of a listed name")
        parser.add_argument("--public-cases", default=str(settings.BASE_DIR / "tests" / "compliance" / "data"
                                                          / "public_screening_cases.csv"),
                            help="CSV of other screening projects' published cases (source, query, kind, listed, expect)")
        parser.add_argument("--threshold", type=float, default=DEFAULT_CONFIG.threshold)
        parser.add_argument("--seed", type=int, default=20260227)
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--samples", action="store_true", help="include sample misses and false positives")

    def handle(self, *args, **opts):
        data = opts["data"]
        t0 = time.perf_counter()
        ofac_dir = os.path.join(data, "ofac")
        records = parse_ofac([os.path.join(ofac_dir, f) for f in sorted(os.listdir(ofac_dir))])
        records += parse_un(os.path.join(data, "un", "consolidated.xml"))
        t1 = time.perf_counter()
        index = ScreeningIndex(records)
        t2 = time.perf_counter()
        queries = benchmark.build_queries(records, positives=opts["positives"], innocents=opts["innocents"],
                                          near_misses=opts["near_misses"], seed=opts["seed"])
        # Warm-up: caches (normalisation, skeletons) as in a long-running worker.
        for lq in queries[:200]:
            index.screen(lq.query, threshold=opts["threshold"])
        result = benchmark.run(index, queries, threshold=opts["threshold"])
        # Real renderings: the UN list's original-script names, screened against the lists without
        # any name in another script (so that only their Latin forms can be found).
        latin_only, script_queries = benchmark.original_script_cases(records)
        result["original_script_recall"] = None  # lists without original-script names
        if script_queries:
            scripted = benchmark.run(ScreeningIndex(latin_only), script_queries, threshold=opts["threshold"])
            for key in ("recall_by_variant", "retrieval_recall_by_variant", "queries_by_variant"):
                result[key] = dict(sorted({**result[key], **scripted[key]}.items()))
            result["original_script_recall"] = scripted["recall"]
            result["sample_misses"] += scripted["sample_misses"][:20]
        public = None
        if opts["public_cases"] and os.path.exists(opts["public_cases"]):
            with open(opts["public_cases"], encoding="utf-8") as fh:
                public = benchmark.run_public_cases(index, list(csv.DictReader(fh)), threshold=opts["threshold"])
        out = {
            "list_entries": len(records),
            "list_names": index.n_names,
            "vocabulary": len(index.vocab),
            "parse_seconds": round(t1 - t0, 3),
            "index_seconds": round(t2 - t1, 3),
            "threshold": opts["threshold"],
            "cpu_count": os.cpu_count(),
            **machine(),
            **result,
            "public_cases": public,
        }
        if not opts["samples"]:
            out.pop("sample_misses", None)
            out.pop("sample_false_positives", None)
        self.stdout.write(json.dumps(out, ensure_ascii=False, indent=None if opts["json"] else 2))
