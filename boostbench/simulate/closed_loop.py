"""The closed loop: the ranking decides exposure, exposure drives organic engagement.

Each round: observation -> ranker -> feeds (:mod:`boostbench.feed`) -> exposure ->
organic events (with herding on displayed like counts) -> the links circle members'
shares bring their friends -> the campaign's events -> append. Organic decisions
use counter-based uniforms keyed by the world (one hash per impression), so a clean
twin and an attacked run share their organic randomness (common random numbers):
the same accounts are active and open the same sessions, and an account shown the
same item in the same round decides the same way in both worlds.

Speed: a round costs its new events — observations share the run's append-only
buffers instead of copying them. With more than one CPU the loop uses one helper
thread (set ``BOOSTBENCH_THREADS=1`` to turn it off): it prepares the next round's
sessions, answers half the impressions and appends the log while the main thread
does the rest. Every split is along independent work and is put back in the
original order, so results do not depend on the thread count.
"""

from __future__ import annotations

import copy
import os
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import numpy as np

from .._core.arrays import distinct, pair_keys, stable_argsort
from .._core.machine import usable_cpus
from .._core.random import STREAMS, ImpressionUniforms
from ..attacks.base import Campaign
from ..behaviour import Response, concat_responses, drop_repeat_likes
from ..errors import InvalidParameter
from ..events import EventKind, EventLog
from ..feed import (FeedConfig, draw_feeds, feed_for, global_hits, personal_pools,
                    ranked_order)
from ..observation import viewed_before
from ..population import (fan_impressions, link_impressions, round_sessions,
                          unseen_openings)
from ..rankers.base import rank_items, score_items, score_pairs, with_oracle
from .state import (RunBase, Trajectory, _campaign_log, _n_actions, _organic_counts, _State,
                    Mirroring, history_tail, mirrors,
                    _trajectory, fake_accounts)

__all__ = ["closed_loop", "closed_loop_rounds", "RoundInfo"]

_S_IMPRESSION, _S_LINK, _S_FAN = STREAMS.claim_block("world", "impression", 400,
                                                     ("feed", "link", "fan"))


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
    return usable_cpus()


_SPLIT_MIN = 20_000  # impressions worth answering in two halves on two threads


class _Helper:
    """The loop's helper thread: it prepares each round's sessions one round ahead (pure
    functions of the key, the round and who is active, so the arrays are the same as
    computing them in line) and takes half of the work that splits."""

    def __init__(self, base: RunBase, feed: FeedConfig, key: int):
        w = base.world
        self.world, self.feed, self.key = w, feed, key
        # plans do not depend on the ranking: every run of this base (clean twins, attacked
        # runs, other rankers) shares them
        self._cache = base.shared.setdefault(("session plans", feed, key), {})
        self.round_times, self.length = base.round_times, base.plan.round_length
        self.rows = np.flatnonzero(w.truth.activity > 0)
        self.quota, self.fresh = feed_for(feed, w)
        self._pool = (ThreadPoolExecutor(max_workers=1, thread_name_prefix="boostbench-loop")
                      if _n_cpus() > 1 else None)
        self._next = None

    def _plan(self, r: int):
        if r not in self._cache:
            self._cache[r] = self._make_plan(r)
        return self._cache[r]

    def _make_plan(self, r: int):
        return round_sessions(self.world, self.feed, self.rows, r,
                              self.round_times[r] - self.length, self.length,
                              active_key=self.key, session_key=self.key,
                              fresh_share=self.fresh)

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

    def plan(self, r: int):
        """Round ``r``'s sessions: prepared in the background if :meth:`prefetch` asked."""
        nxt, self._next = self._next, None
        return nxt[1].result() if nxt is not None and nxt[0] == r else self._plan(r)

    def prefetch(self, r: int) -> None:
        if self._pool is not None and r < len(self.round_times):
            self._next = (r, self._pool.submit(self._plan, r))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def respond(self, beh, a, i, t, stream: int, r: int, displayed_likes, herding_ref: float,
                social: bool = False, fan: bool = False):
        """Organic responses to impressions; a large batch is answered in two halves, one
        on the helper thread (each impression is decided on its own, so
        :func:`concat_responses` of the halves is the response to the whole batch)."""
        def part(sl):
            return beh.respond(a[sl], i[sl], t[sl],
                               ImpressionUniforms(self.key, stream, a[sl], i[sl], r),
                               displayed_likes=displayed_likes[sl], herding_ref=herding_ref,
                               social=social, fan=fan)

        if self._pool is None or a.size < _SPLIT_MIN:
            return part(slice(None))
        half = a.size // 2
        later = self._pool.submit(part, slice(half, None))
        first = part(slice(0, half))
        return concat_responses([first, later.result()])


