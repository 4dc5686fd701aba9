"""A labelled query set for measuring the matcher: true variants of listed names (typos,
reordering, transliteration, dropped middle names) and innocent names."""
from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .importers import WatchlistRecord
from .matcher import Query, ScreeningIndex
from .normalize import NAME, tokenize

_CYRILLIC = [("SHCH", "Щ"), ("KH", "Х"), ("ZH", "Ж"), ("TS", "Ц"), ("CH", "Ч"), ("SH", "Ш"), ("YU", "Ю"),
             ("YA", "Я"), ("A", "А"), ("B", "Б"), ("V", "В"), ("G", "Г"), ("D", "Д"), ("E", "Е"), ("Z", "З"),
             ("I", "И"), ("Y", "Ы"), ("K", "К"), ("L", "Л"), ("M", "М"), ("N", "Н"), ("O", "О"), ("P", "П"),
             ("R", "Р"), ("S", "С"), ("T", "Т"), ("U", "У"), ("F", "Ф"), ("H", "Х"), ("C", "К"), ("J", "Дж"),
             ("Q", "К"), ("W", "В"), ("X", "Кс")]
_LATIN_SWAPS = [("OU", "U"), ("U", "OU"), ("EE", "I"), ("I", "EE"), ("Y", "I"), ("I", "Y"), ("KH", "H"),
                ("H", "KH"), ("SH", "SCH"), ("J", "DJ"), ("Q", "K"), ("K", "Q"), ("E", "A"), ("A", "E"),
                ("MOHAMMED", "MUHAMMAD"), ("MUHAMMAD", "MOHAMED"), ("MOHAMMAD", "MUHAMMED"), ("PH", "F"),
                ("W", "V"), ("OV", "OFF"), ("IY", "I"), ("DH", "D"), ("TH", "T")]

