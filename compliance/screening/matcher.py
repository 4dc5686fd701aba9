"""Name screening: an inverted index over normalised name tokens and a scorer.

Scoring a query name against a listed name (both tokenised by `normalize.tokenize`):

1. Token similarity matrix S: 1 for equal tokens; the Indel ratio (rapidfuzz) otherwise,
   raised to `skeleton_sim` when both tokens share a consonant skeleton (transliteration:
   MOHAMMED ~ MUHAMMAD), `initial_sim` for an initial against a token with that first letter;
   anything below `token_cutoff` counts as 0. Order is ignored (token reordering is free).
2. Each token is weighted: rare tokens weigh 1, common ones less (inverse document frequency
   over the list's names), particles (AL, BIN, DE...) and legal forms (LTD, LLC, GMBH...) much less.
3. Coverage of each side: the weighted mean of every token's best match on the other side.
   The side with less weight is "small"; score = cover_small * (1 - unmatched_penalty * unmatched_large),
   where unmatched_large is the share of the larger side's weight that matched nothing, so a
   dropped middle name costs a little. Against the index, a listed surname ("SURNAME, Given")
   that nothing matches multiplies the score by `surname_missing_factor`.
   If only one name token matches while either side has two or more, the score is multiplied by
   `single_token_factor`; if no real name token matches (only particles/legal forms), it is 0.
   The result is symmetric in its two arguments.
4. Corroboration at entry level: an exact identifier match is decisive (1.0); a matching date
   of birth or country adds a little; a conflicting DOB year, DOB day or country subtracts.
   Every adjustment is listed in the hit's explanation.

The index gathers candidate names through blocking keys per vocabulary token (the token, its
consonant skeleton, its one-deletion variants), accumulates weighted evidence per name with
numpy, and scores the best few exactly.
"""
from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import jellyfish
import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from .importers import WatchlistRecord
from .normalize import (
    GENERIC,
    LEGAL,
    NAME,
    PARTICLE,
    abjad,
    is_abjad,
    name_readings,
    name_variants,
    phonetic,
    skeleton,
    strip_glued_prefix,
    tokenize,
)


@dataclass(frozen=True)
class MatcherConfig:
    threshold: float = 0.80
    token_cutoff: float = 0.75
    skeleton_sim: float = 0.80
    initial_sim: float = 0.80
    particle_weight: float = 0.2
    legal_weight: float = 0.05
    generic_weight: float = 0.35
    generic_only_factor: float = 0.75
    kunya_factor: float = 0.6
    rare_weight: float = 0.9
    partial_penalty: float = 0.15
    partial_min_weight: float = 1.5
    partial_surname_factor: float = 0.9
    entity_extra_penalty: float = 0.3
    short_typo_sim: float = 0.75
    abjad_sim: float = 0.92  # consonant keys of three consonants or more
    abjad_sim_two: float = 0.8
    abjad_sim_one: float = 0.75
    abjad_exponent: float = 1.5  # consonant keys that differ count for less than the letters of spellings that do
    abjad_min_letters: float = 0.5
    min_idf_weight: float = 0.3
    phonetic_factor: float = 0.95
    skeleton_min_phonetic: float = 0.6
    unmatched_penalty: float = 0.4
    surname_missing_factor: float = 0.85
    single_token_factor: float = 0.7
    weak_alias_factor: float = 0.9
    joined_factor: float = 0.97
    dob_match_bonus: float = 0.05
    dob_year_conflict: float = 0.20
    dob_day_conflict: float = 0.10
    country_match_bonus: float = 0.02
    country_conflict: float = 0.10
    max_candidates: int = 40
    # A name read from an abjad meets many names through its consonant keys (N-S-R is NASR,
    # NASSER, NASIR, NSOUR...): the scorer, not the estimate, has to pick among more of them.
    abjad_max_candidates: int = 150
    candidate_floor: float = 0.55
    abjad_candidate_floor: float = 0.4


DEFAULT_CONFIG = MatcherConfig()


@dataclass(frozen=True)
class Query:
    name: str
    kind: str | None = None  # "person" | "entity" | None (any)
    dob: str | None = None  # "1960-01-10", "1960-01" or "1960"
    countries: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()


@dataclass
class Hit:
    entry: int  # position of the record in the index
    source: str
    ref: str
    kind: str
    listed_name: str
    matched_name: str
    score: float
    name_score: float
    explanation: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "source": self.source, "ref": self.ref, "kind": self.kind, "listed_name": self.listed_name,
            "matched_name": self.matched_name, "score": round(self.score, 4),
            "name_score": round(self.name_score, 4), "explanation": self.explanation,
        }


_VOWEL_START = frozenset("AEIOU")
_ROLE_CODE = {NAME: 0, PARTICLE: 1, LEGAL: 2, GENERIC: 3}
_KUNYA = frozenset({"ABU", "ABOU", "ABO", "UMM"})


def _role_weight(role: str, cfg: MatcherConfig) -> float:
    return {NAME: 1.0, PARTICLE: cfg.particle_weight, LEGAL: cfg.legal_weight, GENERIC: cfg.generic_weight}[role]


def _for_kind(tokens: tuple[tuple[str, str], ...], kind: str | None) -> tuple[tuple[str, str], ...]:
    """Country and generic words are names in a person's name (JORDAN, CHAD, GEORGIA)."""
    if kind == "person" and any(r == GENERIC for _, r in tokens):
        return tuple((t, NAME if r == GENERIC else r) for t, r in tokens)
    return tokens


def _kunya_flags(tokens: Sequence[tuple[str, str]]) -> np.ndarray:
    """Tokens that follow ABU/UMM: part of a kunya ("father of X"), not the given name X."""
    flags = np.zeros(len(tokens), dtype=bool)
    for i, (token, role) in enumerate(tokens):
        after = i > 0 and tokens[i - 1][0] in _KUNYA
        glued = len(token) >= 6 and token.startswith(("ABU", "ABOU", "ABO", "UMM")) and token not in _KUNYA
        flags[i] = role == NAME and (after or glued)
    return flags


# --------------------------------------------------------------------------------------------
# Pure scoring