def closed_loop(base: RunBase, ranker, campaign: Campaign | None = None, *,
                feed: FeedConfig = FeedConfig(), key: int | None = None, seed: int = 0,
                on_traffic=None) -> Trajectory:
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
    on_traffic : callable, optional
        Called once at the end with the run's labelled traffic
        (:meth:`~boostbench.simulate.state._State.traffic`).
    """
    rounds = closed_loop_rounds(base, ranker, campaign, feed=feed, key=key, seed=seed,
                                on_traffic=on_traffic)
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


def _links(world, helper, beh, resp, r, seen, n_items, likes, ref):
    """The circle links the round's organic shares cause, answered (friends open the item)."""
    share = resp.kind == EventKind.SHARE
    if not share.any():
        return None
    opened = link_impressions(world, resp.t[share], resp.account[share], resp.item[share])
    return _answer_unseen(opened, helper, beh, _S_LINK, r, seen, n_items, likes, ref)


def _fans(world, helper, beh, start, end, r, seen, n_items, likes, ref):
    """Fans opening their creator's posts in the round, answered (none without fan groups)."""
    return _answer_unseen(fan_impressions(world, start, end), helper, beh, _S_FAN, r, seen,
                          n_items, likes, ref, fan=True)


def _answer_unseen(opened, helper, beh, stream, r, seen, n_items, likes, ref, fan=False):
    """Impressions ``(account, item, t)`` that reached an account outside the feed (a
    friend's link, a notification), answered — but for items the account has seen, which it
    skips (nobody is shown an item twice); None when none is left."""
    new = unseen_openings(opened, seen, n_items)
    if new is None:
        return None
    a, i, t = new
    return helper.respond(beh, a, i, t, stream, r, likes[i], ref, social=True, fan=fan)


def _fresh_scores(ranker, obs) -> np.ndarray:
    """A query attacker's what-if: ``obs`` scored by a copy of ``ranker``, so the ranker's
    per-run state (a pipeline's bans, a model's cache) never sees a what-if."""
    return score_items(copy.deepcopy(ranker), obs)


