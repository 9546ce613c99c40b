"""Progress on stderr for long commands: cells done of the total, elapsed and estimated time.

Drawn with ``tqdm`` on standard error, only when it is a terminal and ``--quiet`` is not
given, so it never mixes into the tables on standard output or into a CI log. Work in
other processes reports through a queue the parent drains; results never depend on it.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
from contextlib import contextmanager

__all__ = ["wanted", "bar", "Ticker"]


def wanted(quiet: bool = False, stream=None) -> bool:
    """Draw progress? Not when ``quiet``, and only on a terminal."""
    stream = sys.stderr if stream is None else stream
    return not quiet and bool(getattr(stream, "isatty", lambda: False)())


class Ticker:
    """A picklable ``tick(n=1)`` for worker processes: puts ``n`` on a managed queue."""

    def __init__(self, queue):
        self.queue = queue

    def __call__(self, n: int = 1) -> None:
        self.queue.put(n)


@contextmanager
def bar(total: int | None, desc: str, *, enabled: bool, processes: bool = False, file=None,
        leave: bool = False):
    """A progress bar as a ``tick(n=1)`` callable (None when not ``enabled``).

    Parameters
    ----------
    total : int or None
        Units of work (None: unknown, the bar counts and shows a rate).
    desc : str
        What is counted ("cells", "evaluations vs like_count", ...).
    enabled : bool
        :func:`wanted`'s answer; False yields None and costs nothing.
    processes : bool
        The ticks come from worker processes: yield a picklable :class:`Ticker` whose
        queue a thread of this process drains into the bar.
    file : text stream, optional
        Where to draw (default standard error).
    leave : bool
        Keep the finished bar on screen (default: erase it, the table follows).
    """
    if not enabled:
        yield None
        return
    from tqdm import tqdm
    pbar = tqdm(total=total, desc=desc, unit="", file=sys.stderr if file is None else file,
                leave=leave, dynamic_ncols=True, mininterval=0.5)
    try:
        if not processes:
            yield pbar.update
            return
        manager = multiprocessing.Manager()
        queue = manager.Queue()

        def drain():
            while (n := queue.get()) is not None:
                pbar.update(n)
        thread = threading.Thread(target=drain, daemon=True)
        thread.start()
        try:
            yield Ticker(queue)
        finally:
            queue.put(None)
            thread.join()
            manager.shutdown()
    finally:
        pbar.close()
