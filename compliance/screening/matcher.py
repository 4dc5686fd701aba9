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

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cdist

from .importers import WatchlistRecord
from .normalize import LEGAL, NAME, PARTICLE, name_variants, phonetic, skeleton, tokenize


@dataclass(frozen=True)
class MatcherConfig:
    threshold: float = 0.80
    token_cutoff: float = 0.75
    skeleton_sim: float = 0.80
    initial_sim: float = 0.80
    particle_weight: float = 0.2
    legal_weight: float = 0.05
    min_idf_weight: float = 0.3
    phonetic_factor: float = 0.95
    skeleton_min_phonetic: float = 0.6
    unmatched_penalty: float = 0.4
    surname_missing_factor: float = 0.85
    single_token_factor: float = 0.7
    weak_alias_factor: float = 0.9
    dob_match_bonus: float = 0.05
    dob_year_conflict: float = 0.20
    dob_day_conflict: float = 0.10
    country_match_bonus: float = 0.02
    country_conflict: float = 0.10
    max_candidates: int = 40
    candidate_floor: float = 0.55


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


_ROLE_CODE = {NAME: 0, PARTICLE: 1, LEGAL: 2}


def _role_weight(role: str, cfg: MatcherConfig) -> float:
    return {NAME: 1.0, PARTICLE: cfg.particle_weight, LEGAL: cfg.legal_weight}[role]


# --------------------------------------------------------------------------------------------
# Pure scoring


def _skeleton_boost(a: str, b: str, sa: str, sb: str, phon: float, cfg: MatcherConfig) -> bool:
    return (min(len(a), len(b)) >= 3 and len(sa) >= 2 and sa == sb and phon >= cfg.skeleton_min_phonetic
            and (len(sa) >= 3 or a[0] == b[0]))


def token_similarity(a: str, b: str, cfg: MatcherConfig = DEFAULT_CONFIG) -> float:
    """Similarity of two normalised tokens in [0, 1]; symmetric; 0 below the cutoff."""
    if a == b:
        return 1.0
    if len(a) == 1 or len(b) == 1:
        return cfg.initial_sim if a[0] == b[0] else 0.0
    phon = fuzz.ratio(phonetic(a), phonetic(b)) / 100.0
    s = max(fuzz.ratio(a, b) / 100.0, cfg.phonetic_factor * phon)
    if s < cfg.skeleton_sim and _skeleton_boost(a, b, skeleton(a), skeleton(b), phon, cfg):
        s = cfg.skeleton_sim
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
        )

    def take(self, idx: np.ndarray) -> TokenArrays:
        return TokenArrays(
            tokens=[self.tokens[i] for i in idx], phonetic=[self.phonetic[i] for i in idx],
            ident=self.ident[idx], length=self.length[idx], first=self.first[idx], skel=self.skel[idx],
            skel_len=self.skel_len[idx])


def _similarity_matrix(a: TokenArrays, b: TokenArrays, cfg: MatcherConfig) -> np.ndarray:
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
    S = np.where(a.ident[:, None] == b.ident[None, :], 1.0, S)
    S[S < cfg.token_cutoff] = 0.0
    return S


def combine(S: np.ndarray, wa: np.ndarray, wb: np.ndarray, name_a: np.ndarray, name_b: np.ndarray,
            cfg: MatcherConfig = DEFAULT_CONFIG) -> float:
    """Score from a similarity matrix (a x b), token weights and name-role masks. Symmetric:
    combine(S, wa, wb, na, nb) == combine(S.T, wb, wa, nb, na)."""
    if S.size == 0:
        return 0.0
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
                   int(name_a.sum()), int(name_b.sum()), cfg, fa, fb)


