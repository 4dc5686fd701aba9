"""Input limits taken from the database columns themselves (issue 15: values longer than a
column, or numbers with more digits than it holds, reached the database and came back as 500s).

`column_problem(model, field, value)` says, in words for the `field`, why `value` cannot be stored
in that column (None when it can); `check_columns(model, values)` raises ValidationFailed naming
every field that does not fit. Services and importers call it before they write, so every way in
(API, portal, files) gets the same 400 with the field named."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models

from .exceptions import ValidationFailed


def column_problem(model: type[models.Model], field: str, value: Any) -> str | None:
    column = model._meta.get_field(field)
    if value is None or value == "":
        return None
    if isinstance(column, models.DecimalField):
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
        except (InvalidOperation, ValueError):
            return f"{value!r} is not a number"
        if not number.is_finite():
            return "must be a finite number"
        if abs(number) >= Decimal(10) ** (column.max_digits - column.decimal_places):
            return f"{number} has more than {column.max_digits - column.decimal_places} digits before the decimal point"
        if number != 0 and number.quantize(Decimal(1).scaleb(-column.decimal_places)) == 0:
            return f"{number} is smaller than the {column.decimal_places} decimal places kept"
        whole_digits = column.max_digits - column.decimal_places
        if abs(number) >= Decimal(10) ** whole_digits:
            return f"{number} has more than {whole_digits} digits before the decimal point"
        return None
    if isinstance(column, (models.CharField, models.TextField)) and not isinstance(value, str):
        return "must be text"
    max_length = getattr(column, "max_length", None)
    if max_length and isinstance(value, str) and len(value) > max_length:
        return f"at most {max_length} characters ({len(value)} given)"
    return None


def check_columns(model: type[models.Model], values: dict[str, Any], *, prefix: str = "") -> None:
    problems = {f"{prefix}{name}": [why] for name, value in values.items()
                if (why := column_problem(model, name, value)) is not None}
    if problems:
        first = next(iter(problems))
        raise ValidationFailed(f"{first}: {problems[first][0]}", detail=problems)
