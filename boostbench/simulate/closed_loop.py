"""The closed loop: the ranking decides exposure, exposure drives organic engagement.

Each round: observation -> ranker -> feeds -> exposure -> organic events (with
herding on displayed like counts) -> the campaign's events -> append. Organic
decisions use counter-based uniforms keyed by the world, so a clean twin and an
attacked run share their organic randomness (common random numbers): the same
accounts open the same sessions, and an account shown the same item in the same
round decides the same way in both worlds.

Speed (DESIGN §5): a round costs its new events — observations share the run's
append-only buffers instead of copying them. With more than one CPU the loop uses
one helper thread (set ``BOOSTBENCH_THREADS=1`` to turn it off): it prepares the
next round's sessions, fills the feeds of half the accounts, answers half the
impressions and appends the log while the main thread does the rest. Every split
is along independent work (accounts, impressions) and is put back in the original
order, so results do not depend on the thread count.
"""

from __future__ import annotations

import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .._core.arrays import stable_argsort, pair_keys
from .._core.random import CounterUniforms
from ..attacks.base import Campaign
from ..behaviour import concat_responses, drop_repeat_likes
from ..errors import InvalidParameter
from ..events import EventKind, EventLog
from ..feed import FeedConfig, draw_feeds, plan_sessions
from ..observation import viewed_before
from ..rankers.base import rank_items, score_items, with_oracle
from .state import (RunBase, Trajectory, _campaign_log, _n_actions, _organic_counts, _State,
                    _trajectory, fake_accounts)

__all__ = ["closed_loop", "closed_loop_rounds", "RoundInfo"]


def _n_cpus() -> int:
    """CPUs the closed loop may use: ``BOOSTBENCH_THREADS`` if set (1 = no helper thread),
    else the CPUs this process may run on."""
    env = os.environ.get("BOOSTBENCH_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise InvalidParameter(f"BOOSTBENCH_THREADS must be a positive integer. Got {env!r}.",
                                   name="BOOSTBENCH_THREADS") from None
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_SPLIT_MIN = 20_000  # impressions worth answering in two halves on two threads


class _SessionPlans:
    """Each round's ranking-independent feed work (:func:`plan_sessions`: sessions,
    feed and examination uniforms, times), prepared one round ahead on a helper
    thread while the current round runs. Pure functions of (key, round, activity):
    the arrays are the same as computing them in line, only earlier."""

    def __init__(self, cfg: FeedConfig, key: int, round_times: np.ndarray, length: float,
                 activity: np.ndarray):
        self.cfg, self.key, self.round_times, self.length = cfg, key, round_times, length
        self.activity = activity
        self._pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="boostbench-feeds")
                      if _n_cpus() > 1 else None)
        self._next = None

    def _plan(self, r: int):
        end = self.round_times[r]
        return plan_sessions(self.cfg, key=self.key, round_index=r, start=end - self.length,
                             length=self.length, activity=self.activity)

    @property
    def executor(self):
        return self._pool

    def run(self, fn) -> Future:
        """``fn()`` on the helper thread, or here and now without one."""
        if self._pool is not None:
            return self._pool.submit(fn)
        done = Future()
        try:
            done.set_result(fn())
        except BaseException as e:  # re-raised by result(), as from the helper thread
            done.set_exception(e)
        return done

    def get(self, r: int):
        """Round ``r``'s plan: prepared in the background if :meth:`prefetch` asked for it."""
        nxt, self._next = self._next, None
        return nxt[1].result() if nxt is not None and nxt[0] == r else self._plan(r)

    def prefetch(self, r: int) -> None:
        """Start preparing round ``r``'s plan on the helper thread."""
        if self._pool is not None and r < len(self.round_times):
            self._next = (r, self._pool.submit(self._plan, r))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def respond(self, beh, a, i, t, key: int, r: int, displayed_likes, herding_ref: float):
        """Organic responses to this round's impressions; a large batch is answered in two
        halves, one on the helper thread (each impression is decided on its own, so
        :func:`concat_responses` of the halves is the response to the whole batch)."""
        def part(sl):
            return beh.respond(a[sl], i[sl], t[sl], CounterUniforms(key, a[sl], i[sl], r),
                               displayed_likes=displayed_likes[sl], herding_ref=herding_ref)

        if self._pool is None or a.size < _SPLIT_MIN:
            return part(slice(None))
        half = a.size // 2
        later = self._pool.submit(part, slice(half, None))
        first = part(slice(0, half))
        return concat_responses([first, later.result()])


