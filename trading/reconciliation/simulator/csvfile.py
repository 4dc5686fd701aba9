"""A position CSV in a delimited layout with a header row and one position record type: the
layout (user data) says which column holds which field; this writer fills them by name."""
from __future__ import annotations

import csv
import io

from .core import SimulatorError, Snapshot


def render(snap: Snapshot, layout_code: str) -> bytes:
    from ..parsers.layouts import load_layout  # the layout data only (column names), not the parser

    try:
        spec = load_layout(layout_code)
    except Exception as exc:
        raise SimulatorError(f"unknown layout {layout_code!r}", detail={"format": [str(exc)]}) from None
    roles = {k: v for k, v in spec.get("record_types", {}).items() if v.get("role") == "position"}
    if spec.get("format") != "delimited" or not spec.get("header") or len(roles) != 1 or "columns" not in spec:
        raise SimulatorError(f"the simulator writes delimited layouts with a header row and one position record; "
                             f"{layout_code!r} is not one", detail={"format": [f"layout {layout_code!r}"]})
    fields = next(iter(roles.values()))["fields"]
    column_of = {name: f["column"] for name, f in fields.items()}
    out = io.StringIO()
    writer = csv.writer(out, delimiter=spec.get("delimiter", ","), quotechar=spec.get("quotechar", '"'),
                        lineterminator="\n")
    writer.writerow(spec["columns"])
    for p in snap.positions:
        values = {"account": p.account, "isin": p.isin, "quantity": format(p.quantity.normalize(), "f"),
                  "price": "" if p.price is None else format(p.price.normalize(), "f"),
                  "price_currency": p.currency, "description": p.name,
                  "fx_rate": "" if p.fx_to_base is None else format(p.fx_to_base.normalize(), "f"),
                  "market_value": "" if p.market_value is None else str(p.market_value)}
        row = {column_of[k]: v for k, v in values.items() if k in column_of}
        writer.writerow([row.get(c, "") for c in spec["columns"]])
    return out.getvalue().encode("utf-8")
