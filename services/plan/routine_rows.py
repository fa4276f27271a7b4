"""How many rows of a set-returning function a call answers: `limit` and `offset` (as on
`_table`, spec §3.2) capped by the service's max_records (§3.9)."""

from __future__ import annotations

from services.catalog.routines import Routine
from services.plan.types import ResultOptions


def routine_rows(options: ResultOptions, routine: Routine, max_records: int) -> tuple[int, int]:
    """(limit, offset): a missing, non-positive or too large `limit` means max_records. A
    routine with a parameter named `limit` or `offset` takes the value as its argument, so it
    does not page the rows then."""
    names = {p.name.casefold() for p in routine.params}
    limit = None if "limit" in names else options.limit
    offset = 0 if "offset" in names else options.offset
    if limit is None or not 0 < limit <= max_records:
        limit = max_records
    return limit, offset