GIVEN = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan
Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy Matthew Betty Anthony Margaret Mark
Sandra Donald Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian
Melissa George Deborah Timothy Stephanie Ronald Rebecca Oliver Amelia Harry Isla Jack Ava Noah Mia Leo Ivy
Lukas Hannah Felix Lena Maximilian Anna Paul Sophie Jonas Marie Elias Emma Louis Chloe Hugo Ines Gabriel Jade
Mateo Lucia Hugo Martina Pablo Sofia Alejandro Valentina Sebastian Camila Diego Isabella Wei Fang Jing Min
Hiroshi Yuki Haruto Sakura Kenji Aiko Minjun Jiwoo Seoyeon Arjun Priya Rohan Ananya Vikram Kavya Rahul Sneha
Olga Dmitri Irina Sergei Natalia Alexei Tatiana Mikhail Elena Pavel Omar Layla Youssef Fatima Karim Nadia
Tariq Leila Samir Yasmin Kwame Amara Chidi Zainab Tunde Ngozi Sipho Thandiwe Lars Ingrid Sven Astrid Matti
Aino Piotr Agnieszka Tomasz Katarzyna Jan Eva Lucas Julia Noor Aylin Emre Elif Mehmet Zeynep""".split()

FAMILY = """Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez
Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis
Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera
Campbell Mitchell Carter Roberts Muller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann
Dubois Lefebvre Moreau Laurent Simon Michel Leroy Roux Bernard Petit Rossi Russo Ferrari Esposito Bianchi
Romano Colombo Ricci Marino Greco Fernandez Gomez Diaz Moreno Alvarez Romero Navarro Wang Li Zhang Liu Chen
Yang Huang Zhao Wu Zhou Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kim Park Choi
Jung Kang Cho Yoon Jang Sharma Patel Singh Kumar Gupta Mehta Iyer Reddy Nair Desai Ivanova Smirnov Kuznetsova
Popov Sokolova Lebedev Novikova Morozov Volkova Haddad Mansour Khoury Nasr Farah Saleh Aziz Rahimi Karimi
Hosseini Okafor Mensah Adeyemi Nkosi Dlamini Okonkwo Hansen Johansson Nielsen Larsen Andersson Virtanen
Kowalski Nowak Wisniewski Novak Svoboda Dvorak Jansen Devries Bakker Visser Yilmaz Kaya Demir Celik Sahin""".split()

COMPANY_A = """Blue River Alpine Northwind Summit Harbor Cedar Granite Silver Meadow Oak Pine Lakeside Evergreen
Atlas Beacon Crescent Horizon Keystone Liberty Maple Orchard Pinnacle Redwood Sterling Willow Aurora Cobalt
Juniper Falcon Lantern Meridian Orion Quartz Sequoia Tidewater Vantage Zephyr Hawthorne Brookfield""".split()
COMPANY_B = """Capital Partners Advisors Wealth Holdings Investments Ventures Asset Management Family Office
Trust Foundation Associates Group Consulting Realty Properties Equity Fund Strategies Analytics""".split()
COMPANY_C = ["LLC", "Ltd", "Inc", "GmbH", "SA", "AG", "LP", "Limited", "BV", "Pte Ltd", ""]


@dataclass
class LabelledQuery:
    query: Query
    target: int | None  # record index for a true variant, None for an innocent name
    variant: str


def _typo(rng: random.Random, token: str) -> str:
    i = rng.randrange(len(token))
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    op = rng.choice(("sub", "del", "ins", "swap"))
    if op == "sub":
        return token[:i] + rng.choice(letters) + token[i + 1:]
    if op == "del":
        return token[:i] + token[i + 1:]
    if op == "ins":
        return token[:i] + rng.choice(letters) + token[i:]
    i = min(i, len(token) - 2)
    return token[:i] + token[i + 1] + token[i] + token[i + 2:]


def _to_cyrillic(text: str) -> str:
    out, i = [], 0
    upper = text.upper()
    while i < len(upper):
        for latin, cyr in _CYRILLIC:
            if upper.startswith(latin, i):
                out.append(cyr)
                i += len(latin)
                break
        else:
            out.append(upper[i])
            i += 1
    return "".join(out).title()


def make_variant(rng: random.Random, name: str, variant: str) -> str | None:
    tokens = [t for t, r in tokenize(name)]
    names = [t for t, r in tokenize(name) if r == NAME]
    if not names:
        return None
    if variant == "typo":
        long = [i for i, t in enumerate(tokens) if len(t) >= 5 and t in names]
        if not long:
            return None
        i = rng.choice(long)
        tokens[i] = _typo(rng, tokens[i])
        return " ".join(tokens)
    if variant == "reorder":
        if len(set(names)) < 2:
            return None
        shuffled = tokens[:]
        for _ in range(10):
            rng.shuffle(shuffled)
            if shuffled != tokens:
                return " ".join(shuffled)
        return " ".join(reversed(tokens))
    if variant == "drop_middle":
        if len(names) < 3:
            return None
        middle = [i for i, t in enumerate(tokens) if t in names][1:-1]
        i = rng.choice(middle)
        return " ".join(t for k, t in enumerate(tokens) if k != i)
    if variant == "cyrillic":
        return _to_cyrillic(" ".join(tokens))
    if variant == "transliteration":
        text = " ".join(tokens)
        options = [(a, b) for a, b in _LATIN_SWAPS if a in text]
        if not options:
            return None
        a, b = rng.choice(options)
        positions = [i for i in range(len(text)) if text.startswith(a, i)]
        i = rng.choice(positions)
        return text[:i] + b + text[i + len(a):]
    raise ValueError(variant)


VARIANTS = ("typo", "reorder", "transliteration", "cyrillic", "drop_middle")


def build_queries(records: Sequence[WatchlistRecord], *, positives: int = 2000, innocents: int = 2000,
                  seed: int = 20260227) -> list[LabelledQuery]:
    rng = random.Random(seed)
    listed_keys = set()
    for record in records:
        for name in record.all_names + record.weak_aliases:
            listed_keys.add(frozenset(t for t, _ in tokenize(name)))
    out: list[LabelledQuery] = []
    candidates = [i for i, r in enumerate(records) if r.kind in ("person", "entity")]
    attempts = 0
    while sum(1 for q in out if q.target is not None) < positives and attempts < positives * 20:
        attempts += 1
        e = rng.choice(candidates)
        record = records[e]
        latin = [n for n in record.all_names if n.isascii()]
        if not latin:
            continue
        name = rng.choice(latin)
        variant = rng.choice(VARIANTS)
        if variant == "cyrillic" and record.kind != "person":
            continue  # entity names are translated, not transliterated
        text = make_variant(rng, name, variant)
        if not text:
            continue
        out.append(LabelledQuery(Query(text, kind=record.kind), e, variant))
    made = 0
    while made < innocents:
        if rng.random() < 0.8:
            parts = [rng.choice(GIVEN)]
            if rng.random() < 0.3:
                parts.append(rng.choice(GIVEN))
            parts.append(rng.choice(FAMILY))
            kind = "person"
        else:
            parts = [rng.choice(COMPANY_A), rng.choice(COMPANY_B), rng.choice(COMPANY_C)]
            kind = "entity"
        text = " ".join(p for p in parts if p)
        if frozenset(t for t, _ in tokenize(text)) in listed_keys:
            continue  # that exact name is listed: a true name match, not an innocent
        out.append(LabelledQuery(Query(text, kind=kind), None, "innocent"))
        made += 1
    rng.shuffle(out)
    return out


def run(index: ScreeningIndex, queries: Sequence[LabelledQuery], threshold: float | None = None) -> dict:
    timings = []
    cpu_timings = []
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    false_pos = 0
    innocents = 0
    misses: list[Any] = []
    false_hits: list[Any] = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    for lq in queries:
        t0 = time.perf_counter()
        c0 = time.thread_time()
        hits = index.screen(lq.query, threshold=threshold)
        cpu_timings.append(time.thread_time() - c0)
        timings.append(time.perf_counter() - t0)
        if lq.target is None:
            innocents += 1
            false_pos += bool(hits)
            if hits and len(false_hits) < 20:
                false_hits.append({"query": lq.query.name, "hit": hits[0].matched_name,
                                   "score": round(hits[0].score, 3)})
        else:
            total[lq.variant] += 1
            if any(h.entry == lq.target for h in hits):
                found[lq.variant] += 1
            elif len(misses) < 20:
                misses.append({"query": lq.query.name, "listed": index.records[lq.target].name,
                               "variant": lq.variant})
    elapsed = time.perf_counter() - start
    cpu_elapsed = time.process_time() - cpu_start
    timings.sort()
    cpu_timings.sort()
    positives = sum(total.values())
    return {
        "queries": len(queries),
        "positives": positives,
        "innocents": innocents,
        "per_second": round(len(queries) / elapsed, 1),
        "p50_ms": round(statistics.median(timings) * 1000, 3),
        "p99_ms": round(timings[int(0.99 * (len(timings) - 1))] * 1000, 3),
        "max_ms": round(timings[-1] * 1000, 3),
        # CPU time of this process only: the per-core figures, unaffected by other load on the machine.
        "cpu_per_second": round(len(queries) / cpu_elapsed, 1),
        "cpu_p50_ms": round(statistics.median(cpu_timings) * 1000, 3),
        "cpu_p99_ms": round(cpu_timings[int(0.99 * (len(cpu_timings) - 1))] * 1000, 3),
        "recall": round(sum(found.values()) / max(positives, 1), 4),
        "false_positive_rate": round(false_pos / max(innocents, 1), 4),
        "recall_by_variant": {v: round(found[v] / total[v], 4) for v in sorted(total)},
        "sample_misses": misses,
        "sample_false_positives": false_hits,
    }
