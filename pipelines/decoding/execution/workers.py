"""Long-lived worker processes (spawn) fed through one pipe each, results taken in order.

`concurrent.futures.ProcessPoolExecutor` runs two helper threads in the parent (a feeder
and a result manager) that hand every task and result across with a thread switch; on
a two-core machine that parent overhead (measured: ~0.5 ms of CPU per task) competes with
the workers themselves. Here the parent's own thread sends each call down a worker's
pipe and reads the answer when it needs it: no threads, no extra copies.

A worker has at most `depth` calls queued; the next call goes to whichever worker
answers first, so a worker slowed by a noisy neighbour simply gets fewer.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import traceback
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from pipelines.decoding.execution.memory import reuse_freed_memory


class WorkerCrashedError(RuntimeError):
    """A worker process died (killed, out of memory) while it had work."""


def _serve(conn: Connection) -> None:
    """A worker's loop: run each (function, args) the parent sends, until it sends None."""
    reuse_freed_memory()
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        fn, args = task
        try:
            answer = (True, fn(*args))
        except BaseException as exc:
            answer = (False, exc)
        try:
            conn.send(answer)
        except Exception as exc:
            detail = "".join(traceback.format_exception(answer[1])) if not answer[0] else ""
            conn.send((False, RuntimeError(f"worker could not return its answer: {exc}\n{detail}")))


class WorkerProcesses:
    """`count` spawned processes that stay up until `close()`."""

    def __init__(self, count: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns: list[Connection] = []
        self.processes: list[multiprocessing.process.BaseProcess] = []
        for _ in range(count):
            here, there = ctx.Pipe()
            process = ctx.Process(target=_serve, args=(there,), daemon=True)
            process.start()
            there.close()
            self.conns.append(here)
            self.processes.append(process)

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for process in self.processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join()
        for conn in self.conns:
            conn.close()


class InOrder:
    """Calls submitted in order, run on the workers, answers taken back in the same order.

    One instance per stream of work; the caller bounds how many calls it has submitted
    and not yet taken (that is its memory window)."""

    def __init__(self, workers: WorkerProcesses, depth: int = 2) -> None:
        self._workers = workers
        self._depth = depth
        self._backlog: deque[tuple[int, Callable[..., Any], tuple]] = deque()
        self._pending: list[deque[int]] = [deque() for _ in workers.conns]
        self._answers: dict[int, tuple[bool, Any]] = {}
        self._submitted = 0
        self._taken = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        self._backlog.append((self._submitted, fn, args))
        self._submitted += 1
        self._dispatch()

    def outstanding(self) -> int:
        return self._submitted - self._taken

    def take(self) -> Any:
        """The answer to the oldest call not yet taken (its exception is raised here)."""
        if self._taken >= self._submitted:
            raise IndexError("no call is outstanding")
        while self._taken not in self._answers:
            self._receive()
        ok, value = self._answers.pop(self._taken)
        self._taken += 1
        if not ok:
            raise value
        return value

    def drain(self) -> list[Any]:
        """Wait for the calls already running and drop the rest; their answers that
        succeeded are returned (so their resources can be released)."""
        self._backlog.clear()
        while any(self._pending):
            self._receive()
        done = [value for ok, value in self._answers.values() if ok]
        self._answers.clear()
        self._taken = self._submitted
        return done

    def _dispatch(self) -> None:
        while self._backlog:
            idle = [w for w, queue in enumerate(self._pending) if len(queue) < self._depth]
            if not idle:
                return
            w = min(idle, key=lambda i: len(self._pending[i]))
            number, fn, args = self._backlog.popleft()
            self._workers.conns[w].send((fn, args))
            self._pending[w].append(number)

    def _receive(self) -> None:
        busy = [self._workers.conns[w] for w, queue in enumerate(self._pending) if queue]
        for conn in wait(busy):
            w = self._workers.conns.index(conn)  # type: ignore[arg-type]
            try:
                answer = conn.recv()  # type: ignore[union-attr]
            except (EOFError, OSError) as exc:
                process = self._workers.processes[w]
                process.join(timeout=1)
                raise WorkerCrashedError(
                    f"decoder worker process {process.pid} exited "
                    f"(code {process.exitcode}) while decoding"
                ) from exc
            self._answers[self._pending[w].popleft()] = answer
        self._dispatch()