def _herding_ref(counts: np.ndarray, eligible: np.ndarray) -> float:
    """Impression-weighted mean of log1p(like count) over eligible items: a typical displayed count."""
    imp = counts[eligible, EventKind.IMPRESSION]
    if imp.sum() == 0:
        return 0.0
    return float(np.average(np.log1p(counts[eligible, EventKind.LIKE]), weights=imp))


def closed_loop(base: RunBase, ranker, campaign: Campaign | None = None, *,
                feed: FeedConfig = FeedConfig(), key: int | None = None, seed: int = 0
                ) -> Trajectory:
    """Closed loop: the ranking decides exposure, exposure drives organic engagement.

    Parameters
    ----------
    base : RunBase
    ranker : Ranker
    campaign : Campaign or None
        Its events are delivered at their times; None gives the clean twin.
    feed : FeedConfig
    key : int, optional
        Key of the organic uniforms (default: the world's). Twins share it; a
        different key gives an independent twin (used to measure what pairing buys).
    """
    rounds = closed_loop_rounds(base, ranker, campaign, feed=feed, key=key, seed=seed)
    while True:
        try:
            next(rounds)
        except StopIteration as done:
            return done.value


@dataclass(frozen=True)
class RoundInfo:
    """What :func:`closed_loop_rounds` reports after each round."""

    round: int
    n_events: int       # events the round appended to the log (organic and campaign)
    log: EventLog       # the run's log so far (history first); read it, never append


