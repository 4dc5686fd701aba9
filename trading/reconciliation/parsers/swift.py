"""SWIFT FIN text: decoding, the block envelope, and splitting a file into messages of tagged
fields with their line numbers. Shared by the MT940/MT950 and MT535 parsers."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from .base import ParseError

TAG_RE = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
ENVELOPE_START_RE = re.compile(r"^\{1:[^}]*\}(?:\{2:([^}]*)\})?(?:\{3:(?:\{[^}]*\})*\})?\{4:\s*(.*)$")
TERMINATOR_RE = re.compile(r"^-(\}.*|[A-Z]*)$")
AMOUNT_RE = re.compile(r"^(\d+),(\d*)$")


@dataclass
class Field:
    tag: str
    value: str
    line: int


@dataclass
class Message:
    fields: list[Field] = field(default_factory=list)
    header_lines: list[str] = field(default_factory=list)
    message_type: str = ""
    line: int = 1


def decode(data: bytes | str, *, file: str = "") -> str:
    """Text of a SWIFT file. FIN is ASCII; banks send UTF-8 or Latin-1 in free text."""
    if isinstance(data, str):
        return _strip_trailer(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="strict") if _cp1252_ok(data) else data.decode("latin-1")
    return _strip_trailer(text)


# Transmission leftovers after the last message: DOS end-of-file (SUB, 0x1A), ETX (0x03) as some
# bank gateways append, EOT and NUL padding. They are not part of any field.
TRAILER_CHARS = "\x00\x03\x04\x1a"


def _strip_trailer(text: str) -> str:
    stripped = text.rstrip(TRAILER_CHARS + " \r\n\t")
    return stripped + "\n" if stripped != text.rstrip(" \r\n\t") or text.endswith("\n") else stripped


def _cp1252_ok(data: bytes) -> bool:
    try:
        data.decode("cp1252")
        return True
    except UnicodeDecodeError:
        return False


def split_messages(text: str, *, file: str = "") -> list[Message]:
    """Messages of tagged fields. Lines before a message's first tag (bank file headers such as
    'ABNANL2A' / '940' or ':940:') are kept as header lines; a line starting with '-' ends a
    message; a new :20: after a closing balance starts the next message (some banks omit '-');
    blank lines are ignored; other untagged lines continue the field above them."""
    messages: list[Message] = []
    current = Message()
    in_fields = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if not stripped:
            continue
        m = ENVELOPE_START_RE.match(stripped)
        if m:
            if current.fields:
                messages.append(current)
            current = Message(line=number)
            in_fields = False
            block2 = m.group(1) or ""
            if len(block2) >= 4 and block2[0] in "IO":
                current.message_type = block2[1:4]
            rest = m.group(2).strip()
            if not rest:
                continue
            line = stripped = rest
        if TERMINATOR_RE.match(stripped):
            # '-' ends the text block; '-}{5:...}' closes the envelope; ING writes '-XXX'.
            if current.fields or current.header_lines:
                messages.append(current)
            current = Message(line=number + 1)
            in_fields = False
            continue
        if stripped.startswith("{5:") or stripped == "}":
            continue
        tm = TAG_RE.match(line)
        if tm:
            tag, value = tm.group(1), tm.group(2)
            if tag == "20" and any(f.tag.startswith("62") for f in current.fields):
                messages.append(current)
                current = Message(line=number)
            if not current.fields:
                current.line = number
            current.fields.append(Field(tag, value.rstrip(), number))
            in_fields = True
            continue
        if not in_fields:
            if re.fullmatch(r":?\d{3}:?", stripped) and stripped.strip(":") in {"940", "942", "950", "535"}:
                current.message_type = stripped.strip(":")
            current.header_lines.append(stripped)
            continue
        current.fields[-1].value += "\n" + line.rstrip()
    if current.fields:
        messages.append(current)
    return messages


def parse_amount(text: str, *, file: str = "", line: int | None = None, fld: str = "") -> Decimal:
    """SWIFT 15d: digits with exactly one decimal comma, at most 15 significant characters.
    Leading zero padding beyond 15 characters (Rabobank pads to 16) is tolerated."""
    m = AMOUNT_RE.match(text)
    if not m:
        if re.fullmatch(r"\d+", text):
            raise ParseError(f"amount {text!r} has no decimal comma (SWIFT 15d requires one)",
                             file=file, line=line, field=fld)
        raise ParseError(f"amount {text!r} is not a SWIFT amount (digits with one decimal comma)",
                         file=file, line=line, field=fld)
    if len(text.lstrip("0")) > 15:
        raise ParseError(f"amount {text!r} is longer than 15 characters", file=file, line=line, field=fld)
    whole, frac = m.group(1), m.group(2)
    return Decimal(f"{int(whole)}.{frac or '0'}")


def parse_yymmdd(text: str, *, file: str = "", line: int | None = None, fld: str = "") -> dt.date:
    if not re.fullmatch(r"\d{6}", text):
        raise ParseError(f"date {text!r} is not YYMMDD", file=file, line=line, field=fld)
    yy, mm, dd = int(text[:2]), int(text[2:4]), int(text[4:6])
    try:
        return dt.date(2000 + yy if yy < 80 else 1900 + yy, mm, dd)
    except ValueError:
        raise ParseError(f"date {text!r} does not exist", file=file, line=line, field=fld) from None


def parse_yyyymmdd(text: str, *, file: str = "", line: int | None = None, fld: str = "") -> dt.date:
    if not re.fullmatch(r"\d{8}", text):
        raise ParseError(f"date {text!r} is not YYYYMMDD", file=file, line=line, field=fld)
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise ParseError(f"date {text!r} does not exist", file=file, line=line, field=fld) from None
