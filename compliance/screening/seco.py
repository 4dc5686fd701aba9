"""The Swiss sanctions list (SECO, SESAM) in its published XML: the whole list.

SECO publishes every person, entity and object listed under the ordinances of the Embargo Act
(EmbA, SR 946.231) as one XML document, `<swiss-sanctions-list list-type="whole-list" date=...>`,
downloadable from SESAM (www.sesam.search.admin.ch, "Gesamtliste", XML). No XSD is published
beside it; the structure read here is the one OpenSanctions' crawler for the list reads
(opensanctions/opensanctions, datasets/ch/seco_sanctions/crawler.py) and that trimmed copies of
the published file show:

- `<sanctions-program ssid>` with `<program-key lang>`, `<program-name lang>`, `<origin>` and its
  `<sanctions-set ssid lang>` elements; a target names its set by `sanctions-set-id` (attribute
  or child element), and the programme is the one that holds that set;
- `<place ssid>` (`<location>`, `<area>`, `<country iso-code>`), referred to by `place-id`;
- `<target ssid>` with one of `<individual sex>`, `<entity>` or `<object object-type="vessel">`,
  `<foreign-identifier>` (the UN reference) and `<modification modification-type="listed |
  amended | de-listed" effective-date publication-date enactment-date>`. A modification may embed
  earlier states of the target in `<added>`/`<removed>`: only the target's own children are read.
- the subject holds `<identity ssid main="true|false">`, `<justification>`,
  `<other-information>` (e.g. "IMO Number: 9123456") and `<relation>`; an identity holds
  `<name name-type="primary-name | alias | formerly-known-as" quality="good | low">` of
  `<name-part order name-part-type="given-name | family-name | father-name | whole-name | title
  | ...">` with `<value>` and `<spelling-variant lang script>`, `<day-month-year day month year>`,
  `<nationality><country iso-code>`, `<place-of-birth place-id>`, `<address place-id>` and
  `<identification-document document-type>` with `<number>` and `<issuer>`.

A target whose latest modification is a de-listing is not imported (the whole list keeps them as
history). Records have source "seco"; a malformed file raises WatchlistFormatError naming file,
line and field, and nothing partial is returned.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lxml import etree

from compliance.exceptions import WatchlistFormatError

from .countries import to_iso2
from .importers import Identifier, WatchlistRecord, _dedupe, _read_text, _ymd

SOURCE = "seco"
_KIND = {"individual": "person", "entity": "entity"}
_OBJECT_KIND = {"vessel": "vessel", "aircraft": "aircraft"}
_NAME_TYPES = {"primary-name", "alias", "formerly-known-as"}
_IMO = re.compile(r"IMO\s+[Nn]umber\s*:?\s*(\d{7})")


def _err(path: Path, el: Any, field: str, problem: str) -> WatchlistFormatError:
    return WatchlistFormatError(file=str(path), line=getattr(el, "sourceline", None), field=field, problem=problem)


def _text(el: Any) -> str:
    return " ".join((el.text or "").split()) if el is not None and el.text else ""


def _programmes(root: Any) -> dict[str, str]:
    """sanctions-set ssid -> the programme's English name (else its key, else any name)."""
    out: dict[str, str] = {}
    for program in root.iterfind("sanctions-program"):
        label = ""
        for tag in ("program-name", "program-key"):
            names = program.findall(tag)
            english = [n for n in names if n.get("lang") == "eng"]
            chosen = english or names
            if chosen and _text(chosen[0]):
                label = _text(chosen[0])
                break
        for sanctions_set in program.iterfind("sanctions-set"):
            if sanctions_set.get("ssid"):
                out[sanctions_set.get("ssid")] = label or _text(sanctions_set)
    return out


def _place_parts(el: Any) -> dict[str, str]:
    parts = {tag: _text(el.find(tag)) for tag in ("location", "area")}
    country = el.find("country")
    parts["country"] = (country.get("iso-code") or to_iso2(_text(country))) if country is not None else ""
    parts["country_name"] = _text(country)
    return {k: v for k, v in parts.items() if v}


