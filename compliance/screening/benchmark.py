"""A labelled query set for measuring the matcher: true variants of listed names (typos,
reordering, transliteration, dropped middle names) and innocent names."""
from __future__ import annotations

import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .importers import WatchlistRecord
from .matcher import Query, ScreeningIndex
from .normalize import GENERIC, LEGAL, NAME, PARTICLE, is_abjad, script_of, tokenize

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


# Greek spelling of foreign names: B, D, G are written ΜΠ, ΝΤ, ΓΚ; V is Β; H is not written.
_GREEK = [("SCH", "Σ"), ("SH", "Σ"), ("CH", "Τσ"), ("KH", "Χ"), ("GH", "Γ"), ("TH", "Θ"), ("PH", "Φ"), ("DH", "Ντ"),
          ("ZH", "Ζ"), ("TS", "Τσ"), ("TZ", "Τζ"), ("OU", "ου"), ("OO", "ου"), ("EE", "ι"), ("AI", "αϊ"),
          ("B", "μπ"), ("D", "ντ"), ("G", "γκ"), ("V", "β"), ("W", "ου"), ("H", ""), ("J", "τζ"), ("C", "κ"),
          ("Q", "κ"), ("X", "ξ"), ("Y", "ι"), ("U", "ου"), ("F", "φ"), ("K", "κ"), ("L", "λ"), ("M", "μ"),
          ("N", "ν"), ("P", "π"), ("R", "ρ"), ("S", "σ"), ("T", "τ"), ("Z", "ζ"), ("A", "α"), ("E", "ε"),
          ("I", "ι"), ("O", "ο")]
_GREEK_ALT = {"ο": "ω", "ε": "η", "ι": "η"}

# Abjads: consonants written, short vowels not; long vowels and a word's first vowel are. Foreign
# names (which most listed Latin names are to an Arabic or Hebrew writer) are written with their
# vowels in full, as the Israeli and Arab press write them: O and U with و/ו, I with ي/י, a final
# vowel always, A often with alef.
_ARABIC = [("SH", "ش"), ("KH", "خ"), ("GH", "غ"), ("TH", "ث"), ("DH", "ذ"), ("CH", "تش"), ("PH", "ف"),
           ("B", "ب"), ("T", "ت"), ("J", "ج"), ("H", "ح"), ("D", "د"), ("R", "ر"), ("Z", "ز"), ("S", "س"),
           ("F", "ف"), ("Q", "ق"), ("K", "ك"), ("C", "ك"), ("L", "ل"), ("M", "م"), ("N", "ن"), ("W", "و"),
           ("Y", "ي"), ("G", "ج"), ("P", "ب"), ("V", "ف"), ("X", "كس")]
_ARABIC_ALT = {"ح": "ه", "س": "ص", "ت": "ط", "د": "ض", "ز": "ظ"}
# CH in a listed Latin name is mostly Spanish, English or Korean (CHAVES, CHOE): צ'; KH is ח.
_HEBREW = [("SH", "ש"), ("KH", "ח"), ("CH", "צ'"), ("TS", "צ"), ("TZ", "צ"), ("TH", "ת"), ("PH", "פ"), ("ZH", "ז'"),
           ("B", "ב"), ("V", "ו"), ("G", "ג"), ("D", "ד"), ("H", "ה"), ("W", "ו"), ("Z", "ז"), ("T", "ט"),
           ("Y", "י"), ("K", "כ"), ("C", "ק"), ("L", "ל"), ("M", "מ"), ("N", "נ"), ("S", "ס"), ("P", "פ"),
           ("F", "פ"), ("Q", "ק"), ("R", "ר"), ("J", "ג'"), ("X", "קס")]
