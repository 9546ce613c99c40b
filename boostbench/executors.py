"""Where the seeds of a matrix run: in this process, in a local process pool, or on Dask.

Each seed is one task (its world is built where the task runs), and every seed has its own
random streams, so the records are the same whatever the executor — given the same numpy on
every worker (:func:`dask_versions` reports theirs for the manifest). The adaptive search's
evaluations go the same ways, a batch at a time (:func:`mapper`).
"""

from __future__ import annotations

import pickle
import signal
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import partial

from .errors import UsageError
from .progress import bar

__all__ = ["pool", "map_seeds", "mapper", "dask_client", "dask_versions", "unpicklable"]

_NEED_DASK = 'distributed runs need dask: pip install "boostbench[dask]"'
#: How long to try reaching a scheduler before giving up (distributed's timeout string).
CONNECT_TIMEOUT = "20s"


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C and SIGTERM (sent to the whole process group) to the parent,
    which stops them (no traceback per worker, no race with the parent's own handling)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@contextmanager
def pool(workers: int):
    """A process pool whose workers ignore Ctrl-C; if the parent is interrupted (or fails)
    the pending work is cancelled and the workers are killed at once, not waited for."""
    ex = ProcessPoolExecutor(max_workers=workers, initializer=_ignore_sigint)
    try:
        yield ex
    except BaseException:
        procs = list(getattr(ex, "_processes", {}).values())
        ex.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            p.kill()                  # they ignore SIGINT and SIGTERM (see _ignore_sigint)
        raise
    ex.shutdown(wait=True)


@contextmanager
def dask_client(scheduler):
    """A ``distributed.Client`` for ``scheduler``: an address (``tcp://host:8786``), which
    is connected to and closed afterwards, or a Client, used as it is and left open."""
    try:
        import distributed
    except ImportError:
        raise UsageError(f"--scheduler: {_NEED_DASK}.") from None
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as e:
        raise UsageError(f"--scheduler: cannot reach a Dask scheduler at {scheduler!r} "
                         f"({type(e).__name__}: {e}).") from None
    try:
        yield client
    finally:
        client.close()


def dask_versions(client) -> dict:
    """Python, numpy and boostbench versions of the client, scheduler and every worker."""
    v = client.get_versions(packages=["numpy", "boostbench"])
    pick = lambda d: {k: d.get("packages", {}).get(k) for k in ("python", "numpy",
                                                                  "boostbench")}
    return {"client": pick(v.get("client", {})), "scheduler": pick(v.get("scheduler", {})),
            "workers": {w: pick(d) for w, d in sorted(v.get("workers", {}).items())}}


def unpicklable(fn) -> str | None:
    """Why ``fn`` (a seed function, usually a partial over a spec) cannot be pickled for a
    worker process — naming the ranker or attack at fault when it can — or None."""
    try:
        pickle.dumps(fn)
        return None
    except Exception as e:                # pickling raises many types; all mean "cannot"
        err = f"{type(e).__name__}: {e}"
    parts = [*getattr(fn, "args", ()), *getattr(fn, "keywords", {}).values()]
    for spec in parts:
        for family in ("rankers", "attacks"):
            for obj in getattr(spec, family, ()) or ():
                try:
                    pickle.dumps(obj)
                except Exception as e:
                    return (f"{family[:-1]} {getattr(obj, 'name', obj)!r} cannot be pickled "
                            f"({type(e).__name__}: {e})")
    return f"the run cannot be pickled ({err})"


def _picklable(fn, what: str, scheduler=None) -> bool:
    """Can ``fn`` go to worker processes (Dask workers with ``scheduler``)? If not, say why
    on standard error (one line) and that ``what`` runs in this process instead."""
    why = unpicklable(fn)
    if why is not None:
        where, hint = (("Dask workers", "--scheduler") if scheduler is not None else
                       ("worker processes", "--jobs; --jobs 1 silences this note"))
        print(f"boostbench: note: {why}, so it cannot be sent to {where}; running {what} in "
              f"this process instead (define it at the top level of a module to use {hint}).",
              file=sys.stderr)
    return why is None


def map_seeds(fn, seeds, *, jobs: int = 1, scheduler=None, progress: bool = False,
              per_seed: int = 1, desc: str = "cells") -> list:
    """``fn(seed, tick=...)`` for every seed, results in seed order.

    Serially when ``jobs`` is 1 (or there is one seed), in a local process pool of
    ``jobs`` workers, or — with ``scheduler`` — as one Dask task per seed, results
    streaming back as they finish. ``progress`` draws ``per_seed`` units per seed
    (ticked by ``fn`` locally; per finished seed on Dask).
    """
    seeds = list(seeds)
    total = len(seeds) * per_seed
    if scheduler is not None and _picklable(fn, f"the {len(seeds)} seeds", scheduler):
        from distributed import as_completed
        with dask_client(scheduler) as client, bar(total, desc, enabled=progress) as tick:
            futures = client.map(partial(fn, tick=None), seeds, pure=False)
            for f in as_completed(futures):
                f.result()                 # a failed task raises here, at once
                if tick is not None:
                    tick(per_seed)
            return client.gather(futures)
    serial = (scheduler is not None or jobs == 1 or len(seeds) == 1
              or not _picklable(fn, f"the {len(seeds)} seeds"))
    with bar(total, desc, enabled=progress, processes=not serial) as tick:
        if serial:
            return [fn(s, tick=tick) for s in seeds]
        with pool(min(jobs, len(seeds))) as ex:
            return list(ex.map(partial(fn, tick=tick), seeds))


#: Per worker process, the ``memo`` of each open :func:`mapper` (by its key).
_MEMOS: dict = {}


def _call_with_memo(key: str, fn, args: tuple):
    return fn(*args, memo=_MEMOS.setdefault(key, {}))


def _forget_memo(key: str) -> None:
    _MEMOS.pop(key, None)


@contextmanager
def mapper(fn, *, jobs: int = 1, scheduler=None, what: str = "the evaluations"):
    """A ``run(calls, tick=None)`` that returns ``[fn(*args, memo=memo) for args in calls]``,
    in order, over one executor kept open for the ``with`` block.

    Serially when ``jobs`` is 1, in a local process pool of ``jobs`` workers, or as one Dask
    task per call with ``scheduler``; ``fn`` that cannot be pickled runs here (with a
    one-line note naming ``what``). ``memo`` is a dict each process (each Dask worker) keeps
    for the whole block, for state the calls share there (a seed's world, say): ``fn``'s
    results must not depend on it. ``tick`` (progress) is called here once per finished call.
    """
    memo: dict = {}

    def serial(calls, tick=None):
        out = []
        for args in calls:
            out.append(fn(*args, memo=memo))
            if tick is not None:
                tick(1)
        return out
    if (jobs == 1 and scheduler is None) or not _picklable(fn, what, scheduler):
        yield serial
        return
    key = uuid.uuid4().hex

    def gather(futures, wait, tick):
        for f in wait(futures):
            f.result()                 # a failed call raises here, at once
            if tick is not None:
                tick(1)
        return [f.result() for f in futures]
    if scheduler is not None:
        from distributed import as_completed as dask_completed
        with dask_client(scheduler) as client:
            try:
                yield lambda calls, tick=None: gather(
                    [client.submit(_call_with_memo, key, fn, args, pure=False)
                     for args in calls], dask_completed, tick)
            finally:
                client.run(_forget_memo, key)
        return
    with pool(jobs) as ex:
        yield lambda calls, tick=None: gather(
            [ex.submit(_call_with_memo, key, fn, args) for args in calls], as_completed, tick)