def _skeleton_boost(a: str, b: str, sa: str, sb: str, phon: float, cfg: MatcherConfig) -> bool:
    return (min(len(a), len(b)) >= 3 and len(sa) >= 2 and sa == sb and phon >= cfg.skeleton_min_phonetic
            and (len(sa) >= 3 or a[0] == b[0]))


def _short_typo(a: str, b: str) -> bool:
    """Two two-letter tokens sharing one letter (UN ~ UM, UN ~ NU): a typo, not another token."""
    return len(a) == 2 and len(b) == 2 and fuzz.ratio(a, b) == 50.0


def token_similarity(a: str, b: str, cfg: MatcherConfig = DEFAULT_CONFIG, abjad_script: str = "") -> float:
    """Similarity of two normalised tokens in [0, 1]; symmetric; 0 below the cutoff.
    `abjad_script`: one side was written in Arabic or Hebrew script (short vowels unwritten)."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return cfg.initial_sim if a[0] == b[0] else 0.0
    phon = fuzz.ratio(phonetic(a), phonetic(b)) / 100.0
    s = max(fuzz.ratio(a, b) / 100.0, cfg.phonetic_factor * phon)
    if s < cfg.skeleton_sim and _skeleton_boost(a, b, skeleton(a), skeleton(b), phon, cfg):
        s = cfg.skeleton_sim
    if _short_typo(a, b):
        s = max(s, cfg.short_typo_sim)
    if abjad_script:
        s = max(s, float(_abjad_matrix(TokenArrays.of([a]), TokenArrays.of([b]), cfg,
                                       np.array([[a[0] == b[0]]]), np.array([[False]]),
                                       np.array([[max(fuzz.ratio(a, b) / 100.0, phon)]])
                                       if abjad_script == "hebrew" else None)[0, 0]))
    return s if s >= cfg.token_cutoff else 0.0


@dataclass(frozen=True)
class TokenArrays:
    """Per-token features used to compute similarity matrices in bulk."""

    tokens: list[str]
    phonetic: list[str]
    ident: np.ndarray  # hash of the token
    length: np.ndarray
    first: np.ndarray
    skel: np.ndarray  # hash of the skeleton
    skel_len: np.ndarray
    abjad: list[str]
    abjad_v: list[str]

    @classmethod
    def of(cls, tokens: Sequence[str]) -> TokenArrays:
        tokens = list(tokens)
        sks = [skeleton(t) for t in tokens]
        return cls(
            tokens=tokens,
            phonetic=[phonetic(t) for t in tokens],
            ident=np.array([hash(t) for t in tokens], dtype=np.int64),
            length=np.array([len(t) for t in tokens], dtype=np.int32),
            first=np.array([ord(t[0]) if t else 0 for t in tokens], dtype=np.int32),
            skel=np.array([hash(sk) for sk in sks], dtype=np.int64),
            skel_len=np.array([len(sk) for sk in sks], dtype=np.int32),
            abjad=[abjad(t) for t in tokens],
            abjad_v=[abjad(t, True) for t in tokens],
        )

    def take(self, idx: np.ndarray, abjad_keys: bool = True) -> TokenArrays:
        """The rows `idx`; without the consonant keys (left empty) unless `abjad_keys`: only a
        name written in an abjad compares them."""
        if not hasattr(self, "_objects"):
            object.__setattr__(self, "_objects", tuple(np.array(x, dtype=object) for x in
                                                       (self.tokens, self.phonetic, self.abjad, self.abjad_v)))
        tok, pho, ab, abv = self._objects
        return TokenArrays(
            tokens=tok[idx].tolist(), phonetic=pho[idx].tolist(),
            ident=self.ident[idx], length=self.length[idx], first=self.first[idx], skel=self.skel[idx],
            skel_len=self.skel_len[idx], abjad=ab[idx].tolist() if abjad_keys else [],
            abjad_v=abv[idx].tolist() if abjad_keys else [])


def _abjad_matrix(a: TokenArrays, b: TokenArrays, cfg: MatcherConfig, same_first: np.ndarray,
                  initial: np.ndarray, letters: np.ndarray | None = None) -> np.ndarray:
    """Similarity of consonant keys, for a name written in an abjad: the better of the keys
    with V and J dropped (read as vowels) and with V read as B and J as G (the query's own key,
    from the abjad, is the latter); a one-consonant key counts only when equal and the tokens
    begin alike: both with a vowel (an abjad writes a first vowel with alef or ayin, whatever
    the vowel: אדי = UDAY, ALI) or both with a consonant (ולה = VALLE, חי = CHAYO)."""
    vowel_a = np.array([t[:1] in _VOWEL_START for t in a.tokens])
    vowel_b = np.array([t[:1] in _VOWEL_START for t in b.tokens])
    same_first = vowel_a[:, None] == vowel_b[None, :]
    best = np.zeros((len(a.tokens), len(b.tokens)))
    la = np.array([len(x) for x in a.abjad_v])
    for keys in (b.abjad, b.abjad_v):
        lb = np.array([len(x) for x in keys])
        ab = cdist(a.abjad_v, keys, scorer=fuzz.ratio, dtype=np.float32).astype(np.float64) / 100.0
        ok = (((la[:, None] >= 2) & (lb[None, :] >= 2)) | ((la[:, None] == 1) & (lb[None, :] == 1) & same_first
                                                            & (ab == 1.0))) & ~initial
        # A key of one or two consonants is met by many names: it tells less than a long one.
        short = np.minimum(la[:, None], lb[None, :])
        factor = np.where(short >= 3, cfg.abjad_sim, np.where(short == 2, cfg.abjad_sim_two, cfg.abjad_sim_one))
        best = np.maximum(best, np.where(ok, factor * ab ** cfg.abjad_exponent, 0.0))
    if letters is not None:
        # The letters an abjad does write (consonants and long vowels, in order) are most of the
        # listed spelling: a reading sharing under `abjad_min_letters` of it only shares a key.
        best = np.where(letters >= cfg.abjad_min_letters, best, 0.0)
    return best


def _similarity_matrix(a: TokenArrays, b: TokenArrays, cfg: MatcherConfig, abjad_script: str = "") -> np.ndarray:
    """The same values as token_similarity over a x b, computed in bulk."""
    raw = cdist(a.tokens, b.tokens, scorer=fuzz.ratio, dtype=np.float32).astype(np.float64) / 100.0
    phon = cdist(a.phonetic, b.phonetic, scorer=fuzz.ratio, dtype=np.float32).astype(np.float64) / 100.0
    S = np.maximum(raw, cfg.phonetic_factor * phon)
    same_first = a.first[:, None] == b.first[None, :]
    initial = (a.length[:, None] == 1) | (b.length[None, :] == 1)
    S = np.where(initial, np.where(same_first, cfg.initial_sim, 0.0), S)
    boost = (
        ~initial
        & (S < cfg.skeleton_sim)
        & (np.minimum(a.length[:, None], b.length[None, :]) >= 3)
        & (a.skel[:, None] == b.skel[None, :])
        & (a.skel_len[:, None] >= 2)
        & (phon >= cfg.skeleton_min_phonetic)
        & ((a.skel_len[:, None] >= 3) | same_first)
    )
    S = np.where(boost, cfg.skeleton_sim, S)
    short = (a.length[:, None] == 2) & (b.length[None, :] == 2) & (raw == 0.5)
    if short.any():
        S = np.where(short, np.maximum(S, cfg.short_typo_sim), S)
    if abjad_script:
        # Hebrew is read with its vowel letters written as vowels (normalize._hebrew): its
        # reading can be held to the listed spelling's letters.
        letters = np.maximum(raw, phon) if abjad_script == "hebrew" else None
        S = np.maximum(S, _abjad_matrix(a, b, cfg, same_first, initial, letters))
    S = np.where(a.ident[:, None] == b.ident[None, :], 1.0, S)
    S[S < cfg.token_cutoff] = 0.0
    return S


def combine(S: np.ndarray, wa: np.ndarray, wb: np.ndarray, name_a: np.ndarray, name_b: np.ndarray,
            cfg: MatcherConfig = DEFAULT_CONFIG, generic_a: np.ndarray | None = None,
            generic_b: np.ndarray | None = None) -> float:
    """Score from a similarity matrix (a x b), token weights and name-role masks. Symmetric:
    combine(S, wa, wb, na, nb, ga, gb) == combine(S.T, wb, wa, nb, na, gb, ga)."""
    if S.size == 0:
        return 0.0
    generic_a = np.zeros(len(wa), dtype=bool) if generic_a is None else generic_a
    generic_b = np.zeros(len(wb), dtype=bool) if generic_b is None else generic_b
    best_a = S.max(axis=1)
    best_b = S.max(axis=0)
    Wa = float(wa.sum())
    Wb = float(wb.sum())
    if Wa <= 0 or Wb <= 0:
        return 0.0
    ca = float(np.dot(wa, best_a)) / Wa
    cb = float(np.dot(wb, best_b)) / Wb
    fa = float(np.dot(wa, best_a > 0)) / Wa
    fb = float(np.dot(wb, best_b > 0)) / Wb
    return _finish(ca, cb, Wa, Wb, int(((best_a > 0) & name_a).sum()), int(((best_b > 0) & name_b).sum()),
                   int(name_a.sum()), int(name_b.sum()), cfg, fa, fb,
                   int(((best_a > 0) & generic_a).sum()), int(((best_b > 0) & generic_b).sum()))


def _finish(ca: float, cb: float, Wa: float, Wb: float, ma: int, mb: int, na: int, nb: int,
            cfg: MatcherConfig, fa: float, fb: float, ga: int = 0, gb: int = 0, partial: bool = False) -> float:
    """ca/cb: similarity-weighted coverage of each side; fa/fb: share of each side's weight
    that found any match; ma/mb: name tokens matched; na/nb: name tokens; ga/gb: generic
    tokens (countries, BANK, TRADING...) matched. `partial`: side a is a part of side b made of
    rare listed tokens (BASHIRUDDIN for MAHMOOD, Sultan Bashiruddin): scored against the part
    it covers, with a small penalty for the rest."""
    if partial and ma >= 1 and fa >= 0.999:
        return min(1.0, max(0.0, ca * (1.0 - cfg.partial_penalty * (1.0 - fb))))
    matched = min(ma, mb)
    generic_only = False
    if matched == 0:
        if not (min(ma + ga, mb + gb) > 0 and (ga > 0 or gb > 0)):
            return 0.0  # only particles / legal forms in common
        # Only generic words make the match ("IRAN AIR" in "Iran Air Cargo Services"): weak,
        # unless the two names are the same words.
        generic_only = not (fa >= 0.999 and fb >= 0.999)
    if Wa < Wb or (Wa == Wb and (ca, fa) >= (cb, fb)):
        small, large_found = ca, fb
    else:
        small, large_found = cb, fa
    score = small * (1.0 - cfg.unmatched_penalty * (1.0 - large_found))
    # Generic words matched beside a name count among the matched tokens.
    if min(ma + ga, mb + gb) == 1 and max(na, nb) >= 2:
        score *= cfg.single_token_factor
    if generic_only:
        score *= cfg.generic_only_factor
    return min(1.0, max(0.0, score))


def _finish_many(ca: Any, cb: Any, Wa: float, Wb: Any, ma: Any, mb: Any, na: int, nb: Any, cfg: MatcherConfig,
                 fa: Any, fb: Any, ga: Any, gb: Any, partial: Any) -> np.ndarray:
    """`_finish` for many candidates at once (side a is the query, the same for all)."""
    matched = np.minimum(ma, mb)
    generic_path = (matched == 0) & (np.minimum(ma + ga, mb + gb) > 0) & ((ga > 0) | (gb > 0))
    generic_only = generic_path & ~((fa >= 0.999) & (fb >= 0.999))
    a_small = (Wa < Wb) | ((Wa == Wb) & ((ca > cb) | ((ca == cb) & (fa >= fb))))
    small = np.where(a_small, ca, cb)
    large_found = np.where(a_small, fb, fa)
    score = small * (1.0 - cfg.unmatched_penalty * (1.0 - large_found))
    single = (np.minimum(ma + ga, mb + gb) == 1) & (np.maximum(na, nb) >= 2)
    score = np.where(single, score * cfg.single_token_factor, score)
    score = np.where(generic_only, score * cfg.generic_only_factor, score)
    score = np.where((matched == 0) & ~generic_path, 0.0, score)
    partial_score = ca * (1.0 - cfg.partial_penalty * (1.0 - fb))
    score = np.where(partial & (ma >= 1) & (fa >= 0.999), partial_score, score)
    return np.clip(score, 0.0, 1.0)


def _apply_kunya(S: np.ndarray, ka: np.ndarray, kb: np.ndarray, cfg: MatcherConfig) -> np.ndarray:
    differ = ka[:, None] != kb[None, :]
    if differ.any():
        S = np.where(differ, S * cfg.kunya_factor, S)
        S[S < cfg.token_cutoff] = 0.0
    return S


def _pair_score(ta: Sequence[tuple[str, str]], tb: Sequence[tuple[str, str]], cfg: MatcherConfig, weight: Callable[[str, str], float],
                abjad_script: str) -> float:
    S = _similarity_matrix(TokenArrays.of([t for t, _ in ta]), TokenArrays.of([t for t, _ in tb]), cfg,
                           abjad_script)
    S = _apply_kunya(S, _kunya_flags(ta), _kunya_flags(tb), cfg)
    wa = np.array([weight(t, r) for t, r in ta])
    wb = np.array([weight(t, r) for t, r in tb])
    return combine(S, wa, wb, np.array([r == NAME for _, r in ta]), np.array([r == NAME for _, r in tb]), cfg,
                   np.array([r == GENERIC for _, r in ta]), np.array([r == GENERIC for _, r in tb]))


def name_similarity(a: str, b: str, cfg: MatcherConfig = DEFAULT_CONFIG,
                    weight: Callable[[str, str], float] | None = None,
                    kind: str | None = None) -> float:
    """Similarity of two names in [0, 1] without an index (weights by role only, unless
    `weight(token, role)` is given): the best over the names' variants. Symmetric."""
    weight = weight or (lambda token, role: _role_weight(role, cfg))
    abjad_script = is_abjad(a) or is_abjad(b)
    best = 0.0

    def forms(text: str) -> list[tuple[Any, float]]:
        variants = name_variants(text)
        joined = joined_names(variants[0]) if variants and is_abjad(text) else []
        return [(v, 1.0) for v in variants] + [(j, cfg.joined_factor) for j in joined]

    for ta, fa in forms(a):
        for tb, fb in forms(b):
            if fa * fb < 1.0 and fa * fb * 1.0 <= best:
                continue
            score = _pair_score(_for_kind(ta, kind), _for_kind(tb, kind), cfg, weight, abjad_script)
            best = max(best, score * min(fa, fb))
    return best


