"""Name normalisation for screening.

`tokenize(text)` turns a name in any script into upper-case ASCII tokens. Each script goes
through the ICU transform made for it (PyICU, the engine behind OpenSanctions' `normality`
and `rigour`): Russian, Ukrainian, Serbian, Bulgarian and other Cyrillic names by the BGN/PCGN
romanisation of that language (chosen by the letters only that language uses), Greek by
UNGEGN (ELOT 743), Arabic, Persian and Hebrew by ICU's Arabic-Latin / Hebrew-Latin, Han by
pinyin, Hangul by Revised Romanisation; then Latin-ASCII folds accents. Punctuation goes,
dotted initials become single letters on both sides ("V.R." = "V R"), dotted legal forms stay
one token ("S.A." -> "SA"), and honorifics are removed only where they are titles: leading,
and with at least two name tokens left ("Amir RAHIMYAR" keeps AMIR, a given name).

Every token carries a role: "name", "particle" (AL, BIN, DE, VAN...), "legal" (LTD, GMBH...)
or "generic" (country names and demonyms, and words such as BANK, TRADING, SERVICES), which the
matcher weights down so that they never make a match on their own.

`name_variants(text)` gives every token list to screen for a name (on both sides, query and
list): each rendering of the script (a Greek name also by the rules Greek uses for foreign
names: initial ΜΠ/ΝΤ/ΓΚ = B/D/G, medial = MB/ND/NG, Β = V, no H), the CJK given name joined
(XI JIN PING -> XI JINPING), and the form with compound particles glued (ABDUL RAHMAN ->
ABDULRAHMAN, BASHIR UD DIN -> BASHIRUDDIN, AL GHORAYFI -> ALGHORAYFI, V R -> VR).

`phonetic(token)` folds transliteration digraphs; `skeleton(token)` is its consonant skeleton
(MOHAMMED, MUHAMMAD and محمد all give "MHMD"); `abjad(token)` also drops the letters that the
Arabic and Hebrew scripts use as vowels (W, Y, V, H), for names written in those scripts.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import icu
import pycountry
from rapidfuzz import fuzz, process
from unidecode import unidecode

NAME, PARTICLE, LEGAL, GENERIC = "name", "particle", "legal", "generic"

# Titles. AMIR, EMIR, SULTAN, MALIK and the like are given names as often as titles: never removed.
HONORIFICS = frozenset("""
MR MRS MS MISS MX DR PROF SIR DAME LORD LADY SHEIKH SHAIKH SHAYKH SHEIK HAJI HAJJI HADJI HAJ MULLAH MULLA
MAULANA MAWLANA MAWLAWI MAULVI IMAM AYATOLLAH GENERAL GEN COLONEL COL MAJOR MAJ CAPTAIN CAPT LIEUTENANT LT
BRIGADIER SERGEANT SGT ADMIRAL HE HRH ENG ENGR
""".split())

PARTICLES = frozenset("""
AL EL ALL BIN BEN IBN BINT BN BNT ABU ABOU UMM OULD DE DA DI DEL DELLA DELA DOS DAS DO DU LA LE LES
VAN VON DER DEN TER Y E AND OF THE ET UND UD UL UR
""".split())

LEGAL_FORMS = frozenset("""
LTD LIMITED LLC LLP LP INC INCORPORATED CORP CORPORATION CO COMPANY GMBH MBH AG SA SAS SARL SRL SPA SPRL
BV NV PLC PJSC OJSC CJSC JSC OAO ZAO OOO AO PAO TOO KG KGAA OY OYJ AB AS ASA APS PTE PTY BHD SDN FZE FZCO
FZC FZ LLP CV SAB SAPI SC SCA SL SLU SNC KFT ZRT DOO AD EOOD OU UAB SIA TOV PP PVT EST ESTABLISHMENT
""".split())

# Words that describe what or where a firm is rather than who: they alone never identify it.
_GENERIC_WORDS = """
BANK BANCO BANQUE TRADING TRADE TRADERS SERVICES SERVICE GROUP HOLDING HOLDINGS INTERNATIONAL INTL
INDUSTRIES INDUSTRY INDUSTRIAL CARGO AIR AIRLINES AIRWAYS AVIATION SHIPPING SHIP LINES MARITIME NAVIGATION
EXCHANGE INVESTMENT INVESTMENTS CAPITAL FINANCE FINANCIAL FUND ENTERPRISE ENTERPRISES GENERAL
COMMERCIAL COMMERCE IMPORT EXPORT MANAGEMENT CONSULTING TECHNOLOGY TECHNOLOGIES ENGINEERING ENERGY OIL GAS
PETROLEUM CONSTRUCTION DEVELOPMENT ELECTRONICS LOGISTICS TRANSPORT NATIONAL NATIONALE NACIONAL
CENTRAL FOUNDATION ORGANIZATION ORGANISATION ASSOCIATION SOCIETY UNION INSTITUTE CENTER CENTRE
COMPANIES PARTNERS ASSOCIATES INSURANCE AGENCY SUPPLY SUPPLIES SOLUTIONS SYSTEMS PRODUCTS MINING METALS
STEEL CHEMICAL CHEMICALS PHARMA PHARMACEUTICAL MEDICAL FOOD FOODS TRAVEL TOURS TOURISM REAL ESTATE
GLOBAL WORLD EAST WEST NORTH SOUTH MIDDLE FAR ASIA ASIAN EUROPE EUROPEAN AFRICA AFRICAN ARAB ARABIAN
GULF PERSIAN ISLAMIC REPUBLIC DEMOCRATIC PEOPLES PEOPLE STATE UNITED
IRANIAN KOREAN RUSSIAN SYRIAN CHINESE CUBAN IRAQI LIBYAN AFGHAN PAKISTANI LEBANESE YEMENI SUDANESE
VENEZUELAN BELARUSIAN UKRAINIAN TURKISH EMIRATI SAUDI EGYPTIAN JORDANIAN INDIAN AMERICAN BRITISH GERMAN
FRENCH ITALIAN SPANISH JAPANESE NIGERIAN SOMALI MEXICAN COLOMBIAN BURMESE KORYO KOREA
"""


def _country_words() -> set[str]:
    words = set()
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            value = getattr(country, attr, None)
            if value:
                parts = re.sub(r"[^A-Z ]", " ", unidecode(value).upper()).split()
                if len(parts) == 1:
                    words.add(parts[0])
    return words


GENERIC_WORDS = frozenset(_GENERIC_WORDS.split()) | frozenset(_country_words())

# Compound particles glued to their neighbours in the "glued" variant of a name.
_GLUE_NEXT = frozenset("AL EL ABD ABDUL ABDEL ABDUR ABDOL ABDU ABU ABOU ABO UMM BIN BN IBN VAN VON DER DE DEL DI DA LA LE "
                       "MC MAC".split())
_GLUE_BOTH = frozenset("UD UL UR UZ US AD AR AS AZ ED".split())
_GLUE_COMPOUND = frozenset("AL EL ABD ABDUL ABDEL ABDUR ABDOL ABDU".split())
_ARTICLES = frozenset("AL EL ED ES ET EZ AD AR AS AT AZ UD UL UR".split())
_GLUE_PREV = frozenset("DIN DEEN UDDIN UDDEEN ALLAH ULLAH ULLA".split())
# Particles that a name can carry glued to its front, whose removal gives a retrieval key.
GLUED_PREFIXES = ("ABDUL", "ABDEL", "ABDUR", "ABOU", "ABU", "BIN", "IBN", "OULD", "VAN", "VON", "DEL", "AL",
                  "EL", "DE", "DI", "DA", "LA", "LE")

_DOTTED = re.compile(r"\b(?:[^\W\d_]\.\s?){2,}|\b[^\W\d_]\.(?=\s|$)")
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")

_CYRILLIC = re.compile(r"[\u0400-\u04FF]")
_GREEK = re.compile(r"[\u0370-\u03FF\u1F00-\u1FFF]")
_ARABIC = re.compile(r"[\u0600-\u06FF\u0750-\u077F\uFB50-\uFDFF\uFE70-\uFEFF]")
_HEBREW = re.compile(r"[\u0590-\u05FF]")
_HANGUL = re.compile(r"[\u1100-\u11FF\u3130-\u318F\uAC00-\uD7AF]")
_CJK = re.compile(r"[\u3040-\u30FF\u3400-\u4DBF\u4E00-\u9FFF\uAC00-\uD7AF]")


@lru_cache(maxsize=None)
def _transform(tid: str) -> Any:
    return icu.Transliterator.createInstance(f"{tid}; Latin-ASCII")


def _cyrillic_language(text: str) -> str:
    if re.search("[ђћџљњјЂЋЏЉЊЈ]", text):
        return "Serbian"
    if re.search("[іїєґІЇЄҐ]", text):
        return "Ukrainian"
    if re.search("[ўЎ]", text):
        return "Belarusian"
    if re.search(r"[ъЪ](?=[^\W])", text):
        return "Bulgarian"  # a hard sign inside a word is a vowel: Bulgarian
    return "Russian"


# Greek spellings of foreign names: ΜΠ, ΝΤ, ΓΚ are B, D, G at the start of a word and MB, ND, NG
# (or B, D, G) inside it; ΓΓ is NG; Β is V; there is no H (so none is written).
_WORD_START = r"(?<![^\W\d_])"
# Consonant digraphs of foreign names in Greek letters, read as a foreign name is written.
_GREEK_CONSONANTS = [
    (re.compile("ΤΖ", re.I), "J"), (re.compile("ΤΣ", re.I), "TS"),
    (re.compile(_WORD_START + "ΜΠ", re.I), "B"), (re.compile(_WORD_START + "ΝΤ", re.I), "D"),
    (re.compile(_WORD_START + "Γ[ΚΓ]", re.I), "G"), (re.compile("ΜΠ", re.I), "MB"), (re.compile("ΝΤ", re.I), "ND"),
    (re.compile("ΓΚ", re.I), "G"), (re.compile("ΓΓ", re.I), "NG"), (re.compile("ΟΥ", re.I), "U"),
    (re.compile("Β", re.I), "V"), (re.compile("Χ", re.I), "H"),
]
# Modern vowels: ΑΙ = E, ΕΙ/ΟΙ/Η = I.
_GREEK_MODERN_VOWELS = [(re.compile("ΑΙ", re.I), "E"), (re.compile("ΕΙ|ΟΙ|Η", re.I), "I")]
# A word's first ΝΤ kept as NT (NTAGANDA, NTARYAMIRA are written so in Latin too); ΤΣ as CH (CHOL).
_GREEK_INITIAL_KEPT = [(re.compile(_WORD_START + "ΝΤ", re.I), "NT"), (re.compile("ΤΣ", re.I), "CH")]
_GREEK_MEDIAL_PLAIN = [(re.compile("MB"), "B"), (re.compile("ND"), "D")]


def _strip_marks(text: str) -> str:
    """Without stress marks; the diaeresis stays (ΑΪ is A-I, ΑΙ is E)."""
    return unicodedata.normalize("NFC", "".join(c for c in unicodedata.normalize("NFD", text)
                                                if c not in "\u0301\u0300\u0342\u0313\u0314"))


def _greek_apply(text: str, rules: Iterable[tuple[re.Pattern[str], str]], transform: str,
                 plain: bool = False) -> str:
    for pattern, latin in rules:
        text = pattern.sub(latin, text)
    text = _transform(transform).transliterate(text)
    if plain:
        for pattern, latin in _GREEK_MEDIAL_PLAIN:
            text = pattern.sub(latin, text)
    return text


def _greek_foreign(text: str) -> list[str]:
    """Readings of a foreign name in Greek letters: modern (a word's first ΜΠ/ΝΤ/ΓΚ as B/D/G,
    inner ones MB/ND/G, ΑΙ = E, Η = I), the same with a first ΝΤ kept as NT and ΤΣ as CH, and ancient-style
    (B/D/G throughout, vowels letter by letter: ΑΙ = AI, Η = E)."""
    upper = _strip_marks(text).upper()
    return [
        _greek_apply(upper, [*_GREEK_CONSONANTS, *_GREEK_MODERN_VOWELS], "Greek-Latin/UNGEGN"),
        _greek_apply(upper, [*_GREEK_INITIAL_KEPT, *_GREEK_CONSONANTS, *_GREEK_MODERN_VOWELS], "Greek-Latin/UNGEGN"),
        _greek_apply(upper, _GREEK_CONSONANTS, "Greek-Latin", plain=True),
    ]


# Hebrew letters in names written without vowel points (as lists, passports and the press write
# them). ICU's Hebrew-Latin is made for pointed text (it gives ' for alef, W for every vav, S for
# shin), so names follow these published conventions instead:
# - consonants by the Academy of the Hebrew Language's simple transcription (2006): ש = SH (S with
#   a sin dot), צ = TS, ח = KH, final ך = KH, final ף = F;
# - a geresh marks the sounds Hebrew borrows, as the Academy's rules for writing Arabic in Hebrew
#   letters use it (2007): ג' = J, ז' = ZH, צ' = CH, ח' = KH, ד' = DH, ת' = TH, ט' = Z, ע' = GH;
# - in names from Arabic (the Academy's same rules) ח is ح (H), צ is ص (S), ק is ق (Q), פ is F and
#   ך is ك (K): a second reading;
# - the letters used as vowels (matres lectionis): alef and ayin carry a vowel (A, or nothing
#   before a vav or yod read as a vowel), vav is U or O (W at the start of a word and when
#   doubled), yod is I (Y at the start of a word, before a vowel letter, and doubled, EY), a final
#   he is A. Short vowels are not written; where two consonants would spell a Latin digraph that
#   the letters do not mean (ס+ה is not SH, ט+ס is not TS), E stands for the unwritten vowel.
_HEBREW_POINTS = re.compile("[\u0591-\u05BD\u05BF\u05C4\u05C5\u05C7]")
_HEBREW_GERESH = "'\u05f3\u2019`"
_HEBREW_COMMON = {"ב": "B", "ג": "G", "ד": "D", "ז": "Z", "ט": "T", "כ": "K", "ל": "L", "מ": "M", "ם": "M",
                  "נ": "N", "ן": "N", "ס": "S", "ר": "R", "ש": "SH", "ת": "T", "ף": "F"}
_HEBREW_WITH_GERESH = {"ג": "J", "ז": "ZH", "צ": "CH", "ץ": "CH", "ח": "KH", "ד": "DH", "ת": "TH", "ט": "Z",
                       "ע": "GH", "כ": "KH", "ך": "KH"}
_HEBREW_ARABIC = {"ח": "H", "צ": "S", "ץ": "S", "ק": "Q", "פ": "F", "ך": "K", "ו": "U"}
_HEBREW_HEBREW = {"ח": "KH", "צ": "TS", "ץ": "TS", "ק": "K", "פ": "P", "ך": "KH", "ו": "O"}
_LATIN_DIGRAPHS = frozenset("SH CH KH PH TH DH GH ZH TS TZ DZ DJ CK".split())


def _hebrew_word(units: list[tuple[str, bool, bool]], reading: dict[str, str]) -> str:
    out: list[str] = []
    n, i = len(units), 0
    while i < n:
        ch, geresh, sin = units[i]
        nxt = units[i + 1][0] if i + 1 < n else ""
        vowel_next = nxt in ("ו", "י") and not (i + 2 < n and units[i + 2][0] == nxt)
        step = 1
        if geresh and ch in _HEBREW_WITH_GERESH:
            latin = _HEBREW_WITH_GERESH[ch]
        elif ch in ("א", "ע"):
            latin = "" if vowel_next else "A"
        elif ch == "ו":
            if i == 0 or nxt == "ו":
                latin, step = "W", (2 if nxt == "ו" else 1)
            else:
                latin = reading["ו"]
        elif ch == "י":
            if nxt == "י" and i > 0:
                latin, step = "EY", 2
            elif i == 0 or nxt in ("א", "ע", "ו") or (nxt == "ה" and i + 2 == n):
                latin = "Y"
            else:
                latin = "I"
        elif ch == "ה":
            latin = "A" if i == n - 1 and n > 1 else "H"
        elif ch == "ש":
            latin = "S" if sin else "SH"
        else:
            latin = reading.get(ch) or _HEBREW_COMMON.get(ch, ch)
        if out and out[-1] and latin and (out[-1][-1] + latin[0]) in _LATIN_DIGRAPHS:
            out.append("E")
        out.append(latin)
        i += step
    return "".join(out)


def _hebrew(text: str, reading: dict[str, str]) -> str:
    """One Latin reading of a name in Hebrew letters (see the conventions above)."""
    text = unicodedata.normalize("NFD", text).replace("װ", "וו").replace("ײ", "יי").replace("ױ", "וי")
    words = []
    for word in re.split(r"[\s\u05be\-]+", text):
        units: list[tuple[str, bool, bool]] = []
        for ch in word:
            if ch in _HEBREW_GERESH:
                if units:
                    units[-1] = (units[-1][0], True, units[-1][2])
            elif ch == "\u05c2":  # sin dot
                if units:
                    units[-1] = (units[-1][0], units[-1][1], True)
            elif not _HEBREW_POINTS.match(ch) and ch not in "\u05c1\u05f4\"":
                units.append((ch, False, False))
        if units:
            words.append(_hebrew_word(units, reading))
    return " ".join(words)


# Arabic, Persian and Urdu letters in names written without vowel marks (as lists, passports
# and the press write them). ICU's Arabic-Latin is a letter-by-letter transliteration for
# scholars (ʿ for ayin, y and w for the letters that are vowels, the article's lam split from
# الله), so names are read by the conventions the lists' own romanisations follow (the UN
# list's original-script names beside their Latin forms):
# - consonants as the common English-based romanisation writes them: ث = TH, خ = KH, ذ = DH,
#   ش = SH, غ = GH, ص = S, ض = D, ط = T, ظ = DH, ق = Q; Persian and Urdu پ P, چ CH, ژ ZH, گ G;
#   and a second reading with the values Persian, Urdu and Pashto names take (FAZL for فضل,
#   ZAKIR for ذاکر, SAQIB for ثاقب): ث = S, ذ ض ظ = Z;
# - the letters that carry long vowels: ا and ى = A, و = U (W at the start of a word or before
#   a vowel letter), ي/ی = I (Y at the start or before a vowel letter), ة = A;
# - ع and ء carry a vowel: nothing before a vowel letter, A otherwise (عمر = AMR as OMAR, عبد = ABD);
# - the article ال joined to a word is read as a separate AL, but الله is ALLAH;
# - vowel marks, where a name has them, give their vowel (fatha A, damma U, kasra I).
# Short vowels are not written, so the matcher compares the consonants (normalize.abjad).
_ARABIC_CONSONANTS = {
    "ب": "B", "ت": "T", "ث": "TH", "ج": "J", "ح": "H", "خ": "KH", "د": "D", "ذ": "DH", "ر": "R", "ز": "Z",
    "س": "S", "ش": "SH", "ص": "S", "ض": "D", "ط": "T", "ظ": "DH", "غ": "GH", "ف": "F", "ق": "Q", "ك": "K",
    "ک": "K", "ل": "L", "م": "M", "ن": "N", "ه": "H", "ہ": "H", "ھ": "H", "پ": "P", "چ": "CH", "ژ": "ZH",
    "گ": "G", "ٹ": "T", "ڈ": "D", "ڑ": "R", "ں": "N", "ڤ": "V", "ۀ": "H",
}
_ARABIC_PERSIAN = {**_ARABIC_CONSONANTS, "ث": "S", "ذ": "Z", "ض": "Z", "ظ": "Z"}
_ARABIC_ALEF = frozenset("اأإآٱ")
_ARABIC_Y = frozenset("يیئےى")
_ARABIC_W = frozenset("وؤ")
_ARABIC_VOWEL_LETTERS = _ARABIC_ALEF | _ARABIC_Y | _ARABIC_W | frozenset("ة")
_ARABIC_MARKS = {"\u064e": "A", "\u064f": "U", "\u0650": "I", "\u064b": "AN", "\u064c": "UN", "\u064d": "IN"}
_ARABIC_IGNORED = re.compile("[\u0610-\u061A\u0651-\u065F\u0670\u06D6-\u06ED\u0640]")  # shadda, sukun, tatweel...


def _arabic_word(word: str, consonants: dict[str, str]) -> str:
    letters = [c for c in word if not _ARABIC_IGNORED.match(c)]
    out: list[str] = []
    n = len(letters)
    for i, ch in enumerate(letters):
        nxt = letters[i + 1] if i + 1 < n else ""
        if ch in _ARABIC_MARKS:
            latin = _ARABIC_MARKS[ch]
        elif ch in _ARABIC_ALEF:
            latin = "I" if ch == "إ" else "A"
        elif ch == "ى":
            latin = "A"
        elif ch == "ة":
            latin = "A"
        elif ch in _ARABIC_W:
            latin = "W" if i == 0 or nxt in _ARABIC_ALEF else "U"
        elif ch in _ARABIC_Y:
            latin = "Y" if (i == 0 and nxt not in _ARABIC_VOWEL_LETTERS) or nxt in _ARABIC_ALEF or nxt in _ARABIC_W \
                else "I"
            if ch == "ے":
                latin = "E"
        elif ch == "ت" and nxt == "ش":
            latin = "CH"  # تش writes a foreign CH (ميتشل Mitchell)
        elif ch == "ش" and letters[i - 1:i] == ["ت"]:
            latin = ""
        elif ch in ("ع", "ء"):
            latin = "" if nxt in _ARABIC_VOWEL_LETTERS or nxt in _ARABIC_MARKS or not nxt else "A"
        else:
            latin = consonants.get(ch, "")
        # Two consonants that would spell a Latin digraph they do not mean (ت+ه is not TH) keep
        # the unwritten vowel between them.
        if out and out[-1] and latin and (out[-1][-1] + latin[0]) in _LATIN_DIGRAPHS and len(latin) == 1 \
                and ch not in _ARABIC_VOWEL_LETTERS:
            out.append("A")
        out.append(latin)
    return "".join(out)


def _arabic(text: str, consonants: dict[str, str]) -> str:
    """The Latin reading of a name in Arabic letters (see the conventions above)."""
    words = []
    for word in re.split(r"[\s\-\u060c]+", unicodedata.normalize("NFC", text)):
        if not word:
            continue
        if word in ("الله", "اللہ", "ٱلله"):
            words.append("ALLAH")
            continue
        if word.startswith(("ال", "ٱل")) and len(word) > 3:
            words.append("AL")
            word = word[2:]
        latin = _arabic_word(word, consonants)
        if latin:
            words.append(latin)
    return " ".join(words)


def script_of(text: str) -> str:
    if text.isascii():
        return "latin"
    if _ARABIC.search(text):
        return "arabic"
    if _HEBREW.search(text):
        return "hebrew"
    if _CYRILLIC.search(text):
        return "cyrillic"
    if _GREEK.search(text):
        return "greek"
    if _HANGUL.search(text):
        return "hangul"
    if _CJK.search(text):
        return "cjk"
    return "latin"


def is_abjad(text: str) -> str:
    """The script ("arabic" or "hebrew") when the name is written in one that leaves short
    vowels out (Arabic, Persian, Hebrew); "" otherwise."""
    script = script_of(text or "")
    return script if script in ("arabic", "hebrew") else ""


@lru_cache(maxsize=65536)
def renderings(text: str) -> tuple[str, ...]:
    """The Latin renderings of a name, the script's standard one first."""
    text = text or ""
    script = script_of(text)
    if script == "latin":
        return (text if text.isascii() else unidecode(text),)
    if script == "cyrillic":
        lang = _cyrillic_language(text)
        out = [_transform(f"{lang}-Latin/BGN").transliterate(text)]
        if lang == "Russian":
            out.append(_transform("Bulgarian-Latin/BGN").transliterate(text))
        return tuple(dict.fromkeys(out))
    if script == "greek":
        return tuple(dict.fromkeys([_transform("Greek-Latin/UNGEGN").transliterate(text), *_greek_foreign(text)]))
    if script == "arabic":
        return tuple(dict.fromkeys(_arabic(text, table) for table in (_ARABIC_CONSONANTS, _ARABIC_PERSIAN)))
    if script == "hebrew":
        return tuple(dict.fromkeys(_hebrew(text, reading) for reading in (_HEBREW_ARABIC, _HEBREW_HEBREW)))
    if script == "hangul":
        return (_transform("Hangul-Latin").transliterate(text), unidecode(text))
    return (_transform("Han-Latin").transliterate(text),)


