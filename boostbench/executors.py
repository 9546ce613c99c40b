"""Where the seeds of a matrix run: in this process, in a local process pool, or on Dask.

Each seed is one task (its world is built where the task runs), and every seed has its own
random streams, so the records are the same whatever the executor — given the same numpy on
every worker (:func:`dask_versions` reports theirs for the manifest). The adaptive search's
evaluations go the same ways, a batch at a time (:func:`mapper`).
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from functools import partial

from ._core.machine import usable_cpus
from .errors import UsageError
from .progress import bar

__all__ = ["pool", "map_seeds", "seed_parts", "mapper", "dask_client", "dask_versions",
           "unpicklable"]

_NEED_DASK = 'distributed runs need dask: pip install "boostbench[dask]"'
#: How long to try reaching a scheduler before giving up (distributed's timeout string).
CONNECT_TIMEOUT = "20s"


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C and SIGTERM (sent to the whole process group) to the parent,
    which stops them (no traceback per worker, no race with the parent's own handling)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _init_worker(threads: int) -> None:
    """A worker: signals left to the parent (:func:`_ignore_sigint`), and its share of the
    CPUs as the closed loop's thread budget (``BOOSTBENCH_THREADS``, unless the user set it):
    a loop's helper thread on a core another worker is using costs more than it saves
    (the default run on 2 cores: 95 s with helpers, 85 s without)."""
    _ignore_sigint()
    os.environ.setdefault("BOOSTBENCH_THREADS", str(threads))


@contextmanager
def pool(workers: int):
    """A process pool whose workers ignore Ctrl-C and share the CPUs (:func:`_init_worker`);
    if the parent is interrupted (or fails) the pending work is cancelled and the workers
    are killed at once, not waited for."""
    ex = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(max(1, usable_cpus() // max(int(workers), 1)),))
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
              per_seed=1, desc: str = "cells") -> list:
    """``fn(seed, tick=...)`` for every seed, results in seed order.

    Serially when ``jobs`` is 1 (or there is one seed), in a local process pool of
    ``jobs`` workers, or — with ``scheduler`` — as one Dask task per seed, results
    streaming back as they finish. ``progress`` draws ``per_seed`` units per seed (one
    number, or one per seed; ticked by ``fn`` locally, per finished seed on Dask).
    """
    seeds = list(seeds)
    units = list(per_seed) if isinstance(per_seed, (list, tuple)) else [per_seed] * len(seeds)
    total = sum(units)
    if scheduler is not None and _picklable(fn, f"the {len(seeds)} seeds", scheduler):
        from distributed import as_completed
        with dask_client(scheduler) as client, bar(total, desc, enabled=progress) as tick:
            futures = client.map(partial(fn, tick=None), seeds, pure=False)
            done = {f.key: u for f, u in zip(futures, units)}
            for f in as_completed(futures):
                f.result()                 # a failed task raises here, at once
                if tick is not None:
                    tick(done[f.key])
            return client.gather(futures)
    serial = (scheduler is not None or jobs == 1 or len(seeds) == 1
              or not _picklable(fn, f"the {len(seeds)} seeds"))
    with bar(total, desc, enabled=progress, processes=not serial) as tick:
        if serial:
            return [fn(s, tick=tick) for s in seeds]
        with pool(min(jobs, len(seeds))) as ex:
            return list(ex.map(partial(fn, tick=tick), seeds))


def seed_parts(seeds, rankers, workers: int) -> list[tuple[int, int, tuple[int, ...]]]:
    """How a run's seeds go to ``workers`` processes: ``[(position, seed, ranker indices)]``,
    ``position`` being the seed's place in ``seeds``.

    Whole seeds while at least ``workers`` are left (a part draws its seed's world, so a
    whole seed draws it once); each of the last ``len(seeds) % workers`` seeds is split into
    ``workers // that many`` parts of whole ranker families — a scorer with its defended
    variants, whose clean twins carry the bare scorer's run — balanced by their number of
    rankers (largest first, each to the lightest part), so no worker sits idle while the
    last seed runs alone (5 seeds on 2 workers: three rounds of whole seeds left one worker
    idle a third of the time). Records do not depend on the split: every run's randomness
    is its seed's.
    """
    seeds = list(seeds)
    every = tuple(range(len(rankers)))
    n_split = len(seeds) % workers if workers > 1 else 0
    n_whole = len(seeds) - n_split
    out = [(pos, s, every) for pos, s in enumerate(seeds[:n_whole])]
    for pos in range(n_whole, len(seeds)):
        bins: list[list[int]] = [[] for _ in range(max(1, workers // n_split))]
        for fam in sorted(_families(rankers), key=len, reverse=True):
            min(bins, key=len).extend(fam)
        out += [(pos, seeds[pos], tuple(sorted(b))) for b in bins if b]
    return out


def _families(rankers) -> list[tuple[int, ...]]:
    """Indices of ``rankers`` grouped by bare scorer (a defended ranker joins its scorer's
    group when the scorer is in the list), groups in the order of their first member."""
    key = [(r.name, repr(r)) for r in rankers]
    groups: dict = {}
    for j, r in enumerate(rankers):
        scorer = getattr(r, "scorer", None)
        k = key[j] if scorer is None else (scorer.name, repr(scorer))
        groups.setdefault(k if k in key else key[j], []).append(j)
    return [tuple(g) for g in groups.values()]


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
