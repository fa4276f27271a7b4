"""Stage 8, compile: a bound plan -> the one Statement it runs, when that is known before it runs.

Table reads (by keys, or a page) and routine calls compile here. What depends on what the
database answers is compiled by the execute stage as it goes: the count of a page that proved
truncated, each record of a batch write or chunk of a bulk create, a stream in its format, and
schema changes (planned against the live schema). Pure: no I/O.
"""

from __future__ import annotations

from services.plan.types import Bound, BoundNode, BoundRead, BoundRoutineCall
from services.sql.compile import Statement, compile_key_lookup, compile_page
from services.sql.routines import compile_function, compile_procedure


def compile_plan(bound: Bound, row_filter: BoundNode | None = None) -> Statement | None:
    """The statement of `bound` with the caller's row filter ANDed in, or None (see above)."""
    if isinstance(bound, BoundRead):
        if bound.stream is not None:
            return None
        if bound.key_values is not None:
            return compile_key_lookup(bound, row_filter)
        return compile_page(bound, row_filter)
    if isinstance(bound, BoundRoutineCall):
        if bound.plan.kind == "function":
            return compile_function(bound.call, bound.limit or None, bound.offset)
        return compile_procedure(bound.call)
    return None
