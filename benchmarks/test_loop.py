"""Closed-loop speed (DESIGN §5): a round costs its new events, not the history.

* ``test_closed_loop_round_time[5|70]``: one round of a 100-round closed loop on the
  default world (1,000 accounts x 20,000 items, ~2.1M history events), timed at round
  index 5 and 70. The loop is driven round by round with
  :func:`~boostbench.simulate.closed_loop_rounds`; advancing it to the round before the
  timed one is setup (untimed, a fresh run for every timed round). By round 70 the log
  holds ~70 more rounds of events, so a per-round cost that grew with the history would
  show in ``extra_info["ratio_70_to_5"]`` (time of round 70 / time of round 5; ~1 is
  the goal) and in the per-event ratio ``ratio_70_to_5_per_event``. It runs for the
  bare ``like_count`` and for a defended pipeline (``like_count+require_view+lockstep``):
  inline defences weigh only the new events and the batch detector runs every 6 rounds,
  so a defended round should not grow with the history either. Its timed rounds are 5
  and 71, which both end on a 6-hour boundary and so both include a lockstep run.
  Lockstep reads a 72-hour look-back, which at round 5 holds mostly the open-loop
  history's acts and from round 72 on only the closed loop's (2.6 times denser here, see
  docs/validation.md), so 5 against 71 mixes the history's length with the window's
  filling. The third pair, ``[...lockstep-full-77|143]``, times rounds 77 and 143 of a 150-round
  loop (both with a lockstep run, both with a look-back of loop acts only): the history
  grows by 66 rounds between them and nothing else does.
* ``test_closed_loop_events_per_second``: a whole clean closed loop of the default
  scenario (48 rounds), with the events it appended per second next to the floor, one
  ``np.bincount`` pass over the item column of those same events
  (``extra_info["floor_ratio_mean"]`` = loop time / floor time).
"""

from __future__ import annotations

import timeit

import numpy as np
import pytest

import boostbench  # noqa: F401  (registers the built-ins)
from boostbench.plugins import RANKERS
from boostbench.rankers import build_ranker
from boostbench.runner import seed_streams
from boostbench.simulate import RunBase, closed_loop_rounds
from boostbench.world import make_world

from .conftest import FLOOR_REPEATS, SEED

LONG_ROUNDS = 100
TIMED_ROUNDS = (5, 70)
RANKER = "like_count"
DEFENDED = "like_count+require_view+lockstep"
#: (ranker, rounds timed, rounds in the loop) by pair name; defended rounds both include a
#: batch run; the "-full" pair's both read a look-back filled by the loop alone
ROUND_PAIRS = {RANKER: (RANKER, TIMED_ROUNDS, LONG_ROUNDS),
               DEFENDED: (DEFENDED, (5, 71), LONG_ROUNDS),
               f"{DEFENDED}-full": (DEFENDED, (77, 143), 150)}
_round_min_s: dict[tuple, float] = {}
_round_events: dict[tuple, int] = {}


@pytest.fixture(scope="module")
def long_base(scenario):
    """``long_base(rounds)``: the default scenario over ``rounds`` one-hour rounds, on a world
    drawn as ``run_seed`` draws it (each kept for the module's later tests)."""
    bases: dict[int, RunBase] = {}

    def get(rounds: int) -> RunBase:
        if rounds not in bases:
            sc = scenario.with_(name=f"default-{rounds}h", horizon_hours=rounds)
            world_rng, organic_rng = seed_streams(SEED)
            bases[rounds] = sc.run_base(make_world(sc.world_config(), world_rng), organic_rng)
        return bases[rounds]
    return get


def _advanced(base, ranker, r: int):
    """A fresh closed loop advanced to just before round ``r``."""
    run = closed_loop_rounds(base, ranker)
    for _ in range(r):
        next(run)
    return run


@pytest.mark.parametrize("pair, r", [(p, r) for p, (_, rounds, _) in ROUND_PAIRS.items()
                                     for r in rounds])
def test_closed_loop_round_time(benchmark, long_base, pair, r):
    spec, (first, _), n_rounds = ROUND_PAIRS[pair]
    base = long_base(n_rounds)
    ranker = build_ranker(spec)
    box = {}

    def setup():
        box["run"] = run = _advanced(base, ranker, r)
        return (run,), {}

    info = benchmark.pedantic(next, setup=setup, rounds=5, warmup_rounds=0, iterations=1)
    box["run"].close()
    assert info.round == r and info.n_events > 0
    extra = benchmark.extra_info
    extra.update(round=r, n_rounds=n_rounds, ranker=spec, n_events_round=info.n_events,
                 n_log_events=len(info.log), n_history_events=len(base.world.history))
    if benchmark.stats is None:
        return
    s = benchmark.stats.stats
    _round_min_s[pair, r], _round_events[pair, r] = s.min, info.n_events
    extra["s_per_round_min"] = s.min
    extra["s_per_event"] = s.min / info.n_events
    extra["events_per_s"] = info.n_events / s.min
    if r != first:
        if (pair, first) not in _round_min_s:  # run alone: time the early round (min of 5)
            def one():
                run = _advanced(base, ranker, first)
                t = timeit.default_timer()
                done = next(run)
                elapsed = timeit.default_timer() - t
                run.close()
                return elapsed, done.n_events
            runs = [one() for _ in range(5)]
            _round_min_s[pair, first] = min(x[0] for x in runs)
            _round_events[pair, first] = runs[0][1]
        extra[f"ratio_{r}_to_{first}"] = s.min / _round_min_s[pair, first]
        extra[f"ratio_{r}_to_{first}_per_event"] = (
            (s.min / info.n_events) / (_round_min_s[pair, first] / _round_events[pair, first]))


def test_closed_loop_events_per_second(benchmark, replay_base, scenario):
    ranker = RANKERS.get(RANKER)()
    box = {}

    def run_all():
        n = 0
        run = closed_loop_rounds(replay_base, ranker)
        try:
            while True:
                info = next(run)
                n += info.n_events
                box["log"] = info.log
        except StopIteration as done:
            box["n_events"] = n
            return done.value

    traj = benchmark.pedantic(run_all, rounds=3, warmup_rounds=0, iterations=1)
    assert traj.ranks.shape == (scenario.n_rounds, replay_base.n_items)
    n_events = box["n_events"]
    item = np.ascontiguousarray(box["log"].item[len(replay_base.world.history):])
    assert item.size == n_events
    n_items = replay_base.n_items
    np.bincount(item, minlength=n_items)  # warm up
    floor = min(timeit.repeat(lambda: np.bincount(item, minlength=n_items), number=1,
                              repeat=FLOOR_REPEATS))
    info = benchmark.extra_info
    info.update(n_events=n_events, n_rounds=scenario.n_rounds, ranker=RANKER, floor_s=floor,
                floor_events_per_s=n_events / floor)
    if benchmark.stats is not None:
        s = benchmark.stats.stats
        info["events_per_s"] = n_events / s.mean
        info["floor_ratio_mean"] = s.mean / floor
        info["floor_ratio_min"] = s.min / floor
        info["s_per_round"] = s.mean / scenario.n_rounds