def joined_names(tokens: tuple[tuple[str, str], ...]) -> list[tuple[tuple[str, str], ...]]:
    """The name with two adjacent name tokens written as one, for each such pair of a name of three
    or four tokens: compound names are written apart or together at will (AKHUND ZADA ~
    AKHUNZADA, SHAHID KHEL ~ SHAHIDKHEL, KHUDAI DAD ~ KHUDAIDAD). A name of two tokens is not
    joined: one long token alone is met by too many other names' tokens (AVA ALLEN ~ WALIJAN)."""
    if not 3 <= len(tokens) <= 4:
        return []
    out = []
    for i in range(len(tokens) - 1):
        (a, ra), (b, rb) = tokens[i], tokens[i + 1]
        if ra == NAME and rb == NAME and len(a) >= 2 and len(b) >= 2:
            out.append((*tokens[:i], (a + b, NAME), *tokens[i + 2:]))
    return out


def _surname_mask(text: str, tokens: Sequence[tuple[str, str]]) -> list[bool]:
    """Which tokens of a listed person's name form the surname, when the list marks it with a
    comma ("NASSER DAVID, Julio Cesar"); [] when it does not."""
    if "," not in text:
        return []
    surname = {t for t, _ in tokenize(text.split(",", 1)[0])}
    flags = [t in surname and role == NAME for t, role in tokens]
    return flags if any(flags) else []


