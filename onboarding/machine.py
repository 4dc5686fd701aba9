"""What a benchmark prints beside its figures so that they can be compared: the machine's load
average (a figure measured on a busy shared machine is not a figure of the code alone), its
CPUs and the time of measurement. Every benchmark command puts `machine()` in its JSON."""
from __future__ import annotations

import datetime as dt
import os
import platform
from typing import Any


def machine() -> dict[str, Any]:
    one, five, fifteen = os.getloadavg()
    return {
        "load_average": [round(one, 2), round(five, 2), round(fifteen, 2)],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
