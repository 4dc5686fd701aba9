"""Price and FX-rate sources in words. A price or rate row keeps its source's code (`DEMO_CLOSE`,
`WMR_4PM_LONDON`, `CUSTODIAN:XYZ`); pages show what the code means."""
from __future__ import annotations

SOURCE_LABELS: dict[str, str] = {
    "DEMO_CLOSE": "Closing price (demonstration data)",
    "BLOOMBERG": "Bloomberg",
    "LSEG": "LSEG (Refinitiv)",
    "REFINITIV": "LSEG (Refinitiv)",
    "ICE": "ICE Data Services",
    "ECB": "ECB euro reference rate",
    "WMR_4PM_LONDON": "WM/Reuters 4 pm London fix",
    "MANUAL": "Entered by hand",
}


def source_label(code: str) -> str:
    """'WMR_4PM_LONDON' -> 'WM/Reuters 4 pm London fix'; 'CUSTODIAN:XYZ' -> "XYZ (custodian's price)";
    a code nobody has named yet reads as words ('SOME_FEED' -> 'Some feed')."""
    code = (code or "").strip()
    if not code:
        return ""
    if code.upper() in SOURCE_LABELS:
        return SOURCE_LABELS[code.upper()]
    if code.upper().startswith("CUSTODIAN:"):
        return f"{code.split(':', 1)[1]} (custodian's price)"
    text = code.replace("_", " ").lower()
    return text[:1].upper() + text[1:]