# --------------------------------------------------------------------------------------------
# Dates, countries, identifiers


def _dob_parts(value: str) -> tuple[int, int | None, int | None] | None:
    m = re.match(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?$", value or "")
    if not m:
        return None
    return int(m.group(1)), (int(m.group(2)) if m.group(2) else None), (int(m.group(3)) if m.group(3) else None)


def compare_dob(query: str, listed: Iterable[str]) -> str | None:
    """'match', 'day_conflict', 'year_conflict' or None (nothing to compare)."""
    q = _dob_parts(query)
    if q is None:
        return None
    outcomes = []
    for value in listed:
        if "/" in value:
            lo, _, hi = value.partition("/")
            if lo.isdigit() and hi.isdigit():
                outcomes.append("match" if int(lo) <= q[0] <= int(hi) else "year_conflict")
            continue
        e = _dob_parts(value)
        if e is None:
            continue
        if e[0] != q[0]:
            outcomes.append("year_conflict")
        elif (e[1] and q[1] and e[1] != q[1]) or (e[2] and q[2] and e[2] != q[2]):
            outcomes.append("day_conflict")
        else:
            outcomes.append("match")
    for outcome in ("match", "day_conflict", "year_conflict"):
        if outcome in outcomes:
            return outcome
    return None


def normalize_identifier(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", (value or "").upper())


# --------------------------------------------------------------------------------------------
# Index


class ScreeningIndex:
    """Everything needed to screen names against a set of watchlist records, in memory.

    Retrieval: every vocabulary token is filed under several keys (`_keys`): itself, its
    phonetic form, its consonant skeleton with and without H (Greek and Spanish drop it), its
    metaphone code (jellyfish), the deletion neighbourhood of the token and of its phonetic form
    (so two edits apart still meet: SIMATOFFIC ~ SIMATOVIC), the token without a glued particle
    (ALGHORAYFI ~ GHORAYFI) and its abjad skeleton (for names written in Arabic or Hebrew
    script). A query token collects every vocabulary token under any of its keys; the scorer
    decides which of them count."""

    def __init__(self, records: Sequence[WatchlistRecord], cfg: MatcherConfig = DEFAULT_CONFIG):
        self.cfg = cfg
        self.records = list(records)
        vocab: dict[tuple[str, str], int] = {}
        vocab_role: list[int] = []
        name_entry: list[int] = []
        name_text: list[str] = []
        name_weak: list[bool] = []
        name_tids: list[list[int]] = []
        name_surname: list[list[bool]] = []
        name_kunya: list[np.ndarray] = []
        id_index: dict[str, list[int]] = defaultdict(list)
        for e, record in enumerate(self.records):
            seen_names: set[tuple] = set()
            for text, weak in [(n, False) for n in record.all_names] + [(n, True) for n in record.weak_aliases]:
                for tokens in name_variants(text):
                    tokens = _for_kind(tokens, record.kind)
                    key = tuple(t for t, _ in tokens)
                    if not tokens or key in seen_names:
                        continue
                    seen_names.add(key)
                    tids = []
                    for token, role in tokens:
                        tid = vocab.get((token, role))
                        if tid is None:
                            tid = vocab[(token, role)] = len(vocab_role)
                            vocab_role.append(_ROLE_CODE[role])
                        tids.append(tid)
                    name_entry.append(e)
                    name_surname.append(_surname_mask(text, tokens) if record.kind == "person" else [])
                    name_kunya.append(_kunya_flags(tokens))
                    name_text.append(text)
                    name_weak.append(weak)
                    name_tids.append(tids)
            for ident in record.identifiers:
                number = normalize_identifier(ident.number)
                if len(number) >= 5:
                    id_index[number].append(e)
        self.vocab = vocab
        self.vocab_tokens = [""] * len(vocab)
        for (token, _), tid in vocab.items():
            self.vocab_tokens[tid] = token
        self.vocab_arrays = TokenArrays.of(self.vocab_tokens)
        self.vocab_role = np.array(vocab_role, dtype=np.int8)
        self.name_entry = np.array(name_entry, dtype=np.int32)
        self.name_text = name_text
        self.name_weak = np.array(name_weak, dtype=bool)
        self.id_index = dict(id_index)
        self.entry_kind = np.array([r.kind for r in self.records])
        n_names = len(name_tids)
        self.n_names = n_names

        # Document frequency -> weight per vocabulary token.
        df = np.zeros(len(vocab), dtype=np.int64)
        postings: list[list[int]] = [[] for _ in range(len(vocab))]
        for n, tids in enumerate(name_tids):
            for tid in set(tids):
                df[tid] += 1
                postings[tid].append(n)
        self.postings = [np.array(p, dtype=np.int32) for p in postings]
        ref = math.log(max(n_names, 10) / 3.0)
        idf = np.log(max(n_names, 10) / np.maximum(df, 1)) / ref
        role_w = np.array([1.0, cfg.particle_weight, cfg.legal_weight, cfg.generic_weight])[self.vocab_role]
        self.vocab_weight = role_w * np.clip(idf, cfg.min_idf_weight, 1.0)

        # Padded token matrix per name.
        width = max((len(t) for t in name_tids), default=1)
        self.name_tokens = np.full((n_names, width), -1, dtype=np.int32)
        self.name_kunya = np.zeros((n_names, width), dtype=bool)
        for n, tids in enumerate(name_tids):
            self.name_tokens[n, : len(tids)] = tids
            self.name_kunya[n, : len(tids)] = name_kunya[n]
        self.name_surname = np.zeros((n_names, width), dtype=bool)
        for n, flags in enumerate(name_surname):
            if flags:
                self.name_surname[n, : len(flags)] = flags
        self.name_has_surname = self.name_surname.any(axis=1)
        mask = self.name_tokens >= 0
        first_letter = np.array([ord(t[0]) if t else 0 for t in self.vocab_tokens] or [0], dtype=np.int32)
        self.name_first = np.where(mask, first_letter[np.where(mask, self.name_tokens, 0)], 0)
        safe = np.where(mask, self.name_tokens, 0)
        self.name_weight_total = np.where(mask, self.vocab_weight[safe], 0.0).sum(axis=1)
        self.name_name_count = (mask & (self.vocab_role[safe] == 0)).sum(axis=1)
        self.name_kind = self.entry_kind[self.name_entry] if n_names else np.array([])

        # Blocking keys -> vocabulary tokens.
        keys: dict[str, list[int]] = defaultdict(list)
        for tid, token in enumerate(self.vocab_tokens):
            for block_key in self._keys(token):
                keys[block_key].append(tid)
            for ab in {abjad(token), abjad(token, True)}:
                if len(ab) >= 2:
                    keys["&" + ab].append(tid)
        self.keys = {k: np.array(sorted(set(v)), dtype=np.int32) for k, v in keys.items()}
        self._neighbour_cache: dict[tuple[str, str], list[tuple[int, float]]] = {}
        self._postings_cache: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        self.name_is_person = self.name_kind == "person"

    @staticmethod
    def _keys(token: str) -> set[str]:
        keys = {"=" + token}
        forms = [token]
        stripped = strip_glued_prefix(token)
        if stripped:
            forms.append(stripped)
        for form in forms:
            ph = phonetic(form)
            keys.add("%" + ph)
            if len(form) >= 3:
                sk = skeleton(form)
                if len(sk) >= 2:
                    keys.add("#" + sk)
                hless = sk.replace("H", "")
                if len(hless) >= 2:
                    keys.add("!" + hless)
                keys.add("$" + jellyfish.metaphone(form))
            if len(form) >= 4:
                keys.add("~" + form)
                keys.update("~" + form[:i] + form[i + 1:] for i in range(len(form)))
            if len(ph) >= 4:
                keys.add("^" + ph)
                keys.update("^" + ph[:i] + ph[i + 1:] for i in range(len(ph)))
            if len(form) >= 6:
                # Two substitutions apart (TIMTTSENKO ~ TIMTCHENKO): the skeleton less one or two letters.
                sk = skeleton(form)
                if len(sk) >= 4:
                    keys.update("*" + sk[:i] + sk[i + 1:] for i in range(len(sk)))
                    if len(sk) >= 5:
                        keys.update("*" + sk[:i] + sk[i + 1:j] + sk[j + 1:]
                                    for i in range(len(sk)) for j in range(i + 1, len(sk)))
        return keys

    # ----------------------------------------------------------------------------------------

    def weight(self, token: str, role: str) -> float:
        tid = self.vocab.get((token, role))
        if tid is not None:
            return float(self.vocab_weight[tid])
        return _role_weight(role, self.cfg)

    def _token_neighbours(self, token: str, abjad_script: str = "") -> list[tuple[int, float]]:
        """Vocabulary tokens similar to `token`, with their similarity (remembered: a worker
        screens the same given names and surnames again and again)."""
        cache_key = (token, abjad_script)
        cached = self._neighbour_cache.get(cache_key)
        if cached is None:
            if len(self._neighbour_cache) >= 200_000:
                self._neighbour_cache.clear()
            cached = self._neighbour_cache[cache_key] = self._find_neighbours(token, abjad_script)
        return cached

    def _token_postings(self, token: str, abjad_script: str = "") -> tuple[np.ndarray, np.ndarray]:
        """The names holding a vocabulary token similar to `token` (one entry per posting) and
        that similarity, as two arrays (remembered, like the neighbours they come from)."""
        cache_key = (token, abjad_script)
        cached = self._postings_cache.get(cache_key)
        if cached is None:
            if len(self._postings_cache) >= 50_000:
                self._postings_cache.clear()
            neighbours = self._token_neighbours(token, abjad_script)
            posts = [self.postings[tid] for tid, _ in neighbours]
            if posts:
                idx = np.concatenate(posts)
                sims = np.repeat(np.array([s for _, s in neighbours]), [len(p) for p in posts])
            else:
                idx, sims = np.empty(0, dtype=np.int32), np.empty(0)
            cached = self._postings_cache[cache_key] = (idx, sims)
        return cached

    def _find_neighbours(self, token: str, abjad_script: str) -> list[tuple[int, float]]:
        found: set[int] = set()
        keys = self._keys(token)
        if abjad_script:
            ab = abjad(token, True)
            if len(ab) >= 2:
                keys.add("&" + ab)
        for key in keys:
            arr = self.keys.get(key)
            if arr is not None:
                found.update(arr.tolist())
        if not found:
            return []
        tids = np.fromiter(found, dtype=np.int64, count=len(found))
        sims = _similarity_matrix(TokenArrays.of([token]), self.vocab_arrays.take(tids, bool(abjad_script)), self.cfg,
                                  abjad_script)[0]
        keep = sims > 0
        return list(zip(tids[keep].tolist(), sims[keep].tolist()))

    def _score_names(self, tokens: Sequence[tuple[str, str]], candidates: np.ndarray, abjad_script: str = "",
                     alternatives: Sequence[Any] = ()) -> np.ndarray:
        """Exact name scores of `candidates` (name ids) against the query tokens. `alternatives`:
        other readings of the same tokens, position by position (a Greek name read the modern
        and the ancient way): each token counts with its best reading."""
        cfg = self.cfg
        q = [t for t, _ in tokens]
        wq = np.array([self.weight(t, r) for t, r in tokens])
        nq = np.array([r == NAME for _, r in tokens])
        gq = np.array([r == GENERIC for _, r in tokens])
        kq = _kunya_flags(tokens)
        cand_tokens = self.name_tokens[candidates]  # K x M
        mask = cand_tokens >= 0
        union = np.unique(cand_tokens[mask])
        listed = self.vocab_arrays.take(union, bool(abjad_script))
        S_union = _similarity_matrix(TokenArrays.of(q), listed, cfg, abjad_script)
        for alt in alternatives:
            if alt is not tokens and len(alt) == len(tokens):
                S_union = np.maximum(S_union, _similarity_matrix(TokenArrays.of([t for t, _ in alt]), listed, cfg,
                                                                 abjad_script))
        cols = np.searchsorted(union, np.where(mask, cand_tokens, union[0]))
        S = S_union[:, cols]  # nq x K x M
        S = np.where(mask[None, :, :], S, 0.0)
        kc = self.name_kunya[candidates]
        differ = kq[:, None, None] != kc[None, :, :]
        if differ.any():
            S = np.where(differ, S * cfg.kunya_factor, S)
            S[S < cfg.token_cutoff] = 0.0
        best_q = S.max(axis=2)  # nq x K
        best_c = S.max(axis=0)  # K x M
        safe = np.where(mask, cand_tokens, 0)
        wc = np.where(mask, self.vocab_weight[safe], 0.0)
        roles = self.vocab_role[safe]
        nc = mask & (roles == 0)
        gc = mask & (roles == 3)
        Wq = float(wq.sum())
        Wc = wc.sum(axis=1)
        cq = (wq[:, None] * best_q).sum(axis=0) / Wq
        cc = (wc * best_c).sum(axis=1) / np.maximum(Wc, 1e-12)
        fq = (wq[:, None] * (best_q > 0)).sum(axis=0) / Wq
        fc = (wc * (best_c > 0)).sum(axis=1) / np.maximum(Wc, 1e-12)
        mq = ((best_q > 0) & nq[:, None]).sum(axis=0)
        mc = ((best_c > 0) & nc).sum(axis=1)
        g_q = ((best_q > 0) & gq[:, None]).sum(axis=0)
        g_c = ((best_c > 0) & gc).sum(axis=1)
        nq_total = int(nq.sum())
        nc_total = nc.sum(axis=1)
        # A listed surname ("SURNAME, Given") that nothing in the query matches.
        surname = self.name_surname[candidates]
        surname_missing = self.name_has_surname[candidates] & ~((best_c > 0) & surname).any(axis=1)
        # A firm whose name merely contains a listed name plus words of its own.
        extra = ((best_q == 0) & (nq | gq)[:, None]).sum(axis=0) / max(int((nq | gq).sum()), 1)
        extra_factor = np.where(~self.name_is_person[candidates] & (Wq > Wc),
                                1.0 - cfg.entity_extra_penalty * extra, 1.0)
        # Partial names: the query is the smaller side, wholly matched, through rare listed tokens.
        # The part covered is distinctive when every listed token it meets is rare (BASHIRUDDIN),
        # or when it meets two or more name tokens whose weights add up to `partial_min_weight`
        # (GAVIDIA FLORES, DANDONG ZHICHENG): the rarer the tokens, the fewer names they share.
        # A person's listed surname ("SURNAME, Given") must then be covered whole: a given name
        # and one half of a compound surname are not a part of the name that identifies it.
        covered = (best_c > 0) & nc
        matched_w = np.where(covered, wc, np.inf).min(axis=1)
        covered_w = np.where(covered, wc, 0.0).sum(axis=1)
        surname_whole = ~(self.name_surname[candidates] & ~covered).any(axis=1)
        distinctive = (matched_w >= cfg.rare_weight) | ((covered.sum(axis=1) >= 2) & surname_whole
                                                         & (covered_w >= cfg.partial_min_weight))
        partial = (nq_total >= 1) & (Wq <= Wc) & (cq >= 0.9) & np.isfinite(matched_w) & distinctive
        if abjad_script:
            # A name read from an abjad matches through consonant keys that many names share
            # (ALVAREZ and لرس are both L-R-S): a part of a listed name is not identified by them.
            partial = partial & False
        out = _finish_many(cq, cc, Wq, Wc, mq, mc, nq_total, nc_total, cfg, fq, fc, g_q, g_c, partial)
        out = np.where(surname_missing, out * np.where(partial, cfg.partial_surname_factor,
                                                       cfg.surname_missing_factor), out)
        return out * extra_factor

    def _candidate_names(self, tokens: Sequence[tuple[str, str]], kind: str | None, abjad_script: str = "") -> np.ndarray:
        cfg = self.cfg
        parts_idx: list[np.ndarray] = []
        parts_w: list[np.ndarray] = []
        wq_total = 0.0
        has_name = any(role == NAME for _, role in tokens)
        initials: list[tuple[int, float]] = []
        for token, role in tokens:
            wq = self.weight(token, role)
            wq_total += wq
            if len(tokens) > 1 and (role in (PARTICLE, LEGAL) or (role == GENERIC and has_name)):
                continue
            if len(token) == 1 and len(tokens) > 1:
                initials.append((ord(token), wq))  # matched below against the names' first letters
                continue
            post, sims = self._token_postings(token, abjad_script)
            if len(post):
                parts_idx.append(post)
                parts_w.append(wq * sims)
        if not parts_idx:
            return np.empty(0, dtype=np.int64)
        idx = np.concatenate(parts_idx) if len(parts_idx) > 1 else parts_idx[0]
        w = np.concatenate(parts_w) if len(parts_w) > 1 else parts_w[0]
        if len(idx) < 2500:  # sorting a few postings is cheaper than a pass over every name
            names, inverse = np.unique(idx, return_inverse=True)
            acc = np.bincount(inverse, weights=w)
            counts = np.bincount(inverse)
        else:
            acc_all = np.bincount(idx, weights=w, minlength=self.n_names)
            names = np.flatnonzero(acc_all)
            acc = acc_all[names]
            counts = np.bincount(idx, minlength=self.n_names)[names]
        initial_found = np.zeros(len(names), dtype=np.int64)
        for letter, wq in initials:
            found = (self.name_first[names] == letter).any(axis=1)
            acc = acc + wq * cfg.initial_sim * found
            initial_found += found
        wn = self.name_weight_total[names]
        cover = np.minimum(acc / np.minimum(wq_total, wn), 1.0)
        # In an abjad a short name may keep one consonant (ALI, VALI): it cannot be looked up.
        keep = cover >= (cfg.abjad_candidate_floor if abjad_script else cfg.candidate_floor)
        if kind == "person":
            keep &= self.name_is_person[names]
        elif kind == "entity":
            keep &= ~self.name_is_person[names]
        names, cover, acc, wn, initial_found = names[keep], cover[keep], acc[keep], wn[keep], initial_found[keep]
        max_candidates = cfg.abjad_max_candidates if abjad_script else cfg.max_candidates
        if len(names) > max_candidates:
            evidence = counts[keep] + initial_found
            # Rank by an estimate of the final score, so that short names that only share one
            # common token do not crowd out a name that shares several.
            found_large = np.minimum(acc / np.maximum(wq_total, wn), 1.0)
            estimate = cover * (1.0 - cfg.unmatched_penalty * (1.0 - found_large))
            q_names = sum(1 for _, role in tokens if role == NAME)
            single = (evidence <= 1) & ((q_names >= 2) | (self.name_name_count[names] >= 2))
            estimate = np.where(single, estimate * cfg.single_token_factor, estimate)
            top = np.argpartition(-estimate, max_candidates)[:max_candidates]
            names = names[top]
        return names

    def query_variants(self, query: Query) -> list[tuple[tuple[str, str], ...]]:
        return [_for_kind(tokens, query.kind) for tokens in name_variants(query.name) if tokens]

    def query_groups(self, query: Query) -> list[tuple[list[tuple[tuple[str, str], ...]], float]]:
        """The query's token lists, grouped for scoring: the script's readings with as many tokens
        are one group, read position by position (a Greek name read the modern and the ancient
        way); every other form (particles glued, two names joined) is a group of its own, as its
        tokens do not line up with the readings'. Each group comes with the factor its scores take:
        `joined_factor` for two names joined, a guess at how the name was written."""
        readings = {_for_kind(r, query.kind) for r in name_readings(query.name)}
        groups: dict[Any, list] = defaultdict(list)
        variants = self.query_variants(query)
        for tokens in variants:
            groups[len(tokens) if tokens in readings else tokens].append(tokens)
        out = [(group, 1.0) for group in groups.values()]
        if variants and is_abjad(query.name):
            # Persian, Urdu and Pashto compounds (AKHUND ZADA, SHAHID KHEL) are written apart or
            # together at will; a Latin name's compounds are covered by the glued forms.
            out.extend(([joined], self.cfg.joined_factor) for joined in joined_names(variants[0])
                       if joined not in groups)
        return out

    def candidates(self, query: Query) -> set[int]:
        """The entries retrieval hands to the scorer for this query (for measuring retrieval)."""
        abjad_script = is_abjad(query.name)
        out: set[int] = set()
        for group, _ in self.query_groups(query):
            for tokens in group:
                names = self._candidate_names(tokens, query.kind, abjad_script)
                out.update(self.name_entry[names].tolist())
        return out

    def screen(self, query: Query, *, threshold: float | None = None,
               thresholds: dict[str, float] | None = None, limit: int = 20) -> list[Hit]:
        """Hits at or above the threshold (per source if `thresholds` gives one), best first."""
        cfg = self.cfg
        default_threshold = cfg.threshold if threshold is None else threshold
        abjad_script = is_abjad(query.name)
        best: dict[int, tuple[float, int, tuple]] = {}  # entry -> (name score, name id, query tokens)
        for readings, factor in self.query_groups(query):
            tokens = readings[0]
            parts = [self._candidate_names(r, query.kind, abjad_script) for r in readings]
            candidates = parts[0] if len(parts) == 1 else np.unique(np.concatenate(parts))
            if len(candidates) == 0:
                continue
            scores = self._score_names(tokens, candidates, abjad_script, readings)
            scores = np.where(self.name_weak[candidates], scores * cfg.weak_alias_factor, scores) * factor
            for n, s in zip(candidates.tolist(), scores.tolist()):
                if s <= 0:
                    continue
                e = int(self.name_entry[n])
                if e not in best or s > best[e][0]:
                    best[e] = (s, n, tokens)
        id_hits: dict[int, str] = {}
        for ident in query.identifiers:
            number = normalize_identifier(ident)
            for e in self.id_index.get(number, ()):
                if query.kind == "person" and self.entry_kind[e] != "person":
                    continue
                id_hits[e] = ident
        hits = []
        floor = min([default_threshold, *(thresholds or {}).values()]) - cfg.dob_match_bonus - cfg.country_match_bonus
        for e in set(best) | set(id_hits):
            name_score, n, tokens = best.get(e, (0.0, -1, ()))
            if e not in id_hits and name_score < floor:
                continue
            hit = self._corroborate(query, e, name_score, n, id_hits.get(e), tokens, abjad_script)
            limit_for = (thresholds or {}).get(hit.source, default_threshold)
            if hit.score >= limit_for:
                hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.source, h.ref))
        hits = hits[:limit]
        for hit in hits:
            if "tokens" in hit.explanation:
                q_tokens, listed, abjad_flag = hit.explanation["tokens"]
                hit.explanation["tokens"] = align_tokens(q_tokens, listed, cfg, abjad_flag)
        return hits

    def _corroborate(self, query: Query, e: int, name_score: float, n: int, id_match: str | None,
                     tokens: Sequence[tuple[str, str]] = (), abjad_script: str = "") -> Hit:
        cfg = self.cfg
        record = self.records[e]
        matched_name = self.name_text[n] if n >= 0 else ""
        explanation: dict = {"matched": [], "conflicts": [], "name_score": round(name_score, 4)}
        if n >= 0:
            q_tokens = [t for t, _ in tokens] or [t for t, _ in tokenize(query.name)]
            listed = [self.vocab_tokens[t] for t in self.name_tokens[n] if t >= 0]
            explanation["matched"].append({"feature": "name", "query": " ".join(q_tokens),
                                           "listed": " ".join(listed), "weak_alias": bool(self.name_weak[n]),
                                           "query_text": query.name, "listed_text": matched_name})
            explanation["tokens"] = (q_tokens, listed, abjad_script)  # aligned once the hit is kept
        score = name_score
        if id_match:
            explanation["matched"].append({"feature": "identifier", "value": id_match})
            score = 1.0
        else:
            if query.dob:
                outcome = compare_dob(query.dob, record.dobs)
                if outcome == "match":
                    score += cfg.dob_match_bonus
                    explanation["matched"].append({"feature": "dob", "query": query.dob, "listed": record.dobs})
                elif outcome == "day_conflict":
                    score -= cfg.dob_day_conflict
                    explanation["conflicts"].append({"feature": "dob_day", "query": query.dob, "listed": record.dobs})
                elif outcome == "year_conflict":
                    score -= cfg.dob_year_conflict
                    explanation["conflicts"].append({"feature": "dob_year", "query": query.dob,
                                                     "listed": record.dobs})
            qc = {c.upper() for c in query.countries if c}
            if qc and record.countries:
                common = qc & set(record.countries)
                if common:
                    score += cfg.country_match_bonus
                    explanation["matched"].append({"feature": "country", "value": sorted(common)})
                else:
                    score -= cfg.country_conflict
                    explanation["conflicts"].append({"feature": "country", "query": sorted(qc),
                                                     "listed": record.countries})
        score = min(1.0, max(0.0, score))
        return Hit(entry=e, source=record.source, ref=record.ref, kind=record.kind, listed_name=record.name,
                   matched_name=matched_name, score=score, name_score=name_score, explanation=explanation)


