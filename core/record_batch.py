"""Batches of system records (spec §3.8, §9.1): records are written in order; by default the
first failure stops the batch and what was written before it stays; `continue=true` writes
every valid record and reports the others; `rollback=true` writes all or nothing.

A failure answers DF's batch error: 400, code 1000, `context.resource[i]` the result of record
`i` (its normal answer, or its error), `context.error` the failed indexes and, as the data API
does, `context.written` the indexes that stayed written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from django.db import IntegrityError, transaction

from core.errors import BadRequest, BatchError, GatewayError
from core.flags import as_bool

Mode = Literal["stop", "continue", "rollback"]
Step = Callable[[], dict[str, Any]] | GatewayError
VERB_WORDS = {"POST": "created", "PATCH": "updated", "DELETE": "deleted", "GET": "retrieved"}


def batch_mode(options: Mapping[str, Any]) -> Mode:
    """`continue` / `rollback` from the options; both at once is a 400 (spec §3.2)."""
    keep_going = as_bool(options.get("continue", ""))
    rollback = as_bool(options.get("rollback", ""))
    if keep_going and rollback:
        raise BadRequest("Rollback and continue operations can not be requested at the same time.")
    return "rollback" if rollback else "continue" if keep_going else "stop"


def integrity_error(exc: IntegrityError) -> BadRequest:
    """A constraint the metadata database enforced after the serializer's checks passed (two
    requests writing the same unique name at once): the record's 400, not a 500."""
    cause = exc.__cause__
    state = getattr(cause, "sqlstate", None) or "23000"
    detail = str(cause or exc).strip().splitlines()[0] if str(cause or exc).strip() else ""
    return BadRequest(
        "The record conflicts with another one that was written at the same time"
        f" (a unique or related-record constraint): {detail}. Read it again and retry.",
        code=state,
    )


def run_batch(steps: Sequence[Step], *, mode: Mode, verb: str) -> list[dict[str, Any]]:
    """Run each step (a write answering its record) in its own savepoint inside one
    transaction; a step that is already an error (found while preparing) counts as failed."""
    results: list[dict[str, Any] | GatewayError] = []
    with transaction.atomic():
        for step in steps:
            if isinstance(step, GatewayError):
                result: dict[str, Any] | GatewayError = step
            else:
                try:
                    with transaction.atomic():
                        result = step()
                except GatewayError as exc:
                    result = exc
                except IntegrityError as exc:
                    result = integrity_error(exc)
            results.append(result)
            if isinstance(result, GatewayError):
                if mode == "rollback":
                    transaction.set_rollback(True)
                if mode != "continue":
                    break
    failed = [i for i, r in enumerate(results) if isinstance(r, GatewayError)]
    if not failed:
        return [r for r in results if isinstance(r, dict)]
    raise _batch_error(results, failed, mode=mode, verb=verb)


def _batch_error(
    results: list[dict[str, Any] | GatewayError], failed: list[int], *, mode: Mode, verb: str
) -> BatchError:
    message = f"Batch Error: Not all requested records could be {VERB_WORDS[verb]}."
    if mode == "rollback":
        message += " All changes rolled back."
    kept = [] if mode == "rollback" else results
    return BatchError(
        message,
        context={
            "error": failed,
            "resource": [r.as_dict() if isinstance(r, GatewayError) else r for r in results],
            "written": [i for i, r in enumerate(kept) if isinstance(r, dict)],
        },
    )
