"""Name normalisation for screening.

`tokenize(text)` turns a name in any script into upper-case ASCII tokens: accents folded,
Cyrillic, Arabic, Greek and CJK transliterated (unidecode), punctuation removed, dotted
abbreviations collapsed ("S.A." -> "SA"), honorifics dropped. Every token carries a role:
"name", "particle" (AL, BIN, DE, VAN...) or "legal" (LTD, LLC, GMBH...), which the matcher
weights down so that particles and legal forms never make a match on their own.

`skeleton(token)` is a coarse phonetic key (consonant skeleton after folding common
transliteration digraphs): MOHAMMED, MUHAMMAD, Мохаммед and محمد all give "MHMD".
"""
from __future__ import annotations

import re
from functools import lru_cache

from unidecode import unidecode

NAME, PARTICLE, LEGAL = "name", "particle", "legal"

HONORIFICS = frozenset("""
MR MRS MS MISS MX DR PROF SIR DAME LORD LADY SHEIKH SHAIKH SHAYKH SHEIK HAJI HAJJI HADJI HAJ MULLAH MULLA
MAULANA MAWLANA IMAM AYATOLLAH EMIR AMIR GENERAL GEN COLONEL COL MAJOR MAJ CAPTAIN CAPT LIEUTENANT LT
BRIGADIER SERGEANT SGT ADMIRAL HE HRH ENG ENGR
""".split())

PARTICLES = frozenset("""
AL EL ALL BIN BEN IBN BINT BN BNT ABU ABOU UMM OULD DE DA DI DEL DELLA DELA DOS DAS DO DU LA LE LES
VAN VON DER DEN TER Y E AND OF THE ET UND
""".split())

LEGAL_FORMS = frozenset("""
LTD LIMITED LLC LLP LP INC INCORPORATED CORP CORPORATION CO COMPANY GMBH MBH AG SA SAS SARL SRL SPA SPRL
BV NV PLC PJSC OJSC CJSC JSC OAO ZAO OOO AO PAO TOO KG KGAA OY OYJ AB AS ASA APS PTE PTY BHD SDN FZE FZCO
FZC FZ LLP CV SAB SAPI SC SCA SL SLU SNC KFT ZRT DOO AD EOOD OU UAB SIA TOV PP PVT EST ESTABLISHMENT
""".split())

_DOTTED = re.compile(r"\b(?:[A-Za-z]\.){2,}")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F]")
_CJK = re.compile(r"[\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF]")
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def _fold(text: str) -> str:
    # Arabic definite article "ال" joined to the word: drop it before transliterating
    # (its Latin forms AL-/EL- are particles anyway).
    if _ARABIC.search(text):
        text = " ".join(w[2:] if w.startswith("ال") and len(w) > 3 else w for w in text.split())
    text = _DOTTED.sub(lambda m: m.group(0).replace(".", ""), text)
    text = unidecode(text).upper()
    text = text.replace("'", "").replace("`", "").replace("\u2019", "")
    return _NON_ALNUM.sub(" ", text)


@lru_cache(maxsize=65536)
def tokenize(text: str) -> tuple[tuple[str, str], ...]:
    """(token, role) pairs of a name; honorifics removed."""
    out = []
    for token in _fold(text or "").split():
        if token in HONORIFICS:
            continue
        if token in LEGAL_FORMS:
            out.append((token, LEGAL))
        elif token in PARTICLES:
            out.append((token, PARTICLE))
        else:
            out.append((token, NAME))
    if out and all(role != NAME for _, role in out):
        # A name made only of particles/legal words ("AL", "LA SA"): keep them as names.
        out = [(t, NAME) for t, _ in out]
    return tuple(out)


def name_variants(text: str) -> list[tuple[tuple[str, str], ...]]:
    """The token lists to screen for a name: the name itself and, for CJK script, the form
    with the given-name syllables joined (習近平 -> XI JIN PING and XI JINPING)."""
    tokens = tokenize(text)
    variants = [tokens]
    if _CJK.search(text or "") and len(tokens) >= 3:
        joined = tokens[0][0], "".join(t for t, _ in tokens[1:])
        variants.append(((joined[0], NAME), (joined[1], NAME)))
    return variants


def normalize(text: str) -> str:
    """The normalised name as one string (tokens joined by spaces)."""
    return " ".join(t for t, _ in tokenize(text))


_DIGRAPHS = (("DZH", "J"), ("ZH", "J"), ("DJ", "J"), ("SCH", "S"), ("TCH", "C"), ("SH", "S"), ("CH", "C"), ("KH", "H"), ("PH", "F"), ("TH", "T"),
             ("DH", "D"), ("GH", "G"), ("CK", "K"), ("DZ", "Z"), ("TS", "Z"), ("OU", "U"), ("EE", "I"))
_SINGLE = str.maketrans({"Q": "K", "C": "K", "Z": "S", "W": "V", "J": "Y", "X": "K"})
_VOWELS = re.compile(r"[AEIOUY]")


def _collapse(text: str) -> str:
    out: list[str] = []
    for ch in text:
        if not out or out[-1] != ch:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=131072)
def phonetic(token: str) -> str:
    """The token with transliteration digraphs folded (KH->H, SH->S, DZH->J, OU->U, PH->F...),
    C/Q/X->K, Z->S, W->V, J->Y->I, and doubled letters collapsed: ALY ~ ALI, DZHOSE ~ JOSE."""
    t = token
    for a, b in _DIGRAPHS:
        t = t.replace(a, b)
    t = t.translate(_SINGLE).replace("Y", "I")
    return _collapse(t)


@lru_cache(maxsize=131072)
def skeleton(token: str) -> str:
    """Consonant skeleton used for transliteration-tolerant blocking and scoring."""
    return _collapse(_VOWELS.sub("", phonetic(token)))