def _via(a: str, b: str, cfg: MatcherConfig, abjad_script: str) -> str:
    """Which comparison made two tokens match."""
    if a == b:
        return "exact"
    if len(a) == 1 or len(b) == 1:
        return "initial"
    raw = fuzz.ratio(a, b) / 100.0
    phon = cfg.phonetic_factor * fuzz.ratio(phonetic(a), phonetic(b)) / 100.0
    best = max(raw, phon)
    if abjad_script and len(abjad(a)) >= 2 and cfg.abjad_sim * fuzz.ratio(abjad(a), abjad(b)) / 100.0 > best:
        return "abjad"
    if best < cfg.token_cutoff:
        if _short_typo(a, b):
            return "typo"
        return "skeleton"
    if phonetic(a) == phonetic(b):
        return "phonetic"
    if strip_glued_prefix(a) == b or strip_glued_prefix(b) == a:
        return "glued_particle"
    return "spelling" if raw >= phon else "phonetic"


def align_tokens(query: Sequence[str], listed: Sequence[str], cfg: MatcherConfig = DEFAULT_CONFIG,
                 abjad_script: str = "") -> list[dict]:
    """Each query token with the listed token it matched best, the similarity and the way it
    matched ("exact", "spelling", "phonetic", "skeleton", "initial", "abjad", "typo",
    "glued_particle"); a token that matched nothing has listed None. Listed tokens nothing
    matched follow with query None."""
    if not query or not listed:
        return []
    S = _similarity_matrix(TokenArrays.of(list(query)), TokenArrays.of(list(listed)), cfg, abjad_script)
    out = []
    for i, q in enumerate(query):
        j = int(S[i].argmax())
        if S[i, j] > 0:
            out.append({"query": q, "listed": listed[j], "similarity": round(float(S[i, j]), 3),
                        "via": _via(q, listed[j], cfg, abjad_script)})
        else:
            out.append({"query": q, "listed": None, "similarity": 0.0, "via": None})
    for j, token in enumerate(listed):
        if S[:, j].max() <= 0:
            out.append({"query": None, "listed": token, "similarity": 0.0, "via": None})
    return out
