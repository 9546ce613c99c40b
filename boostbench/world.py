"""The simulated platform: accounts, items, their hidden truth and the organic history.

:func:`make_world` draws a world from a :class:`WorldConfig`. Every default is
calibrated in ``shared/CALIBRATION.md`` or marked as an assumption [?].
Time is float64 seconds from the world's epoch (the start of the history);
``t0 = history_hours * 3600`` is the start of the attack window.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import IntEnum

import numpy as np

from ._core.arrays import KeySet, distinct, first_occurrence, pair_keys
from ._core.units import DAY, HOUR
from .behaviour import Behaviour, BehaviourParams
from ._core.params import InstanceOf, Interval, SequenceOf, check_choice, declare
from .errors import InvalidParameter
from .events import EventLog

__all__ = ["Origin", "WorldConfig", "Items", "Accounts", "Truth", "World", "make_world",
           "SIZES", "world_config", "organic_events"]

class Origin(IntEnum):
    """Who is behind an account (hidden, in :class:`Truth`)."""

    ORGANIC = 0
    RING = 1
    CROWD = 2
    BOT = 3
    AGED_BOT = 4
    API = 5
    SERVICE = 6


def _frozen(*arrays):
    for a in arrays:
        a.flags.writeable = False


def _check_lengths(owner, **cols):
    n = {len(v) for v in cols.values()}
    if len(n) > 1:
        raise InvalidParameter(f"{owner} columns must have equal lengths; got "
                               + ", ".join(f"{k}={len(v)}" for k, v in cols.items()))


@dataclass(frozen=True)
class Items:
    """Public item columns, sorted by ``created_at`` (item id = row)."""

    created_at: np.ndarray
    creator: np.ndarray
    topic: np.ndarray
    duration: np.ndarray

    def __post_init__(self):
        _check_lengths("Items", created_at=self.created_at, creator=self.creator,
                       topic=self.topic, duration=self.duration)
        _frozen(self.created_at, self.creator, self.topic, self.duration)

    def __len__(self):
        return len(self.created_at)


@dataclass(frozen=True)
class Accounts:
    """Public account columns (account id = row)."""

    created_at: np.ndarray
    device: np.ndarray
    topic: np.ndarray

    def __post_init__(self):
        _check_lengths("Accounts", created_at=self.created_at, device=self.device, topic=self.topic)
        _frozen(self.created_at, self.device, self.topic)

    def __len__(self):
        return len(self.created_at)

    def extend(self, created_at, device, topic) -> "Accounts":
        """A new Accounts with rows appended (campaign accounts)."""
        return Accounts(np.concatenate([self.created_at, np.asarray(created_at, np.float64)]),
                        np.concatenate([self.device, np.asarray(device, np.int32)]),
                        np.concatenate([self.topic, np.asarray(topic, np.int16)]))


@dataclass(frozen=True)
class Truth:
    """Hidden ground truth. Rankers never see it; metrics and the simulator do.

    Attributes
    ----------
    quality, appeal : float32[n_items] in [0, 1]
        Latent quality and clickbait appeal (high appeal + low quality = clickbait).
    reach : float64[n_items]
        Open-loop exposure weight (the stand-in for everything that brings an item
        to people when the ranking itself is not simulated).
    activity : float64[n_accounts]
        Expected impressions per day of each organic account.
    account_origin : int8[n_accounts]
        :class:`Origin` of each account.
    account_campaign : int32[n_accounts]
        Campaign id an account works for (0 = none).
    """

    quality: np.ndarray
    appeal: np.ndarray
    reach: np.ndarray
    activity: np.ndarray
    account_origin: np.ndarray
    account_campaign: np.ndarray

    def __post_init__(self):
        _check_lengths("Truth items", quality=self.quality, appeal=self.appeal, reach=self.reach)
        _check_lengths("Truth accounts", account_origin=self.account_origin,
                       account_campaign=self.account_campaign)
        _frozen(self.quality, self.appeal, self.reach, self.activity,
                self.account_origin, self.account_campaign)


_POSITIVE = Interval(float, 0.0, None, closed="neither")


@dataclass(frozen=True)
@declare(n_accounts=Interval(int, 10, 50_000_000), n_items=Interval(int, 10, 50_000_000),
         n_topics=Interval(int, 1, 10_000), history_hours=Interval(int, 1, 24 * 365),
         future_hours=Interval(int, 0, 24 * 365),
         **{name: _POSITIVE for name in (
             "impressions_median", "impressions_sigma", "decay_hours", "age_median_days",
             "duration_median", "duration_sigma", "reach_sigma", "creator_sigma", "age_sigma")},
         reach_quality=Interval(float), reach_appeal=Interval(float),
         creator_share=Interval(float, 0.0, 1.0, closed="right"),
         topic_pool_share=Interval(float, 0.0, 1.0),
         device_shares=SequenceOf(Interval(float, 0.0, 1.0), min_len=1),
         behaviour=InstanceOf(BehaviourParams))
class WorldConfig:
    """Size and calibration of a world.

    Parameters
    ----------
    n_accounts, n_items : int
        Organic accounts; items posted over the whole timeline (history + future).
    n_topics : int
        Interest topics; topic popularity is Zipf(1) [?].
    history_hours : int
        Organic history before the attack window starts (``t0``).
    future_hours : int
        Timeline after ``t0`` on which new items keep being posted.
    impressions_median, impressions_sigma : float
        Impressions per account per day, lognormal (median 270, sigma 0.83; KuaiRand-1K [D]).
    reach_sigma : float
        Log-sd of the open-loop exposure weight; 2.75 reproduces the exposure
        inequality of Tenrec QK-video (top 1% ≈ 66% of views) [D].
    reach_quality, reach_appeal : float
        How much the unmodelled platform favours quality and appeal in the open
        loop (log-weight per unit) [?].
    decay_hours : float
        Exposure decays as exp(-age / decay_hours); 62 h puts 32% of an item's
        views in its first 24 h ([I], CALIBRATION.md).
    creator_share, creator_sigma : float
        Share of accounts that ever post (0.5, Pew 2024 [I]) and the log-sd of
        their posting rates (2.05 makes the top 25% of accounts post ≈ 98%, Pew [I]).
    topic_pool_share : float
        Share of impressions drawn from the viewer's own topic [?].
    age_median_days, age_sigma : float
        Account age at ``t0``, lognormal (months, [?]).
    device_shares : tuple
        Share of devices holding 1, 2, 3 accounts (0.90, 0.08, 0.02 [?]).
    duration_median, duration_sigma : float
        Video duration, lognormal (median 14 s, sigma 0.87 [P]/[I]).
    behaviour : BehaviourParams
    """

    n_accounts: int = 1000
    n_items: int = 800
    n_topics: int = 20
    history_hours: int = 96
    future_hours: int = 72
    impressions_median: float = 270.0
    impressions_sigma: float = 0.83
    reach_sigma: float = 2.75
    reach_quality: float = 2.0
    reach_appeal: float = 1.0
    decay_hours: float = 62.0
    creator_share: float = 0.5
    creator_sigma: float = 2.05
    topic_pool_share: float = 0.5
    age_median_days: float = 180.0
    age_sigma: float = 1.0
    device_shares: tuple = (0.90, 0.08, 0.02)
    duration_median: float = 14.0
    duration_sigma: float = 0.87
    behaviour: BehaviourParams = field(default_factory=BehaviourParams)

    def __post_init__(self):
        shares = tuple(self.device_shares)
        if len(shares) == 0 or any(s < 0 for s in shares) or not np.isclose(sum(shares), 1.0):
            raise InvalidParameter("The 'device_shares' parameter of WorldConfig must be "
                                   f"non-negative shares summing to 1. Got {shares!r} instead.",
                                   name="device_shares")

    @property
    def t0(self) -> float:
        """Start of the attack window, seconds from the epoch."""
        return self.history_hours * HOUR

    @property
    def t_end(self) -> float:
        return (self.history_hours + self.future_hours) * HOUR

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "behaviour"}
        d["device_shares"] = list(self.device_shares)
        d["behaviour"] = {f.name: getattr(self.behaviour, f.name) for f in fields(self.behaviour)}
        return d


SIZES = {
    # Items outnumber what one account sees in an item's lifetime (~1,100 impressions in
    # 3 days), so feeds rarely run out of unseen items and per-account volume stays calibrated.
    "tiny": dict(n_accounts=150, n_items=2500, n_topics=5, history_hours=48, future_hours=48),
    "small": dict(n_accounts=1000, n_items=20_000, n_topics=20, history_hours=96, future_hours=72),
    "medium": dict(n_accounts=5000, n_items=80_000, n_topics=40, history_hours=96, future_hours=72),
}


def world_config(size: str = "small", **overrides) -> WorldConfig:
    """The :class:`WorldConfig` of a size preset, with keyword overrides."""
    check_choice("size", size, tuple(SIZES))
    return WorldConfig(**{**SIZES[size], **overrides})


@dataclass(frozen=True)
class World:
    """A drawn world: public items and accounts, hidden truth, organic history up to ``t0``."""

    config: WorldConfig
    items: Items
    accounts: Accounts
    truth: Truth
    history: EventLog
    behaviour: Behaviour
    seed: int

    @property
    def t0(self) -> float:
        return self.config.t0


def _devices(n: int, shares, rng) -> np.ndarray:
    """Device id per account; a device holds k accounts with probability shares[k-1]."""
    sizes = rng.choice(np.arange(1, len(shares) + 1), size=n, p=np.asarray(shares) / sum(shares))
    dev = np.repeat(np.arange(n), sizes)[:n]
    return rng.permutation(dev).astype(np.int32)


def make_world(config: WorldConfig, rng=None, *, seed: int | None = None) -> World:
    """Draw a world and its organic history up to ``config.t0``.

    Parameters
    ----------
    config : WorldConfig
    rng : numpy.random.Generator, int or None
        Source of all randomness (``np.random.default_rng(rng)``).
    seed : int, optional
        Key of the counter-based uniforms used for organic decisions; defaults to
        a draw from ``rng``.

    Returns
    -------
    World
    """
    if not isinstance(config, WorldConfig):
        raise InvalidParameter("The 'config' parameter of make_world must be a WorldConfig.",
                               name="config")
    rng = np.random.default_rng(rng)
    c = config
    na, ni = c.n_accounts, c.n_items
    # topics: Zipf(1) popularity
    topic_p = 1.0 / np.arange(1, c.n_topics + 1)
    topic_p /= topic_p.sum()
    acc_topic = rng.choice(c.n_topics, size=na, p=topic_p).astype(np.int16)
    age = np.exp(np.log(c.age_median_days) + c.age_sigma * rng.standard_normal(na)) * DAY
    age = np.maximum(age, c.t0 + DAY)  # every organic account exists a day before its history
    acc_created = c.t0 - age
    device = _devices(na, c.device_shares, rng)
    activity = np.exp(np.log(c.impressions_median) + c.impressions_sigma * rng.standard_normal(na))

    # creators: a share of accounts posts, with lognormal posting rates
    n_creators = max(1, int(round(c.creator_share * na)))
    creators = rng.choice(na, size=n_creators, replace=False)
    post_w = np.exp(c.creator_sigma * rng.standard_normal(n_creators))
    creator = creators[np.searchsorted(np.cumsum(post_w), rng.random(ni) * post_w.sum())]
    created = np.sort(rng.random(ni) * c.t_end)
    own_topic = rng.random(ni) < 0.8
    item_topic = np.where(own_topic, acc_topic[creator],
                          rng.choice(c.n_topics, size=ni, p=topic_p)).astype(np.int16)
    quality = rng.beta(2.0, 2.0, ni).astype(np.float32)
    appeal = rng.beta(2.0, 2.0, ni).astype(np.float32)
    duration = np.exp(np.log(c.duration_median) + c.duration_sigma
                      * rng.standard_normal(ni)).astype(np.float32)
    reach = np.exp(c.reach_sigma * rng.standard_normal(ni) + c.reach_quality * (quality - 0.5)
                   + c.reach_appeal * (appeal - 0.5))

    items = Items(created, creator.astype(np.int32), item_topic, duration)
    accounts = Accounts(acc_created, device, acc_topic)
    truth = Truth(quality, appeal, reach, activity, np.zeros(na, np.int8), np.zeros(na, np.int32))
    if seed is None:
        seed = int(rng.integers(0, 2**62))
    world = World(c, items, accounts, truth, EventLog(), None, int(seed))
    acc, itm, t = _impressions(world, 0.0, c.t0, rng, KeySet(universe=na * ni))
    fit = rng.choice(acc.size, size=min(acc.size, 50_000), replace=False)
    behaviour = Behaviour.fit(c.behaviour, quality, appeal, duration, item_topic, acc_topic,
                              (acc[fit], itm[fit]), rng)
    world = replace(world, behaviour=behaviour)
    return replace(world, history=_respond(world, acc, itm, t, c.t0, rng))


def organic_events(world: World, start: float, end: float, rng, *, seen=None) -> EventLog:
    """Open-loop organic events in ``[start, end)``, generated hour by hour.

    Impressions do not react to any ranking: each hour, accounts draw
    Poisson(activity / 24) impressions in total; each impression picks a live item
    with probability proportional to ``reach * exp(-age / decay_hours)``, from the
    viewer's own topic with probability ``topic_pool_share``, else from all topics.
    Like a real feed, nobody is shown the same item twice: a draw of an
    (account, item) pair already shown (in ``seen``, a KeySet of pair keys, or
    earlier in this window) is redrawn (up to 6 times, then dropped). Decisions are :meth:`Behaviour.respond`
    with uniforms from ``rng``.
    """
    rng = np.random.default_rng(rng)
    seen = KeySet(universe=len(world.accounts) * len(world.items)) if seen is None else seen.copy()
    acc, itm, t = _impressions(world, start, end, rng, seen)
    return _respond(world, acc, itm, t, end, rng)


def _respond(world, acc, itm, t, end, rng) -> EventLog:
    r = world.behaviour.respond(acc, itm, t, lambda stream: rng.random(acc.size))
    keep = r.t < end  # follow-ups that spill past the window are dropped with it
    return EventLog.from_arrays(r.t[keep], r.account[keep], r.item[keep], r.kind[keep],
                                r.value[keep])


def _impressions(world, start, end, rng, seen: KeySet, max_draws: int = 6):
    """Open-loop impressions (account, item, t) in ``[start, end)``, hour by hour.

    A draw of a pair already in ``seen`` (or drawn earlier) is redrawn, up to
    ``max_draws`` times, the later draws uniformly over live items (a viewer who
    has seen the popular items gets the long tail); ``seen`` is updated with every
    accepted pair.
    """
    c = world.config
    created = world.items.created_at
    n_items = len(created)
    act_cum = np.cumsum(world.truth.activity / 24.0)
    acc_topic = world.accounts.topic
    item_topic = world.items.topic
    accs, itms, ts = [], [], []
    hour = start
    while hour < end:
        h_end = min(hour + HOUR, end)
        n_live = int(np.searchsorted(created, hour, side="right"))
        n = rng.poisson(act_cum[-1] * (h_end - hour) / HOUR) if n_live else 0
        if n:
            acc = np.searchsorted(act_cum, rng.random(n) * act_cum[-1], side="right")
            acc = np.minimum(acc, len(act_cum) - 1)
            w = world.truth.reach[:n_live] * np.exp(-(hour - created[:n_live]) / (c.decay_hours * HOUR))
            topic_pools = {}

            def draw(a, attempt):
                if attempt >= 2:
                    return rng.integers(0, n_live, a.size)
                out = np.empty(a.size, np.int64)
                own = rng.random(a.size) < c.topic_pool_share
                pools = [(~own, None)]
                for tp in distinct(acc_topic[a[own]]):
                    pools.append((own & (acc_topic[a] == tp), tp))
                for who, tp in pools:
                    k = int(who.sum())
                    if not k:
                        continue
                    if tp not in topic_pools:
                        ids = (np.arange(n_live) if tp is None
                               else np.flatnonzero(item_topic[:n_live] == tp))
                        if ids.size == 0:  # nothing of this topic yet: fall back to all items
                            ids = np.arange(n_live)
                        topic_pools[tp] = (ids, np.cumsum(w[ids]))
                    ids, cw = topic_pools[tp]
                    pick = np.searchsorted(cw, rng.random(k) * cw[-1], side="right")
                    out[who] = ids[np.minimum(pick, ids.size - 1)]
                return out

            itm = np.full(n, -1, np.int64)
            todo = np.arange(n)
            for attempt in range(max_draws):
                itm[todo] = draw(acc[todo], attempt)
                keys = pair_keys(acc[todo], itm[todo], n_items)
                ok = ~seen.contains(keys)
                ok[ok] = first_occurrence(keys[ok])
                seen.add(keys[ok])
                todo = todo[~ok]
                if todo.size == 0:
                    break
            itm[todo] = -1
            keep = itm >= 0
            accs.append(acc[keep])
            itms.append(itm[keep])
            ts.append(hour + rng.random(int(keep.sum())) * (h_end - hour))
        hour = h_end
    if not accs:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    return np.concatenate(accs), np.concatenate(itms), np.concatenate(ts)