def closed_loop_rounds(base: RunBase, ranker, campaign: Campaign | None = None, *,
                       feed: FeedConfig = FeedConfig(), key: int | None = None, seed: int = 0,
                       on_traffic=None):
    """:func:`closed_loop` one round at a time (for benchmarks and progress reports).

    A generator: yields a :class:`RoundInfo` after each round and returns the
    :class:`Trajectory` (as ``StopIteration.value``); same arguments as :func:`closed_loop`.
    """
    world, plan = base.world, base.plan
    n_items = base.n_items
    key = world.seed if key is None else int(key)
    beh = world.behaviour
    campaign = base.place(campaign)
    # organic impressions the calibration expects over the horizon, and what they lead to
    # (about 1.45 events per impression), so the log is allocated once
    expected = (1.5 * world.config.stickiness * float(world.truth.activity.sum())
                * (base.end - world.t0) / 86400.0)
    state = _State(base, campaign, expected_events=int(expected) + (
        0 if campaign is None else campaign.n_events))
    ranker = with_oracle(ranker, fake_accounts(len(state.accounts), campaign), since=world.t0,
                         quality=world.truth.quality)
    seen = base.history_seen.copy()
    viewed = base.history_viewed.copy()
    liked = base.history_liked.copy()
    clog = _campaign_log(campaign, world.t0)
    c_t = clog.t
    c_cols = clog.columns()
    policy = None if campaign is None else campaign.policy
    mirroring = Mirroring(world, campaign, key) if mirrors(campaign) else None
    # substitutes of the first round's first hour come from the history's last
    mirrored_before = history_tail(world, campaign.life.candidate_hours) if mirroring else None
    mirrored_items = []
    extra_spend, extra_actions, extra_aimed = {}, 0, 0
    pending = None
    ranks = np.empty((plan.n_rounds, n_items), np.float32)
    exposure = np.empty((plan.n_rounds, n_items), np.float32)
    engagement = np.empty((plan.n_rounds, n_items), np.float32)
    targets = base.targets if campaign is None else campaign.targets
    hits = np.empty((plan.n_rounds, len(targets)), np.float32)
    personalised = hasattr(ranker, "score_pairs")
    obs = state.observation(world.t0)
    scores = score_items(ranker, obs)
    order = ranked_order(scores, obs.eligible)    # one sort per round: the feed and the ranks
    ref = base.herding_ref
    length = plan.round_length
    helper = _Helper(base, feed, key)
    n_topics = int(world.items.topic.max()) + 1
    # feed-served impressions so far: what the cold-start quota counts (a campaign opening
    # a post by link is not the platform distributing it)
    served = base.history_aggs["counts"][:, EventKind.IMPRESSION].copy()
    for r, end in enumerate(base.round_times):
        start = end - length
        counts = obs.counts()
        likes = counts[:, EventKind.LIKE]
        sessions = helper.plan(r)
        pools = None
        if personalised:
            pools = personal_pools(feed, sessions, obs.eligible,
                                   lambda a, i: score_pairs(ranker, obs, a, i, scores))
            hits[r] = pools.hits(targets, plan.k)
        else:
            hits[r] = global_hits(scores, obs.eligible, targets, plan.k, feed.candidates)
        f = draw_feeds(feed, sessions, scores=scores, eligible=obs.eligible,
                       impressions=served, item_topic=world.items.topic,
                       account_topic=world.accounts.topic, seen=seen, n_topics=n_topics,
                       quota=helper.quota, personal=pools, order=order)
        resp = helper.respond(beh, f.account, f.item, f.t, _S_IMPRESSION, r, likes[f.item], ref)
        helper.prefetch(r + 1)  # the helper thread is free until the next round's feeds
        extra = [x for x in (_links(world, helper, beh, resp, r, seen, n_items, likes, ref),
                             _fans(world, helper, beh, start, end, r, seen, n_items, likes, ref))
                 if x is not None]
        if extra:
            resp = concat_responses([resp, *extra])
        resp = drop_repeat_likes(resp, n_items, liked)
        lo, hi = np.searchsorted(c_t, [start, end], side="left")
        parts = [(resp.t, resp.account, resp.item, resp.kind, resp.value,
                  np.zeros(resp.t.size, bool)),
                 (*(c[lo:hi] for c in c_cols), np.ones(hi - lo, bool))]
        if mirroring:     # aged bots live their templates' lives as these unfold
            cols_m = mirroring.events(resp_cols := (
                resp.t, resp.account, resp.item, resp.kind, resp.value), mirrored_before)
            mirrored_before = resp_cols
            m = drop_repeat_likes(Response(*cols_m), n_items, liked)  # met in an earlier round
            cols_m = (m.t, m.account, m.item, m.kind, m.value)
            n_all, n_aimed = _n_actions(cols_m[3], cols_m[0], base.end, cols_m[2],
                                        campaign.targets)
            extra_actions += n_all
            extra_aimed += n_aimed
            mirrored_items.append(distinct(cols_m[2]))
            parts.append((*cols_m, np.ones(cols_m[0].size, bool)))
        if policy is not None:
            # a query attacker (``queries_ranker``) may also score what-if copies of ``obs``
            # with a fresh copy of the ranker (``scores``: what it says of ``obs`` already)
            kw = ({"query": partial(_fresh_scores, ranker), "scores": scores}
                  if getattr(policy, "queries_ranker", False) else {})
            cols_p, spend_p = policy(obs, start, end, accounts=campaign.new_rows, **kw)
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
            n_all, n_aimed = _n_actions(cols_p[3], cols_p[0], base.end, cols_p[2],
                                        campaign.targets)
            extra_actions += n_all
            extra_aimed += n_aimed
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

        side = helper.run(side_work)
        vb = viewed.contains(keys)                 # viewed in an earlier round
        viewed.add(keys[kind == EventKind.VIEW])
        # only pairs first viewed in this round need the within-round answer, and all
        # of their events (every VIEW among them) are in this subset, in log order
        fresh = np.flatnonzero(~vb & viewed.contains(keys))
        if fresh.size:
            vb[fresh] = viewed_before(acc[fresh], itm[fresh], kind[fresh], n_items)
        n0 = side.result()
        served += exposure[r]
        state.append_flags(new, vb, n0)
        obs = state.observation(end)
        scores = score_items(ranker, obs)
        order = ranked_order(scores, obs.eligible)
        ranks[r] = rank_items(scores, obs.eligible, order=order)
        yield RoundInfo(r, int(t.size), state.log)
    helper.close()
    if on_traffic is not None:
        on_traffic(state.traffic())
    touched = np.zeros(0, np.int64) if campaign is None else np.concatenate(
        [campaign.item, *mirrored_items])
    return _trajectory(base, ranker, campaign, ranks, exposure, engagement, "closed", seed,
                       reactive=(extra_spend, extra_actions, extra_aimed),
                       queries=(policy.queries_used(obs) if hasattr(policy, "queries_used")
                                else 0),
                       defence=state.defence_record(ranker, obs, campaign),
                       reach=state.reach(targets, exposure, touched), personal_hits=hits,
                       touched=touched)