def _split_dotted(match: re.Match) -> str:
    letters = match.group(0).replace(".", "").replace(" ", "")
    if unidecode(letters).upper() in LEGAL_FORMS:
        return " " + letters + " "
    return " " + " ".join(letters) + " "


def _fold(text: str) -> str:
    text = _DOTTED.sub(_split_dotted, text)
    text = (text if text.isascii() else unidecode(text)).upper()
    text = text.replace("'", "").replace("`", "").replace("\u2019", "").replace("?", "")
    return _NON_ALNUM.sub(" ", text)


def _by_first_letter(words: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for w in sorted(words):
        if len(w) >= 5:
            out.setdefault(w[0], []).append(w)
    return out


_LONG_LEGAL = _by_first_letter(LEGAL_FORMS)
_LONG_GENERIC = _by_first_letter(GENERIC_WORDS)


@lru_cache(maxsize=131072)
def _role(token: str) -> str:
    if token in LEGAL_FORMS:
        return LEGAL
    if token in PARTICLES:
        return PARTICLE
    if token in GENERIC_WORDS:
        return GENERIC
    if len(token) >= 6:
        # A misspelt legal form or generic word is still one (COMPANI, TRADYNG, SHEEPPING).
        for words, role in ((_LONG_LEGAL, LEGAL), (_LONG_GENERIC, GENERIC)):
            found = process.extractOne(token, words.get(token[0], ()), scorer=fuzz.ratio, score_cutoff=80)
            if found is not None:
                return role
    return NAME


@lru_cache(maxsize=65536)
def _tokenize_latin(text: str, titles: bool = True) -> tuple[tuple[str, str], ...]:
    """`titles`: the text was written in Latin letters (or read from an alphabet), where MR or DR
    can be a title; a reading of an abjad makes them from names (عمر = MR, OMAR)."""
    tokens = _fold(text).split()
    out = [(t, _role(t)) for t in tokens]
    # Leading titles go when at least two name tokens stay.
    lead = 0
    while titles and lead < len(out) and out[lead][0] in HONORIFICS:
        lead += 1
    if lead and sum(1 for t, r in out[lead:] if r == NAME) >= 2:
        out = out[lead:]
    if out and all(role not in (NAME, GENERIC) for _, role in out):
        # A name made only of particles/legal words ("AL", "LA SA"): keep them as names.
        out = [(t, NAME) for t, _ in out]
    return tuple(out)


def tokenize(text: str) -> tuple[tuple[str, str], ...]:
    """(token, role) pairs of a name in its script's standard rendering; titles removed."""
    return _tokenize_latin(renderings(text or "")[0], not is_abjad(text or ""))


def glued(tokens: tuple[tuple[str, str], ...], compounds_only: bool = False) -> tuple[tuple[str, str], ...]:
    """The tokens with compound particles and runs of initials glued to their neighbours.
    `compounds_only`: only the parts of compound given names (ABD ALLAH, SALAH AL DIN, NUR UD
    DIN), leaving BIN, ABU, VAN, DE... apart, as most lists write them ("BEN ABDALLAH")."""
    glue_after = _GLUE_COMPOUND if compounds_only else _GLUE_NEXT
    out: list[list[str]] = []
    glue_next = False
    for token, _ in tokens:
        if out and (glue_next or token in _GLUE_BOTH or token in _GLUE_PREV
                    or (len(token) == 1 and len(out[-1][-1]) == 1)):
            out[-1].append(token)
            if (token in _GLUE_PREV and len(out) >= 2 and len(out[-1]) == 2 and out[-1][0] in _ARTICLES
                    and out[-2][-1] not in _GLUE_NEXT):
                # "SALAH AL DIN", "NUR AL DIN": the article and DIN/ALLAH belong to the name before
                # (SALAHALDIN, NOUREDDINE), as UD DIN does.
                out[-2].extend(out.pop())
        else:
            out.append([token])
        glue_next = token in glue_after or token in _GLUE_BOTH
    result = []
    for parts in out:
        token = "".join(parts)
        result.append((token, _role(token) if len(parts) == 1 else NAME))
    return tuple(result)


@lru_cache(maxsize=65536)
def name_readings(text: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """The token lists of the script's readings alone (no glued or joined forms)."""
    titles = not is_abjad(text or "")
    return tuple(dict.fromkeys(t for t in (_tokenize_latin(r, titles) for r in renderings(text or "")) if t))


@lru_cache(maxsize=65536)
def name_variants(text: str) -> tuple[tuple[tuple[str, str], ...], ...]:
    """Every token list to screen for a name: each rendering, the CJK given name joined, and
    the form with compound particles glued."""
    variants: list[tuple[tuple[str, str], ...]] = []
    text = text or ""
    titles = not is_abjad(text)
    for rendering in renderings(text):
        tokens = _tokenize_latin(rendering, titles)
        variants.append(tokens)
        if _CJK.search(text) and len(tokens) >= 3:
            variants.append(((tokens[0][0], NAME), ("".join(t for t, _ in tokens[1:]), NAME)))
        for g in (glued(tokens, compounds_only=True), glued(tokens)):
            if len(g) >= 1 and g != tokens and any(r == NAME for _, r in g):
                variants.append(g)
    return tuple(dict.fromkeys(v for v in variants if v))


def normalize(text: str) -> str:
    """The normalised name as one string (tokens joined by spaces)."""
    return " ".join(t for t, _ in tokenize(text))


def strip_glued_prefix(token: str) -> str | None:
    """The token without a particle glued to its front (ALGHORAYFI -> GHORAYFI), if what is
    left is a name of four letters or more."""
    for prefix in GLUED_PREFIXES:
        if token.startswith(prefix) and len(token) - len(prefix) >= 4:
            return token[len(prefix):]
    return None


_DIGRAPHS = (("DZH", "J"), ("ZH", "J"), ("DJ", "J"), ("SCH", "S"), ("TCH", "C"), ("SH", "S"), ("CH", "C"), ("KH", "H"), ("PH", "F"), ("TH", "T"),
             ("DH", "D"), ("GH", "G"), ("CK", "K"), ("DZ", "Z"), ("TS", "Z"), ("OU", "U"), ("EE", "I"))
_SINGLE = str.maketrans({"Q": "K", "C": "K", "Z": "S", "W": "V", "J": "Y", "X": "K"})
_VOWELS = re.compile(r"[AEIOUY]")
_ABJAD_DROP = re.compile(r"[AEIOUYVJ]")
_VOWEL_LETTERS = frozenset("AEIOUYW")


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


_SOFT_C = re.compile("C(?=[EIY])")
_FRENCH_CH = re.compile("(?<!T)CH(?!$)")
_ABJAD_DIGRAPHS = (("TSH", "K"), ("TCH", "K"), ("SCH", "S"), ("SH", "S"), ("CH", "K"), ("KH", "H"), ("GH", "K"), ("TH", "T"), ("DH", "T"),
                   ("PH", "B"), ("TS", "S"), ("TZ", "S"), ("DZH", "K"), ("DJ", "K"), ("ZH", "K"))
_ABJAD_CLASS = str.maketrans({"P": "B", "F": "B", "D": "T", "Z": "S", "C": "K", "Q": "K", "G": "K",
                              "X": "K"})


@lru_cache(maxsize=131072)
def abjad(token: str, v_as_b: bool = False) -> str:
    """A coarse consonant key for names written in an abjad (Arabic, Persian, Hebrew): the
    letters those scripts also use for vowels (W/V, Y) dropped with the vowels, and consonants
    that one script writes with one letter and Latin spells in several ways folded into a class
    (B/P/F, T/D, S/Z, K/Q/G/C/CH/GH, and H/KH apart: ح ه خ are never a K or a G, nor ج ق ك غ an
    H; J, a glide as often as a consonant, dropped):
    NETANYAHU ~ NTNYHW, HUSSEIN ~ HSYN, BENJAMIN ~ BNYMYN."""
    t = token[:-1] if len(token) > 2 and token.endswith("H") and token[-2] in _VOWEL_LETTERS else token
    t = _SOFT_C.sub("S", t)  # C before E, I, Y is S (BELGACEM for بلقاسم is Q-S-M, LOUNICI)
    if v_as_b:  # French spelling writes ش as CH (ALOUCHE for علوش); a final CH (-VICH) is چ
        t = _FRENCH_CH.sub("SH", t.replace("TCH", "CH"))
    for a, b in _ABJAD_DIGRAPHS:
        t = t.replace(a, b)
    t = t[:-1] if len(t) > 2 and t.endswith("H") else t  # a final he / ta marbuta is a vowel
    if v_as_b:  # Arabic writes a Latin V as ف (F), Hebrew as ו (W) or ב (B); J as ج, a G
        t = t.replace("V", "B").replace("J", "G")
    return _collapse(_ABJAD_DROP.sub("", t.replace("W", "V")).translate(_ABJAD_CLASS))
