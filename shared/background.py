"""A small bounded executor a service owns for long work it has acknowledged (202).

The service creates it in its startup hook and shuts it down on shutdown. Work is keyed:
a key already queued or running is not queued twice (the work itself must be safe to run
again anyway: a crash loses the queue). Tests wait for it to be empty with
:meth:`BackgroundRunner.wait_idle` (``Stack.deliver`` does), so the background path is
the one under test.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class BackgroundRunner:
    def __init__(self, name: str, workers: int = 2) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._cond = threading.Condition()
        self._active: set[Hashable] = set()
        self._closed = False

    def submit(self, key: Hashable, fn: Callable[[], object]) -> bool:
        """Queue ``fn`` unless work for ``key`` is already queued or running; whether
        it was queued."""
        with self._cond:
            if self._closed:
                raise RuntimeError("the background runner is shut down")
            if key in self._active:
                return False
            self._active.add(key)
        try:
            # In the submitter's context: the work's log lines and the events it queues
            # keep the request id of the request that asked for it.
            self._pool.submit(contextvars.copy_context().run, self._run, key, fn)
        except BaseException:
            self._done(key)
            raise
        return True

    def _run(self, key: Hashable, fn: Callable[[], object]) -> None:
        try:
            fn()
        except Exception:
            log.exception("background work %r failed", key)
        finally:
            self._done(key)

    def _done(self, key: Hashable) -> None:
        with self._cond:
            self._active.discard(key)
            self._cond.notify_all()

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._active)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued or running; False if ``timeout`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._active, timeout)

    def shutdown(self, wait: bool = True) -> None:
        with self._cond:
            self._closed = True
        self._pool.shutdown(wait=wait, cancel_futures=True)