def _places(root: Any) -> dict[str, dict[str, str]]:
    return {p.get("ssid"): _place_parts(p) for p in root.iterfind("place") if p.get("ssid")}


def _located(el: Any, places: dict[str, dict[str, str]]) -> dict[str, str]:
    merged = dict(places.get(el.get("place-id") or "", {}))
    merged.update(_place_parts(el))
    return merged


def _date(path: Path, el: Any) -> str | None:
    year, month, day = el.get("year"), el.get("month"), el.get("day")
    if not year:
        return None
    try:
        value = _ymd(int(year), int(month or 0), int(day or 0))
    except ValueError:
        value = None
    if value is None:
        raise _err(path, el, "day-month-year", f"unreadable date {day}.{month}.{year}")
    return value


def _names(path: Path, name_el: Any) -> list[str]:
    """The whole name as the parts' order gives it (titles left out), then one variant per
    spelling variant of a part (e.g. the Cyrillic or another transliteration)."""
    parts: list[tuple[int, str, list[str]]] = []
    for part in name_el.iterfind("name-part"):
        if part.get("name-part-type") == "title":
            continue
        value = _text(part.find("value"))
        if not value:
            continue
        try:
            order = int(part.get("order") or len(parts) + 1)
        except ValueError as exc:
            raise _err(path, part, "name-part/@order", f"not a number: {part.get('order')!r}") from exc
        variants = [_text(v) for v in part.iterfind("spelling-variant") if _text(v)]
        parts.append((order, value, variants))
    parts.sort(key=lambda p: p[0])
    whole = " ".join(value for _, value, _ in parts)
    out = [whole] if whole else []
    for i, (_, _, variants) in enumerate(parts):
        for variant in variants:
            out.append(" ".join(variant if j == i else value for j, (_, value, _) in enumerate(parts)))
    return out


def _is_listed(path: Path, target: Any) -> bool:
    """The target's current state: the latest of its own modifications (by effective date, then
    publication date; on a tie the first in the file, which is how SECO orders them)."""
    latest: tuple[str, int] | None = None
    status = "listed"
    for position, mod in enumerate(target.iterfind("modification")):
        kind = mod.get("modification-type") or ""
        if kind not in ("listed", "amended", "de-listed"):
            raise _err(path, mod, "modification-type", f"unknown modification type {kind!r}")
        when = mod.get("effective-date") or mod.get("publication-date") or ""
        key = (when, -position)
        if latest is None or key > latest:
            latest, status = key, kind
    return status != "de-listed"


def _subject(path: Path, target: Any) -> tuple[Any, str]:
    for tag, kind in _KIND.items():
        node = target.find(tag)
        if node is not None:
            return node, kind
    node = target.find("object")
    if node is not None:
        object_type = (node.get("object-type") or "").lower()
        if object_type not in _OBJECT_KIND:
            raise _err(path, node, "object-type", f"unknown object type {node.get('object-type')!r}")
        return node, _OBJECT_KIND[object_type]
    raise _err(path, target, "target", f"target {target.get('ssid')} has no individual, entity or object")


def _read_identity(path: Path, record: WatchlistRecord, identity: Any, places: dict[str, dict[str, str]]) -> None:
    main = identity.get("main") == "true"
    for name_el in identity.iterfind("name"):
        name_type = name_el.get("name-type") or "primary-name"
        if name_type not in _NAME_TYPES:
            raise _err(path, name_el, "name-type", f"unknown name type {name_type!r}")
        for i, name in enumerate(_names(path, name_el)):
            if main and name_type == "primary-name" and i == 0 and not record.name:
                record.name = name
            elif name_el.get("quality") == "low":
                record.weak_aliases.append(name)
            else:
                record.aliases.append(name)
    for date_el in identity.iter("day-month-year"):
        if any(a.tag == "identification-document" for a in date_el.iterancestors()):
            continue  # a document's dates, not the subject's
        value = _date(path, date_el)
        if value:
            record.dobs.append(value)
    for country in identity.iterfind("nationality/country"):
        code = country.get("iso-code") or to_iso2(_text(country))
        if code:
            record.countries.append(code.upper())
    for address in identity.iterfind("address"):
        code = _located(address, places).get("country", "")
        if code:
            record.countries.append(code.upper())
    for birth in identity.iterfind("place-of-birth"):
        place = _located(birth, places)
        text = ", ".join(p for p in (place.get("location"), place.get("area"), place.get("country_name")) if p)
        if text:
            record.places_of_birth.append(text)
    for doc in identity.iterfind("identification-document"):
        number = _text(doc.find("number"))
        if number:
            issuer = doc.find("issuer")
            country = ((issuer.get("code") or to_iso2(_text(issuer))) if issuer is not None else "")
            record.identifiers.append(Identifier(kind=doc.get("document-type") or "document", number=number,
                                                 country=country.upper()))


