"""Process exit: run the registered exit callbacks, close every service pool, retire this
process's live metrics.

Runs once, from atexit and from multiprocessing's exit finalizers: granian's workers are
forked multiprocessing children, which end with os._exit and so skip atexit handlers. Never
raises; a no-op when no service was ever used.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from collections.abc import Callable
from multiprocessing import util as multiprocessing_util

log = logging.getLogger("gateway")

_lock = threading.Lock()
_done = False
_callbacks: list[Callable[[], None]] = []


def at_exit(callback: Callable[[], None]) -> None:
    """Run `callback` when this process ends, before the pools close (e.g. flush a buffer).

    Use this rather than atexit.register: under granian, atexit handlers never run.
    """
    if callback not in _callbacks:
        _callbacks.append(callback)


def on_exit() -> None:
    """The exit callbacks (newest first), then close the service pools, once."""
    global _done
    with _lock:
        if _done:
            return
        _done = True
    for callback in reversed(_callbacks):
        try:
            callback()
        except Exception:
            log.exception("exit callback %r failed", callback)
    registry_module = sys.modules.get("services.registry")
    if registry_module is not None:  # imported means Django set it up; else nothing is open
        registry = registry_module.registry
        try:
            count = len(registry.pool_stats())
            registry.close_all()  # each pool waits up to a second for its connections
        except Exception:
            log.exception("closing the service pools at exit failed")
        else:
            if count:
                log.info("closed the connection pools of %d service(s)", count)
    metrics = sys.modules.get("gateway.metrics")
    if metrics is not None:
        try:
            metrics.process_exited()
        except Exception:
            log.exception("retiring this process's metrics at exit failed")


def install() -> None:
    """Run on_exit() when this process ends (called from GatewayConfig.ready())."""
    atexit.register(on_exit)
    # A number as exitpriority makes it an exit finalizer; with no owner object (None) it
    # stays registered for the life of the process.
    multiprocessing_util.Finalize(None, on_exit, exitpriority=10)