def closed_loop_rounds(base: RunBase, ranker, campaign: Campaign | None = None, *,
                       feed: FeedConfig = FeedConfig(), key: int | None = None, seed: int = 0):
    """:func:`closed_loop` one round at a time (for benchmarks and progress reports).

    A generator: yields a :class:`RoundInfo` after each round and returns the
    :class:`Trajectory` (as ``StopIteration.value``); same arguments as :func:`closed_loop`.
    """
    world, plan = base.world, base.plan
    n_items = base.n_items
    key = world.seed if key is None else int(key)
    beh = world.behaviour
    n_org = len(world.accounts)
    # organic impressions the calibration expects over the horizon, and what they lead to
    # (about 1.45 events per impression), so the log is allocated once
    expected = 1.5 * float(world.truth.activity.sum()) * (base.end - world.t0) / 86400.0
    state = _State(base, campaign, expected_events=int(expected) + (
        0 if campaign is None else campaign.n_events))
    ranker = with_oracle(ranker, fake_accounts(n_org, len(state.accounts), campaign),
                         since=world.t0)
    seen = base.history_seen.copy()
    viewed = base.history_viewed.copy()
    liked = base.history_liked.copy()
    clog = _campaign_log(campaign, world.t0)
    c_t = clog.t
    c_cols = clog.columns()
    policy = None if campaign is None else campaign.policy
    extra_spend, extra_actions = {}, 0
    pending = None
    ranks = np.empty((plan.n_rounds, n_items), np.float32)
    exposure = np.empty((plan.n_rounds, n_items), np.float32)
    engagement = np.empty((plan.n_rounds, n_items), np.float32)
    obs = state.observation(world.t0)
    scores = score_items(ranker, obs)
    ref = _herding_ref(obs.counts(), obs.eligible)
    length = plan.round_length
    plans = _SessionPlans(feed, key, base.round_times, length, world.truth.activity)
    for r, end in enumerate(base.round_times):
        start = end - length
        counts = obs.counts()
        f = draw_feeds(feed, key=key, round_index=r, start=start, length=length, scores=scores,
                       eligible=obs.eligible, impressions=counts[:, EventKind.IMPRESSION],
                       item_topic=world.items.topic, account_topic=world.accounts.topic[:n_org],
                       activity=world.truth.activity, seen=seen, sessions=plans.get(r),
                       executor=plans.executor)
        a, i = f.account, f.item
        resp = plans.respond(beh, a, i, f.t, key, r, counts[i, EventKind.LIKE], ref)
        plans.prefetch(r + 1)  # the helper thread is free until the next round's feeds
        resp = drop_repeat_likes(resp, n_items, liked)
        lo, hi = np.searchsorted(c_t, [start, end], side="left")
        parts = [(resp.t, resp.account, resp.item, resp.kind, resp.value,
                  np.zeros(resp.t.size, bool)),
                 (*(c[lo:hi] for c in c_cols), np.ones(hi - lo, bool))]
        if policy is not None:
            cols_p, spend_p = policy(obs, start, end)
            cols_p = [np.asarray(c, dt) for c, dt in zip(
                cols_p, (np.float64, np.int64, np.int64, np.int8, np.float64))]
            if cols_p[0].size and (cols_p[0].min() < start or cols_p[0].max() >= end):
                raise InvalidParameter("A campaign policy must return events inside its round "
                                       f"[{start}, {end}).", name="policy")
            for unit, v in spend_p.items():
                extra_spend[unit] = extra_spend.get(unit, 0.0) + float(v)
            if campaign.spend_total + sum(extra_spend.values()) > campaign.budget * (1 + 1e-12):
                raise InvalidParameter(f"Campaign {campaign.attack!r} overspent its budget "
                                       f"{campaign.budget} in round {r}.", name="budget")
            extra_actions += _n_actions(cols_p[3], cols_p[0], base.end)
            parts.append((*cols_p, np.ones(cols_p[0].size, bool)))
        if pending is not None:
            parts.insert(0, pending)
        cols = [np.concatenate(x) for x in zip(*parts)]
        order = stable_argsort(cols[0])
        cols = [c[order] for c in cols]
        n_now = int(np.searchsorted(cols[0], end, side="left"))  # sorted: t < end is a prefix
        pending = tuple(c[n_now:] for c in cols)
        t, acc, itm, kind, val, fake = (c[:n_now] for c in cols)
        keys = pair_keys(acc, itm, n_items)
        new = (t, acc, itm, kind, val)

        def side_work():
            """What does not need the viewed-before flags (on the helper thread if any)."""
            n0 = state.append_log(new, fake)
            liked.add(keys[kind == EventKind.LIKE])
            exposure[r], engagement[r] = _organic_counts(itm, kind, fake, n_items)
            return n0

        side = plans.run(side_work)
        vb = viewed.contains(keys)                 # viewed in an earlier round
        viewed.add(keys[kind == EventKind.VIEW])
        # only pairs first viewed in this round need the within-round answer, and all
        # of their events (every VIEW among them) are in this subset, in log order
        fresh = np.flatnonzero(~vb & viewed.contains(keys))
        if fresh.size:
            vb[fresh] = viewed_before(acc[fresh], itm[fresh], kind[fresh], n_items)
        n0 = side.result()
        state.append_flags(new, vb, n0)
        obs = state.observation(end)
        scores = score_items(ranker, obs)
        ranks[r] = rank_items(scores, obs.eligible)
        yield RoundInfo(r, int(t.size), state.log)
    plans.close()
    return _trajectory(base, ranker, campaign, ranks, exposure, engagement, "closed", seed,
                       reactive=(extra_spend, extra_actions),
                       defence=state.defence_record(ranker, obs, campaign))