def _finish(ca: float, cb: float, Wa: float, Wb: float, ma: int, mb: int, na: int, nb: int,
            cfg: MatcherConfig, fa: float, fb: float) -> float:
    """ca/cb: similarity-weighted coverage of each side; fa/fb: share of each side's weight
    that found any match; ma/mb: name tokens matched; na/nb: name tokens."""
    matched = min(ma, mb)
    if matched == 0:
        return 0.0  # only particles / legal forms in common
    if Wa < Wb or (Wa == Wb and (ca, fa) >= (cb, fb)):
        small, large_found = ca, fb
    else:
        small, large_found = cb, fa
    score = small * (1.0 - cfg.unmatched_penalty * (1.0 - large_found))
    if matched == 1 and max(na, nb) >= 2:
        score *= cfg.single_token_factor
    return min(1.0, max(0.0, score))


def name_similarity(a: str, b: str, cfg: MatcherConfig = DEFAULT_CONFIG,
                    weight: Callable[[str, str], float] | None = None) -> float:
    """Similarity of two names in [0, 1] without an index (weights by role only, unless
    `weight(token, role)` is given). Symmetric."""
    ta, tb = tokenize(a), tokenize(b)
    if not ta or not tb:
        return 0.0
    weight = weight or (lambda token, role: _role_weight(role, cfg))
    S = _similarity_matrix(TokenArrays.of([t for t, _ in ta]), TokenArrays.of([t for t, _ in tb]), cfg)
    wa = np.array([weight(t, r) for t, r in ta])
    wb = np.array([weight(t, r) for t, r in tb])
    na = np.array([r == NAME for _, r in ta])
    nb = np.array([r == NAME for _, r in tb])
    return combine(S, wa, wb, na, nb, cfg)


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
    """Everything needed to screen names against a set of watchlist records, in memory."""

    def __init__(self, records: Sequence[WatchlistRecord], cfg: MatcherConfig = DEFAULT_CONFIG):
        self.cfg = cfg
        self.records = list(records)
        vocab: dict[str, int] = {}
        vocab_role: list[int] = []
        name_entry: list[int] = []
        name_text: list[str] = []
        name_weak: list[bool] = []
        name_tids: list[list[int]] = []
        name_surname: list[list[bool]] = []
        id_index: dict[str, list[int]] = defaultdict(list)
        for e, record in enumerate(self.records):
            seen_names: set[tuple] = set()
            for text, weak in [(n, False) for n in record.all_names] + [(n, True) for n in record.weak_aliases]:
                for tokens in name_variants(text):
                    key = tuple(t for t, _ in tokens)
                    if not tokens or key in seen_names:
                        continue
                    seen_names.add(key)
                    tids = []
                    for token, role in tokens:
                        tid = vocab.get(token)
                        if tid is None:
                            tid = vocab[token] = len(vocab_role)
                            vocab_role.append(_ROLE_CODE[role])
                        tids.append(tid)
                    name_entry.append(e)
                    name_surname.append(_surname_mask(text, tokens) if record.kind == "person" else [])
                    name_text.append(text)
                    name_weak.append(weak)
                    name_tids.append(tids)
            for ident in record.identifiers:
                number = normalize_identifier(ident.number)
                if len(number) >= 5:
                    id_index[number].append(e)
        self.vocab = vocab
        self.vocab_tokens = [""] * len(vocab)
        for token, tid in vocab.items():
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
        role_w = np.array([1.0, cfg.particle_weight, cfg.legal_weight])[self.vocab_role]
        self.vocab_weight = role_w * np.clip(idf, cfg.min_idf_weight, 1.0)

        # Padded token matrix per name.
        width = max((len(t) for t in name_tids), default=1)
        self.name_tokens = np.full((n_names, width), -1, dtype=np.int32)
        for n, tids in enumerate(name_tids):
            self.name_tokens[n, : len(tids)] = tids
        self.name_surname = np.zeros((n_names, width), dtype=bool)
        for n, flags in enumerate(name_surname):
            if flags:
                self.name_surname[n, : len(flags)] = flags
        self.name_has_surname = self.name_surname.any(axis=1)
        mask = self.name_tokens >= 0
        safe = np.where(mask, self.name_tokens, 0)
        self.name_weight_total = np.where(mask, self.vocab_weight[safe], 0.0).sum(axis=1)
        self.name_name_count = (mask & (self.vocab_role[safe] == 0)).sum(axis=1)
        self.name_kind = self.entry_kind[self.name_entry] if n_names else np.array([])

        # Blocking keys -> vocabulary tokens.
        keys: dict[str, list[int]] = defaultdict(list)
        for tid, token in enumerate(self.vocab_tokens):
            for block_key in self._keys(token):
                keys[block_key].append(tid)
        self.keys = {k: np.array(v, dtype=np.int32) for k, v in keys.items()}

    @staticmethod
    def _keys(token: str) -> set[str]:
        keys = {"=" + token, "%" + phonetic(token)}
        if len(token) >= 3:
            sk = skeleton(token)
            if len(sk) >= 2:
                keys.add("#" + sk)
        if len(token) >= 4:
            keys.add("~" + token)
            keys.update("~" + token[:i] + token[i + 1:] for i in range(len(token)))
        return keys

    # ----------------------------------------------------------------------------------------

    def weight(self, token: str, role: str) -> float:
        tid = self.vocab.get(token)
        if tid is not None:
            return float(self.vocab_weight[tid])
        return _role_weight(role, self.cfg)

    def _token_neighbours(self, token: str) -> list[tuple[int, float]]:
        """Vocabulary tokens similar to `token`, with their similarity."""
        found: set[int] = set()
        for key in self._keys(token):
            arr = self.keys.get(key)
            if arr is not None:
                found.update(arr.tolist())
        if not found:
            return []
        tids = np.fromiter(found, dtype=np.int64, count=len(found))
        sims = _similarity_matrix(TokenArrays.of([token]), self.vocab_arrays.take(tids), self.cfg)[0]
        keep = sims > 0
        return list(zip(tids[keep].tolist(), sims[keep].tolist()))

    def _score_names(self, tokens: Sequence[tuple[str, str]], candidates: np.ndarray) -> np.ndarray:
        """Exact name scores of `candidates` (name ids) against the query tokens."""
        cfg = self.cfg
        q = [t for t, _ in tokens]
        wq = np.array([self.weight(t, r) for t, r in tokens])
        nq = np.array([r == NAME for _, r in tokens])
        cand_tokens = self.name_tokens[candidates]  # K x M
        mask = cand_tokens >= 0
        union = np.unique(cand_tokens[mask])
        S_union = _similarity_matrix(TokenArrays.of(q), self.vocab_arrays.take(union), cfg)
        cols = np.searchsorted(union, np.where(mask, cand_tokens, union[0]))
        S = S_union[:, cols]  # nq x K x M
        S = np.where(mask[None, :, :], S, 0.0)
        best_q = S.max(axis=2)  # nq x K
        best_c = S.max(axis=0)  # K x M
        wc = np.where(mask, self.vocab_weight[np.where(mask, cand_tokens, 0)], 0.0)
        nc = mask & (self.vocab_role[np.where(mask, cand_tokens, 0)] == 0)
        Wq = float(wq.sum())
        Wc = wc.sum(axis=1)
        cq = (wq[:, None] * best_q).sum(axis=0) / Wq
        cc = (wc * best_c).sum(axis=1) / np.maximum(Wc, 1e-12)
        fq = (wq[:, None] * (best_q > 0)).sum(axis=0) / Wq
        fc = (wc * (best_c > 0)).sum(axis=1) / np.maximum(Wc, 1e-12)
        mq = ((best_q > 0) & nq[:, None]).sum(axis=0)
        mc = ((best_c > 0) & nc).sum(axis=1)
        nq_total = int(nq.sum())
        nc_total = nc.sum(axis=1)
        # A listed surname ("SURNAME, Given") that nothing in the query matches.
        surname = self.name_surname[candidates]
        surname_missing = self.name_has_surname[candidates] & ~((best_c > 0) & surname).any(axis=1)
        out = np.empty(len(candidates))
        for k in range(len(candidates)):
            out[k] = _finish(float(cq[k]), float(cc[k]), Wq, float(Wc[k]), int(mq[k]), int(mc[k]),
                             nq_total, int(nc_total[k]), cfg, float(fq[k]), float(fc[k]))
            if surname_missing[k]:
                out[k] *= cfg.surname_missing_factor
        return out

    def _candidate_names(self, tokens: Sequence[tuple[str, str]], kind: str | None) -> np.ndarray:
        cfg = self.cfg
        parts_idx: list[np.ndarray] = []
        parts_w: list[float] = []
        wq_total = 0.0
        for token, role in tokens:
            wq = self.weight(token, role)
            wq_total += wq
            if role != NAME and len(tokens) > 1:
                continue
            for tid, s in self._token_neighbours(token):
                post = self.postings[tid]
                parts_idx.append(post)
                parts_w.append(wq * s)
        if not parts_idx:
            return np.empty(0, dtype=np.int64)
        idx = np.concatenate(parts_idx)
        w = np.repeat(np.array(parts_w), [len(p) for p in parts_idx])
        names, inverse = np.unique(idx, return_inverse=True)
        acc = np.bincount(inverse, weights=w)
        evidence = np.bincount(inverse)  # (query token, listed token) pairs behind each name
        wn = self.name_weight_total[names]
        cover = np.minimum(acc / np.minimum(wq_total, wn), 1.0)
        keep = cover >= cfg.candidate_floor
        if kind == "person":
            keep &= self.name_kind[names] == "person"
        elif kind == "entity":
            keep &= self.name_kind[names] != "person"
        names, cover, acc, wn, evidence = names[keep], cover[keep], acc[keep], wn[keep], evidence[keep]
        if len(names) > cfg.max_candidates:
            # Rank by an estimate of the final score, so that short names that only share one
            # common token do not crowd out a name that shares several.
            found_large = np.minimum(acc / np.maximum(wq_total, wn), 1.0)
            estimate = cover * (1.0 - cfg.unmatched_penalty * (1.0 - found_large))
            q_names = sum(1 for _, role in tokens if role == NAME)
            single = (evidence <= 1) & ((q_names >= 2) | (self.name_name_count[names] >= 2))
            estimate = np.where(single, estimate * cfg.single_token_factor, estimate)
            top = np.argpartition(-estimate, cfg.max_candidates)[: cfg.max_candidates]
            names = names[top]
        return names

    def screen(self, query: Query, *, threshold: float | None = None,
               thresholds: dict[str, float] | None = None, limit: int = 20) -> list[Hit]:
        """Hits at or above the threshold (per source if `thresholds` gives one), best first."""
        cfg = self.cfg
        default_threshold = cfg.threshold if threshold is None else threshold
        best: dict[int, tuple[float, int]] = {}  # entry -> (name score, name id)
        for tokens in name_variants(query.name):
            if not tokens:
                continue
            candidates = self._candidate_names(tokens, query.kind)
            if len(candidates) == 0:
                continue
            scores = self._score_names(tokens, candidates)
            scores = np.where(self.name_weak[candidates], scores * cfg.weak_alias_factor, scores)
            for n, s in zip(candidates.tolist(), scores.tolist()):
                if s <= 0:
                    continue
                e = int(self.name_entry[n])
                if e not in best or s > best[e][0]:
                    best[e] = (s, n)
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
            name_score, n = best.get(e, (0.0, -1))
            if e not in id_hits and name_score < floor:
                continue
            hit = self._corroborate(query, e, name_score, n, id_hits.get(e))
            limit_for = (thresholds or {}).get(hit.source, default_threshold)
            if hit.score >= limit_for:
                hits.append(hit)
        hits.sort(key=lambda h: (-h.score, h.source, h.ref))
        return hits[:limit]

    def _corroborate(self, query: Query, e: int, name_score: float, n: int, id_match: str | None) -> Hit:
        cfg = self.cfg
        record = self.records[e]
        matched_name = self.name_text[n] if n >= 0 else ""
        explanation: dict = {"matched": [], "conflicts": [], "name_score": round(name_score, 4)}
        if n >= 0:
            q_tokens = [t for t, _ in tokenize(query.name)]
            listed = [self.vocab_tokens[t] for t in self.name_tokens[n] if t >= 0]
            explanation["matched"].append({"feature": "name", "query": " ".join(q_tokens),
                                           "listed": " ".join(listed), "weak_alias": bool(self.name_weak[n])})
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
