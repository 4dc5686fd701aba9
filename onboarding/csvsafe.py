"""The one CSV writer for everything Meridian exports (audit trails, order tickets, tax extracts
and exception lists). A spreadsheet runs a cell that starts with = + - @ (or a tab or carriage
return followed by one) as a formula, so such cells get a leading apostrophe, as OWASP's "CSV
injection" guidance recommends. Plain numbers (-12.50) are left as they are: they cannot be
formulas, and an apostrophe would turn them into text."""
from __future__ import annotations

import csv
import re
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")  # with full-width forms
PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """The value as a CSV cell that no spreadsheet will evaluate."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


class writer:  # noqa: N801 - mirrors csv.writer
    def __init__(self, f, *args, **kwargs):
        self._writer = csv.writer(f, *args, **kwargs)

    def writerow(self, row):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


class DictWriter(csv.DictWriter):
    def writerow(self, rowdict):
        return super().writerow({key: safe_cell(value) for key, value in rowdict.items()})

    def writerows(self, rowdicts):
        for row in rowdicts:
            self.writerow(row)