def parse_seco(path: str | Path) -> list[WatchlistRecord]:
    path = Path(path)
    text = _read_text(path)
    try:
        root = etree.fromstring(text.encode("utf-8"), parser=etree.XMLParser(
            resolve_entities=False, no_network=True, huge_tree=True))
    except etree.XMLSyntaxError as exc:
        raise WatchlistFormatError(file=str(path), line=exc.lineno, field="xml", problem=str(exc)) from exc
    if root.tag != "swiss-sanctions-list":
        raise _err(path, root, "swiss-sanctions-list", f"root element is {root.tag!r}: not the SECO sanctions list")
    if root.get("list-type") not in (None, "whole-list"):
        raise _err(path, root, "list-type",
                   f"list-type {root.get('list-type')!r}: a snapshot needs the whole list ('whole-list')")
    programmes = _programmes(root)
    places = _places(root)
    records: dict[str, WatchlistRecord] = {}
    seen: set[str] = set()
    for target in root.iterfind("target"):
        ssid = target.get("ssid") or ""
        if not ssid:
            raise _err(path, target, "target/@ssid", "missing")
        if ssid in seen:
            raise _err(path, target, "target/@ssid", f"{ssid} appears twice")
        seen.add(ssid)
        node, kind = _subject(path, target)
        if not _is_listed(path, target):
            continue
        record = WatchlistRecord(source=SOURCE, ref=ssid, kind=kind, name="", topics=["sanction"])
        set_ids = [target.get("sanctions-set-id") or ""] + [_text(s) for s in target.iterfind("sanctions-set-id")]
        for set_id in filter(None, set_ids):
            if set_id not in programmes:
                raise _err(path, target, "sanctions-set-id", f"no sanctions-set {set_id} in any sanctions-program")
            record.programmes.append(programmes[set_id])
        for foreign in target.iterfind("foreign-identifier"):
            if _text(foreign):
                record.identifiers.append(Identifier(kind="UN reference", number=_text(foreign)))
        identities = node.findall("identity")
        for identity in sorted(identities, key=lambda i: i.get("main") != "true"):
            _read_identity(path, record, identity, places)
        if not record.name and record.aliases:
            record.name = record.aliases.pop(0)
        if not record.name:
            raise _err(path, target, "name", f"target {ssid} has no name")
        notes = []
        for other in node.iterfind("other-information"):
            match = _IMO.search(_text(other))
            if match:
                record.identifiers.append(Identifier(kind="IMO", number=match.group(1)))
            elif _text(other):
                notes.append(_text(other))
        notes.extend(_text(j) for j in node.iterfind("justification") if _text(j))
        record.remarks = " ".join(notes)[:2000]
        record.aliases = [a for a in _dedupe(record.aliases) if a != record.name]
        record.weak_aliases = [a for a in _dedupe(record.weak_aliases) if a != record.name and a not in record.aliases]
        record.dobs = _dedupe(record.dobs)
        record.countries = _dedupe(record.countries)
        record.places_of_birth = _dedupe(record.places_of_birth)
        record.programmes = _dedupe(record.programmes)
        records[ssid] = record
    if not seen:
        raise _err(path, root, "target", "no <target> elements")
    return list(records.values())
