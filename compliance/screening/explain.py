"""A screening hit explained for people: which tokens matched and how, and what the date of
birth, the country and the identifiers say for or against. Plain Python over the explanation a
hit carries (`Hit.explanation`, stored on the alert), so the officers' admin page and the
review desk show the same words."""
from __future__ import annotations

from typing import Any

_VIA = {
    "exact": "the same",
    "spelling": "a spelling variant",
    "phonetic": "sounds the same (phonetic key)",
    "skeleton": "the same consonants (transliteration)",
    "abjad": "the same consonants as written in Arabic or Hebrew script",
    "initial": "an initial",
    "typo": "one letter apart",
    "glued_particle": "the same with the particle joined",
}


def _listed(value: Any) -> str:
    return ", ".join(str(v) for v in value) if isinstance(value, (list, tuple)) else str(value)


def explain_alert(explanation: dict | None, *, entry_name: str = "") -> dict:
    """{"summary", "lines", "tokens", "dob", "country", "identifiers"}: `tokens` lists each
    query token with the listed token it matched, the similarity and the way it matched (also as
    words); `dob` / `country` are "corroborates", "conflicts" or None, with the values."""
    explanation = explanation or {}
    lines: list[str] = []
    tokens = []
    name = next((m for m in explanation.get("matched", []) if m.get("feature") == "name"), None)
    for t in explanation.get("tokens", []):
        how = _VIA.get(t.get("via") or "", "")
        tokens.append({**t, "how": how})
        if t.get("query") and t.get("listed"):
            lines.append(f"{t['query']} ~ {t['listed']}: {how} ({round(100 * t['similarity'])}%)")
        elif t.get("query"):
            lines.append(f"{t['query']}: nothing in the listed name")
        else:
            lines.append(f"{t['listed']} (listed): not in the client's name")
    if name and name.get("weak_alias"):
        lines.append("Matched a weak alias of the listed subject (the list itself calls it low quality).")
    dob = country = None
    identifiers = []
    for m in explanation.get("matched", []):
        if m.get("feature") == "dob":
            dob = {"outcome": "corroborates", "client": m.get("query"), "listed": m.get("listed")}
            lines.append(f"Date of birth {m.get('query')} agrees with the listed {_listed(m.get('listed'))}.")
        elif m.get("feature") == "country":
            country = {"outcome": "corroborates", "common": m.get("value")}
            lines.append(f"Country in common: {_listed(m.get('value'))}.")
        elif m.get("feature") == "identifier":
            identifiers.append(m.get("value"))
            lines.append(f"Identifier {m.get('value')} is the listed subject's: decisive.")
    for c in explanation.get("conflicts", []):
        feature = c.get("feature")
        if feature in ("dob_year", "dob_day"):
            dob = {"outcome": "conflicts", "client": c.get("query"), "listed": c.get("listed"),
                   "by": "year" if feature == "dob_year" else "day"}
            lines.append(f"Date of birth {c.get('query')} differs from the listed {_listed(c.get('listed'))} "
                         f"({'another year' if feature == 'dob_year' else 'same year, another day'}).")
        elif feature == "country":
            country = {"outcome": "conflicts", "client": c.get("query"), "listed": c.get("listed")}
            lines.append(f"No country in common: client {_listed(c.get('query'))}, listed {_listed(c.get('listed'))}.")
    score = explanation.get("name_score")
    listed_text = (name or {}).get("listed_text") or entry_name
    summary = f"Name {round(100 * score)}% like {listed_text!r}" if score is not None else f"Hit on {entry_name!r}"
    if identifiers:
        summary += "; identifier matches"
    if dob:
        summary += f"; date of birth {'agrees' if dob['outcome'] == 'corroborates' else 'differs'}"
    if country:
        summary += f"; country {'agrees' if country['outcome'] == 'corroborates' else 'differs'}"
    return {"summary": summary, "lines": lines, "tokens": tokens, "dob": dob, "country": country,
            "identifiers": identifiers}
