"""Ids in API paths and bodies, shared by every app's API (the base layer, so any app may import it)."""

ID_REGEX = r"[0-9]{1,18}"  # a longer id cannot exist: 404 from the router, not a database overflow
MAX_ID = 2**63 - 1  # the largest bigint primary key