_HEBREW_FINAL = {"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}
_VOWELS = "AEIOUY"


def _by_rules(rng: random.Random, word: str, rules: Sequence[tuple[str, str]], alt: dict[str, Any]) -> str:
    out, i = [], 0
    while i < len(word):
        for latin, target in rules:
            if word.startswith(latin, i):
                if target in alt and rng.random() < 0.3:
                    target = alt[target]
                out.append(target)
                i += len(latin)
                break
        else:
            i += 1
    return "".join(out)


def _to_greek(rng: random.Random, text: str) -> str:
    words = []
    for word in text.upper().split():
        g = _by_rules(rng, word, _GREEK, _GREEK_ALT)
        if g.endswith("σ"):
            g = g[:-1] + "ς"
        if g:
            words.append(g[0].upper() + g[1:])
    return " ".join(words)


def _abjad_word(rng: random.Random, word: str, rules: Sequence[tuple[str, Any]], long_i: str, long_u: str, alef: str, final_a: str) -> str:
    out, i = [], 0
    while i < len(word):
        ch = word[i]
        if ch in _VOWELS:
            run = ch
            while i + len(run) < len(word) and word[i + len(run)] in _VOWELS:
                run += word[i + len(run)]
            final = i + len(run) == len(word)
            # Each long vowel of the run has its letter (I/Y and E before it: י/ي; O/U: ו/و);
            # A and E alone are not written inside a word, but often A is, with alef.
            letters: list[str] = []
            for v in ("EE" if run == "EI" else run):
                letter = long_i if v in "IY" or run == "EE" else long_u if v in "OU" else ""
                if letter and (not letters or letters[-1] != letter):
                    letters.append(letter)
            if i == 0:
                # A first vowel is carried by alef, with the letter of a long vowel after it
                # (איבן Ivan, אולג Oleg).
                out.append(alef)
                out.extend(letters)
            elif letters:
                # Foreign names are written in full: O and U almost always (מדורו Maduro, فو Vo).
                if final or len(run) > 1 or letters != [long_u] or rng.random() < 0.9:
                    out.extend(letters)
                if final and run[-1] in "AE":
                    out.append(final_a)  # מריה Maria
            elif final:
                out.append(final_a)
            elif run == "AA" or (run == "A" and rng.random() < 0.4):
                out.append(alef)
            i += len(run)
            continue
        for latin, target in rules:
            if word.startswith(latin, i):
                if not out or out[-1] != target:  # a doubled consonant is written once
                    out.append(target)
                i += len(latin)
                break
        else:
            i += 1
    return "".join(out)


def _to_arabic(rng: random.Random, text: str) -> str:
    words = text.upper().split()
    out = []
    glue = False
    for word in words:
        if word in ("AL", "EL"):
            glue = True
            continue
        w = _abjad_word(rng, word, _ARABIC, "ي", "و", "ا", rng.choice(["ة", "ا"]))
        w = "".join(_ARABIC_ALT.get(c, c) if rng.random() < 0.15 else c for c in w)
        out.append(("ال" + w) if glue else w)
        glue = False
    return " ".join(out)


def _to_hebrew(rng: random.Random, text: str) -> str:
    out = []
    for word in text.upper().split():
        w = _abjad_word(rng, word, _HEBREW, "י", "ו", "א", "ה")
        if w and w[-1] in _HEBREW_FINAL:
            w = w[:-1] + _HEBREW_FINAL[w[-1]]
        if w:
            out.append(w)
    return " ".join(out)


_LEGAL_SWAP = ["LLC", "Ltd", "Limited", "Inc", "GmbH", "SA", "S.A.", "AG", "Co.", "Company", "Corp", "JSC", "PLC", "B.V."]


def make_variant(rng: random.Random, name: str, variant: str, kind: str = "person") -> str | None:
    tokenized = tokenize(name)
    tokens = [t for t, r in tokenized]
    names = [t for t, r in tokenized if r == NAME]
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
    if variant == "greek":
        return _to_greek(rng, " ".join(tokens)) or None
    if variant == "arabic_script":
        return _to_arabic(rng, " ".join(tokens)) or None
    if variant == "hebrew_script":
        return _to_hebrew(rng, " ".join(tokens)) or None
    if variant == "transliteration":
        text = " ".join(tokens)
        options = [(a, b) for a, b in _LATIN_SWAPS if a in text]
        if not options:
            return None
        a, b = rng.choice(options)
        positions = [i for i in range(len(text)) if text.startswith(a, i)]
        i = rng.choice(positions)
        return text[:i] + b + text[i + len(a):]
    if variant == "glued_particle":
        # A particle glued to the next word, or written with a hyphen, or left out.
        spots = [i for i, (t, r) in enumerate(tokenized[:-1]) if r == PARTICLE and tokenized[i + 1][1] == NAME]
        if not spots:
            return None
        i = rng.choice(spots)
        how = rng.choice(("glue", "hyphen", "drop"))
        if how == "drop" and len(names) < 2:
            how = "glue"
        merged = {"glue": tokens[i] + tokens[i + 1], "hyphen": tokens[i] + "-" + tokens[i + 1],
                  "drop": tokens[i + 1]}[how]
        return " ".join(tokens[:i] + [merged] + tokens[i + 2:])
    if variant == "partial":
        # A long name given in part: a run of at least two of its name tokens, half of them or more.
        idx = [i for i, (t, r) in enumerate(tokenized) if r == NAME]
        if len(idx) < 4:
            return None
        size = rng.randint(max(2, (len(idx) + 1) // 2), len(idx) - 1)
        start = rng.randint(0, len(idx) - size)
        keep = idx[start:start + size]
        return " ".join(tokens[i] for i in keep)
    if variant == "dotted_initials":
        if kind != "person" or len(names) < 3 or "," not in name:
            return None
        surname = [t for t, _ in tokenize(name.split(",", 1)[0])]
        given = [t for t, r in tokenize(name.split(",", 1)[1]) if r == NAME]
        if not given or not surname:
            return None
        style = rng.choice((".", ". ", " "))
        initials = style.join(g[0] for g in given) + ("." if style != " " else "")
        return f"{initials} {' '.join(surname)}"
    if variant == "legal_form_swap":
        if kind == "person":
            return None
        legal = [i for i, (t, r) in enumerate(tokenized) if r == LEGAL]
        swap = rng.choice(_LEGAL_SWAP)
        if legal:
            tokens[legal[-1]] = swap
            return " ".join(tokens)
        return " ".join(tokens + [swap])
    raise ValueError(variant)


VARIANTS = ("typo", "reorder", "transliteration", "cyrillic", "drop_middle", "greek", "arabic_script",
            "hebrew_script", "glued_particle", "partial", "dotted_initials", "legal_form_swap")
PERSON_ONLY = {"cyrillic", "greek", "arabic_script", "hebrew_script", "dotted_initials"}
ENTITY_ONLY = {"legal_form_swap"}


def _near_misses(rng: random.Random, records: Sequence[WatchlistRecord], count: int, listed_keys: set) -> list:
    """Innocent names that share a surname with a listed person (another given name), or the
    generic words of a listed firm (country, BANK, TRADING...) with other words of their own."""
    surnames: dict[str, set[str]] = {}
    generic_firms = []
    for record in records:
        if record.kind == "person":
            for name in record.all_names:
                if "," in name and name.isascii():
                    sur = [t for t, r in tokenize(name.split(",", 1)[0]) if r == NAME]
                    if len(sur) == 1 and len(sur[0]) >= 4:
                        surnames.setdefault(sur[0], set()).update(t for t, _ in tokenize(name))
        elif record.kind == "entity":
            toks = tokenize(record.name)
            generic = [t for t, r in toks if r == GENERIC]
            if len(generic) >= 1 and record.name.isascii():
                generic_firms.append(generic)
    sur_list = sorted(surnames)
    out: list[Any] = []
    attempts = 0
    while len(out) < count and attempts < count * 50:
        attempts += 1
        if rng.random() < 0.6 and sur_list:
            picked = rng.choice(sur_list)
            given = rng.choice(GIVEN)
            if any(t in surnames[picked] for t, _ in tokenize(given)):
                continue
            text, kind = f"{given} {picked.title()}", "person"
        elif generic_firms:
            generic = rng.choice(generic_firms)
            words = [w.title() for w in generic] + [rng.choice(COMPANY_A)]
            rng.shuffle(words)
            text, kind = " ".join(words + [rng.choice(COMPANY_C)]).strip(), "entity"
        else:
            continue
        if frozenset(t for t, _ in tokenize(text)) in listed_keys:
            continue
        out.append(LabelledQuery(Query(text, kind=kind), None, "near_miss"))
    return out


def build_queries(records: Sequence[WatchlistRecord], *, positives: int = 2000, innocents: int = 2000,
                  near_misses: int = 500, seed: int = 20260227) -> list[LabelledQuery]:
    rng = random.Random(seed)
    listed_keys = set()
    for record in records:
        for name in record.all_names + record.weak_aliases:
            listed_keys.add(frozenset(t for t, _ in tokenize(name)))
    out: list[LabelledQuery] = []
    candidates = [i for i, r in enumerate(records) if r.kind in ("person", "entity")]
    attempts = 0
    while sum(1 for q in out if q.target is not None) < positives and attempts < positives * 40:
        attempts += 1
        e = rng.choice(candidates)
        record = records[e]
        latin = [n for n in record.all_names if n.isascii()]
        if not latin:
            continue
        name = rng.choice(latin)
        variant = rng.choice(VARIANTS)
        if (variant in PERSON_ONLY and record.kind != "person") or (variant in ENTITY_ONLY and record.kind == "person"):
            continue  # entity names are translated, not transliterated
        text = make_variant(rng, name, variant, record.kind)
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
    out.extend(_near_misses(rng, records, near_misses, listed_keys))
    out.extend(_script_innocents(random.Random(seed + 1), innocents // 10, listed_keys))
    rng.shuffle(out)
    return out


def _script_innocents(rng: random.Random, count: int, listed_keys: set) -> list[LabelledQuery]:
    """Innocent people's names written in Hebrew and Arabic letters (consonants only, as those
    scripts write them), where short consonant keys collide most easily."""
    out: list[LabelledQuery] = []
    while len(out) < count:
        text = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
        if frozenset(t for t, _ in tokenize(text)) in listed_keys:
            continue
        script, write = rng.choice((("hebrew", _to_hebrew), ("arabic", _to_arabic)))
        written = write(rng, text)
        if written:
            out.append(LabelledQuery(Query(written, kind="person"), None, f"innocent_{script}"))
    return out


def run(index: ScreeningIndex, queries: Sequence[LabelledQuery], threshold: float | None = None) -> dict:
    """Recall per variant kind, false-positive rate per negative kind, the recall of retrieval
    alone (the true entry is among the candidates handed to the scorer), throughput and
    latency."""
    timings = []
    cpu_timings = []
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    negatives: Counter[str] = Counter()
    false_pos: Counter[str] = Counter()
    misses: list[Any] = []
    false_hits: list[Any] = []
    start = time.perf_counter()
    cpu_start = time.process_time()
    results = []
    for lq in queries:
        t0 = time.perf_counter()
        c0 = time.thread_time()
        hits = index.screen(lq.query, threshold=threshold)
        cpu_timings.append(time.thread_time() - c0)
        timings.append(time.perf_counter() - t0)
        results.append(hits)
    elapsed = time.perf_counter() - start
    cpu_elapsed = time.process_time() - cpu_start
    retrieved: Counter[str] = Counter()
    for lq, hits in zip(queries, results):
        if lq.target is None:
            negatives[lq.variant] += 1
            false_pos[lq.variant] += bool(hits)
            if hits and len(false_hits) < 30:
                false_hits.append({"kind": lq.variant, "query": lq.query.name, "hit": hits[0].matched_name,
                                   "score": round(hits[0].score, 3)})
        else:
            total[lq.variant] += 1
            if lq.target in index.candidates(lq.query):
                retrieved[lq.variant] += 1
            if any(h.entry == lq.target for h in hits):
                found[lq.variant] += 1
            elif len(misses) < 40:
                misses.append({"query": lq.query.name, "listed": index.records[lq.target].name,
                               "variant": lq.variant})
    timings.sort()
    cpu_timings.sort()
    positives = sum(total.values())
    innocents = sum(negatives.values())
    return {
        "queries": len(queries),
        "positives": positives,
        "negatives": innocents,
        "per_second": round(len(queries) / elapsed, 1),
        "p50_ms": round(statistics.median(timings) * 1000, 3),
        "p99_ms": round(timings[int(0.99 * (len(timings) - 1))] * 1000, 3),
        "max_ms": round(timings[-1] * 1000, 3),
        # CPU time of this process only: the per-core figures, unaffected by other load on the machine.
        "cpu_per_second": round(len(queries) / cpu_elapsed, 1),
        "cpu_p50_ms": round(statistics.median(cpu_timings) * 1000, 3),
        "cpu_p99_ms": round(cpu_timings[int(0.99 * (len(cpu_timings) - 1))] * 1000, 3),
        "recall": round(sum(found.values()) / max(positives, 1), 4),
        "retrieval_recall": round(sum(retrieved.values()) / max(positives, 1), 4),
        "false_positive_rate": round(false_pos["innocent"] / max(negatives["innocent"], 1), 4),
        "recall_by_variant": {v: round(found[v] / total[v], 4) for v in sorted(total)},
        "retrieval_recall_by_variant": {v: round(retrieved[v] / total[v], 4) for v in sorted(total)},
        "queries_by_variant": {v: total[v] for v in sorted(total)},
        "false_positive_rate_by_kind": {k: round(false_pos[k] / negatives[k], 4) for k in sorted(negatives)},
        "negatives_by_kind": dict(sorted(negatives.items())),
        "sample_misses": misses,
        "sample_false_positives": false_hits,
    }


def run_public_cases(index: ScreeningIndex, cases: Sequence[dict], threshold: float | None = None) -> dict:
    """Labelled cases from other screening projects' published tests: `expect` is the listed
    name that must be among the hits, or empty when the query must not hit `listed`."""
    passed, failures = 0, []
    for case in cases:
        hits = index.screen(Query(case["query"], kind=case.get("kind") or None), threshold=threshold)
        names = {h.listed_name for h in hits} | {h.matched_name for h in hits}
        if case["expect"] == "hit":
            ok = case["listed"] in names
        else:
            ok = case["listed"] not in names if case["listed"] else not hits
        passed += ok
        if not ok:
            failures.append({"source": case["source"], "query": case["query"], "listed": case["listed"],
                             "expect": case["expect"], "hits": [h.listed_name for h in hits[:3]]})
    return {"cases": len(cases), "passed": passed, "failures": failures}


def original_script_cases(records: Sequence[WatchlistRecord]) -> tuple[list[WatchlistRecord], list[LabelledQuery]]:
    """Real renderings: the names the UN list gives in their original script (Arabic, Persian,
    Urdu, Cyrillic) beside its own Latin forms. Returns the records without any name in another
    script (the index to screen them against, so that nothing matches the query's own letters)
    and one query per person's original-script name, labelled with the record. Entities are left
    out: their original-script names are translations ("EGYPTIAN ISLAMIC JIHAD"), not renderings."""
    latin_only: list[WatchlistRecord] = []
    queries: list[LabelledQuery] = []
    for e, record in enumerate(records):
        # Names wholly in the script ("Djaafar Abou Mohamed (جعفر ابو محمد)" is a Latin alias with a gloss).
        scripted = [n for n in record.aliases if (is_abjad(n) or script_of(n) == "cyrillic")
                    and not any("A" <= c <= "Z" for c in n.upper())]
        latin_only.append(replace(record, aliases=[n for n in record.aliases if script_of(n) == "latin"],
                                  weak_aliases=[n for n in record.weak_aliases if script_of(n) == "latin"]))
        if record.kind != "person" or record.source != "un" or not any(script_of(n) == "latin" for n in record.all_names):
            continue
        for name in scripted:
            kind = is_abjad(name) or script_of(name)
            queries.append(LabelledQuery(Query(name, kind="person"), e, f"un_{kind}_original"))
    return latin_only, queries
