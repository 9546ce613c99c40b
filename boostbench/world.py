"""The simulated platform: accounts, items, their hidden truth and the organic history.

:func:`make_world` draws a world from a :class:`WorldConfig`. Every default is
sourced (see ``docs/calibration.md``) or marked as an assumption [?]. Time is
float64 seconds from the world's epoch (the start of the history);
``t0 = history_hours * 3600`` is the start of the attack window.

An honest world, so that no defence is free by construction:

- **accounts join over time** at a sign-up rate (a share of the daily active
  accounts), are less likely to be active in their first days (cohort retention)
  and exist in every age, so an age-based defence meets honest new users;
- **activity is daily**: an established account is active on a given day with the
  platform's stickiness (DAU/MAU), a new one with its cohort's retention;
- **some honest views go unlogged** (``BehaviourParams.unlogged_view_share``), so
  an act without a logged view is not proof of a bot;
- **friends act together**: circles of accounts receive each other's shares within
  minutes (:mod:`boostbench.population`);
- **ids carry no order**: organic accounts, future sign-ups and the reserve of rows
  that campaigns' accounts will fill are interleaved at random, and so are devices.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from enum import IntEnum

import numpy as np

from ._core.params import InstanceOf, Interval, Options, SequenceOf, check_choice, declare
from ._core.random import STREAMS, hash_uniforms
from ._core.units import DAY, HOUR
from .behaviour import Behaviour, BehaviourParams
from .errors import InvalidParameter
from .events import EventLog

__all__ = ["Origin", "WorldConfig", "Items", "Accounts", "Truth", "World", "make_world",
           "SIZES", "world_config", "NOT_CREATED"]

_S_RESERVE_ORDER = STREAMS.claim("world", "world.reserve_order", 320)

#: ``created_at`` of an account row no one has created (yet): reserved for campaigns.
NOT_CREATED = np.inf


class Origin(IntEnum):
    """Who is behind an account (hidden, in :class:`Truth`)."""

    ORGANIC = 0
    RING = 1
    CROWD = 2
    BOT = 3
    AGED_BOT = 4
    API = 5
    SERVICE = 6
    RESERVED = 7   # a row no one uses in this world (campaigns fill it)


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
    """Public account columns (account id = row). A row not created yet has
    ``created_at = inf`` (:data:`NOT_CREATED`), device -1 and topic -1."""

    created_at: np.ndarray
    device: np.ndarray
    topic: np.ndarray

    def __post_init__(self):
        _check_lengths("Accounts", created_at=self.created_at, device=self.device, topic=self.topic)
        _frozen(self.created_at, self.device, self.topic)

    def __len__(self):
        return len(self.created_at)

    def fill(self, rows, created_at, device, topic) -> "Accounts":
        """A new Accounts with ``rows`` set to the given columns; rows past the table are
        appended (a campaign larger than the world's reserve)."""
        rows = np.asarray(rows, np.int64)
        n = max(len(self), int(rows.max()) + 1 if rows.size else 0)
        cols = []
        for old, new, blank, dtype in ((self.created_at, created_at, NOT_CREATED, np.float64),
                                       (self.device, device, -1, np.int32),
                                       (self.topic, topic, -1, np.int16)):
            out = np.full(n, blank, dtype)
            out[:len(self)] = old
            out[rows] = np.asarray(new, dtype)
            cols.append(out)
        return Accounts(*cols)


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
        Expected impressions per active day of each organic account (0 for reserved rows).
    account_origin : int8[n_accounts]
        :class:`Origin` of each account.
    account_campaign : int32[n_accounts]
        Campaign id an account works for (0 = none).
    keeper : bool[n_accounts]
        A new account that stays (active with the established stickiness) rather than
        churning (organic accounts created in the world; established ones are keepers).
    circle : int32[n_accounts]
        The friend circle of an organic account (-1: none).
    fan_of : int32[n_accounts]
        The creator row an organic account follows as a fan (-1: none).
    reserved_devices : int32[m]
        Device ids no organic account uses (campaigns' devices take them, in order).
    unknown : frozenset of str
        What this truth does not know (a world made from a recorded log,
        :mod:`boostbench.recorded`): ``quality`` (then NaN), ``creators`` (items'
        creator -1), ``devices`` (one device per account), ``ages`` (an account's
        creation is its first logged event), ``impressions`` (none logged). Metrics that need one of them
        declare it (:attr:`boostbench.metrics.Metric.needs`) and are left out.
    """

    quality: np.ndarray
    appeal: np.ndarray
    reach: np.ndarray
    activity: np.ndarray
    account_origin: np.ndarray
    account_campaign: np.ndarray
    keeper: np.ndarray | None = None
    circle: np.ndarray | None = None
    reserved_devices: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    unknown: frozenset = frozenset()
    fan_of: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.account_origin)
        if self.keeper is None:   # (hand-built truths: every account established)
            object.__setattr__(self, "keeper", np.ones(n, bool))
        if self.circle is None:
            object.__setattr__(self, "circle", np.full(n, -1, np.int32))
        if self.fan_of is None:
            object.__setattr__(self, "fan_of", np.full(n, -1, np.int32))
        _check_lengths("Truth items", quality=self.quality, appeal=self.appeal, reach=self.reach)
        _check_lengths("Truth accounts", activity=self.activity,
                       account_origin=self.account_origin,
                       account_campaign=self.account_campaign, keeper=self.keeper,
                       circle=self.circle, fan_of=self.fan_of)
        _frozen(self.quality, self.appeal, self.reach, self.activity, self.account_origin,
                self.account_campaign, self.keeper, self.circle, self.fan_of,
                self.reserved_devices)

    @property
    def organic(self) -> np.ndarray:
        """bool per account row: an organic account (established or signing up later)."""
        return self.account_origin == Origin.ORGANIC


_POSITIVE = Interval(float, 0.0, None, closed="neither")
#: How the history's impressions are drawn (:mod:`boostbench.history`).
HISTORY_FEEDS = ("open", "ranked")
_SHARE = Interval(float, 0.0, 1.0)


@dataclass(frozen=True)
@declare(n_accounts=Interval(int, 10, 50_000_000),
         accounts_per_new_item=Interval(float, 0.01, 10_000.0),
         n_topics=Interval(int, 1, 10_000), history_hours=Interval(int, 1, 24 * 365),
         future_hours=Interval(int, 0, 24 * 365),
         **{name: _POSITIVE for name in (
             "impressions_median", "impressions_sigma", "decay_hours", "age_median_days",
             "duration_median", "duration_sigma", "reach_sigma", "creator_sigma", "age_sigma")},
         reach_quality=Interval(float), reach_appeal=Interval(float),
         creator_share=Interval(float, 0.0, 1.0, closed="right"),
         topic_pool_share=_SHARE, signup_share=Interval(float, 0.0, 0.5),
         stickiness=Interval(float, 0.0, 1.0, closed="right"),
         retention=SequenceOf(Interval(float, 0.0, 1.0, closed="right"), min_len=3,
                              max_len=3),
         reserve_share=Interval(float, 0.0, 10.0),
         device_shares=SequenceOf(Interval(float, 0.0, 1.0), min_len=1),
         circle_share=_SHARE, circle_size=Interval(int, 2, 1000), link_open=_SHARE,
         link_minutes=_POSITIVE, fan_share=_SHARE, fan_group_size=Interval(int, 2, 100_000),
         fan_open=_SHARE, fan_minutes=_POSITIVE, history_feed=Options(*HISTORY_FEEDS),
         behaviour=InstanceOf(BehaviourParams))
class WorldConfig:
    """Size and calibration of a world.

    Parameters
    ----------
    n_accounts : int
        Organic accounts created before the history starts (established and recent);
        more sign up during the history and the window (``signup_share``).
    accounts_per_new_item : float
        Daily active accounts per item posted per day: sets how many items are posted
        (10 for a short-video platform: ~117M posts/day over ~1B users, Steel, Pfeffer
        et al., arXiv 2504.13279, 2025 [P] / [?]; ≈ 0.5 for a microblog [T]).
    n_topics : int
        Interest topics; topic popularity is Zipf(1) [?].
    history_hours : int
        Organic history before the attack window starts (``t0``).
    future_hours : int
        Timeline after ``t0`` on which accounts keep signing up and items keep being posted.
    impressions_median, impressions_sigma : float
        Impressions per account per *active* day, lognormal (median 270, sigma 0.83;
        KuaiRand-1K [D]).
    reach_sigma, reach_quality, reach_appeal : float
        Open-loop exposure weight of the history: log-sd 2.75 reproduces the exposure
        inequality of Tenrec QK-video (top 1% ≈ 66% of views) [D]; how much the
        unmodelled platform favours quality and appeal (log-weight per unit) [?].
    decay_hours : float
        Open-loop exposure decays as exp(-age / decay_hours); 62 h puts 32% of an
        item's views in its first 24 h [I].
    creator_share, creator_sigma : float
        Share of accounts that ever post (0.5, Pew 2024 [I]) and the log-sd of their
        posting rates (2.05 makes the top 25% of accounts post ≈ 98%, Pew [I]).
    topic_pool_share : float
        Share of open-loop impressions drawn from the viewer's own topic [?].
    history_feed : {"open", "ranked"}
        How the history's impressions are drawn, and so what exposure the behaviour's
        intercepts are fitted on (``ranked`` since scenario v4). ``open``: by weight
        (``reach``, ``decay_hours``, ``topic_pool_share``), redrawing pairs already shown. ``ranked``: hour by hour,
        the window's feed (:mod:`boostbench.feed`, default
        :class:`~boostbench.feed.FeedConfig`) walking the platform's incumbent ranking —
        like counts so far, displayed (herding) [?] — with the intercepts refitted on the
        history's last day (:func:`make_world`), so the calibrated rates hold for ranked
        exposure, as the datasets' logs were (KuaiRand, Tenrec: logged under production
        recommenders [D]). Needs posts shown in the history's last day.
    age_median_days, age_sigma : float
        Age of the established accounts (older than 30 days) at the start of the
        history, lognormal (months [?]).
    signup_share : float
        Honest sign-ups per day as a share of the daily active accounts (0.005: 2M+/day
        over ~250M mDAU ≈ 0.8% in a record week incl. spam, Twitter Nov 2022 as reported
        by CNA / The Verge [I]; sweep 0.001-0.01).
    stickiness : float
        Daily-active probability of an established account (DAU/MAU 0.5 [I]).
    retention : (float, float, float)
        Share of a sign-up cohort active on day 1, 7 and 30 (0.5, 0.35, 0.20: the "ok"
        social-app benchmark, a16z / B. Kim 2023 [I]). A new account is a *keeper*
        (active with ``stickiness`` from day 1) with probability
        ``retention[2] / stickiness``, else a churner whose daily-active probability
        halves every few days, chosen so the cohort meets day 1 and day 7 [drv].
    reserve_share : float
        Rows reserved, as a share of the organic rows, for the accounts campaigns bring,
        interleaved with the organic rows so an id says nothing about who is behind it
        (1.0: a $5 fresh-bot campaign on the default world, ~600-800 accounts, fits). A
        campaign larger than the reserve gets rows past the table, and its ids give it
        away.
    device_shares : tuple
        Share of devices holding 1, 2, 3 organic accounts (0.90, 0.08, 0.02 [?];
        households share phones "commonly", Matthews et al., CHI 2017 [P]).
    circle_share, circle_size, link_open, link_minutes : float, int, float, float
        Friend circles [?]: a share of organic accounts (0.3) in circles of 8; a
        member's share reaches the other members, each of whom opens it with
        probability ``link_open`` (0.5) after an exponential delay of mean
        ``link_minutes`` (10): honest accounts acting on the same item within
        minutes (:func:`boostbench.population.link_impressions`).
    fan_share, fan_group_size, fan_open, fan_minutes : float, int, float, float
        Fan groups [?] (honest lockstep: a fandom liking each new post of its creator
        within minutes of the notification): a share of organic accounts in groups of
        ``fan_group_size`` (20), each group following its own creator, drawn uniformly
        among the creators; every post of that creator reaches each fan, who opens it with
        probability ``fan_open`` (0.6) after an exponential delay of mean ``fan_minutes``
        (15) and likes it far more often than a feed impression (``beta_fan`` of
        :class:`~boostbench.behaviour.BehaviourParams`)
        (:func:`boostbench.population.fan_impressions`). No published figure: the
        default share is 0 (off) in scenario versions 2 to 4; it is a parameter to sweep
        (``docs/results.md`` reports what lockstep costs honest fans at 1-10%).
    duration_median, duration_sigma : float
        Video duration, lognormal (median 14 s, sigma 0.87 [P]/[I]).
    behaviour : BehaviourParams
    """

    n_accounts: int = 1000
    accounts_per_new_item: float = 10.0
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
    signup_share: float = 0.005
    stickiness: float = 0.5
    retention: tuple = (0.5, 0.35, 0.20)
    reserve_share: float = 1.0
    device_shares: tuple = (0.90, 0.08, 0.02)
    circle_share: float = 0.3
    circle_size: int = 8
    link_open: float = 0.5
    link_minutes: float = 10.0
    fan_share: float = 0.0
    fan_group_size: int = 20
    fan_open: float = 0.6
    fan_minutes: float = 15.0
    history_feed: str = "ranked"
    duration_median: float = 14.0
    duration_sigma: float = 0.87
    behaviour: BehaviourParams = field(default_factory=BehaviourParams)

    def __post_init__(self):
        shares = tuple(self.device_shares)
        if not np.isclose(sum(shares), 1.0):
            raise InvalidParameter("The 'device_shares' parameter of WorldConfig must be "
                                   f"non-negative shares summing to 1. Got {shares!r} instead.",
                                   name="device_shares")
        d1, d7, d30 = self.retention
        if not d1 >= d7 >= d30:
            raise InvalidParameter("The 'retention' parameter of WorldConfig must not rise "
                                   f"(day 1 >= day 7 >= day 30). Got {self.retention!r}.",
                                   name="retention")
        if d30 > self.stickiness:
            raise InvalidParameter("The 'retention' parameter of WorldConfig must keep day 30 "
                                   f"<= stickiness ({self.stickiness}): keepers are active "
                                   f"with the stickiness. Got {d30}.", name="retention")

    @property
    def t0(self) -> float:
        """Start of the attack window, seconds from the epoch."""
        return self.history_hours * HOUR

    @property
    def t_end(self) -> float:
        return (self.history_hours + self.future_hours) * HOUR

    @property
    def daily_active(self) -> float:
        """Expected daily active organic accounts (at the start; sign-ups add a little)."""
        return self.n_accounts * self.stickiness

    @property
    def n_items(self) -> int:
        """Items posted over the whole timeline: daily active accounts per day over
        ``accounts_per_new_item``, times the days."""
        days = (self.history_hours + self.future_hours) / 24.0
        return max(10, int(round(self.daily_active / self.accounts_per_new_item * days)))

    def to_dict(self) -> dict:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "behaviour"}
        d["device_shares"] = list(self.device_shares)
        d["retention"] = list(self.retention)
        d["n_items"] = self.n_items
        d["behaviour"] = {f.name: getattr(self.behaviour, f.name) for f in fields(self.behaviour)}
        return d


#: World presets. ``accounts_per_new_item`` is the shape that matters most: a real short-video
#: platform has ~10 daily active accounts per new post and a pool of live posts millions of
#: times larger than what one account sees in a day; a world of a few thousand accounts
#: cannot have both, and a pool too small for its heaviest viewers makes every feed dig
#: through what they have seen and every boosted post reach everyone. The presets keep the
#: pool large (0.1 accounts per new post: 30,000 live posts for 2,000 accounts) and give up
#: the posting ratio; ``tiny`` (tests) has a microblog's ratio (0.5 [T]); ``platform`` has
#: both (about 6 minutes and 8 GB per closed-loop run on 2 cores).
SIZES = {
    "tiny": dict(n_accounts=300, accounts_per_new_item=0.5, n_topics=5, history_hours=48,
                 future_hours=48),
    "small": dict(n_accounts=2000, accounts_per_new_item=0.1, n_topics=20, history_hours=96,
                  future_hours=72),
    "medium": dict(n_accounts=20_000, accounts_per_new_item=0.1, n_topics=40, history_hours=96,
                   future_hours=72),
    # a short-video platform's shape: 10 daily active accounts per new post [P]/[?], a live
    # pool (~15,000 posts in 72 h) ~50 times what a median account sees in a day (270)
    "platform": dict(n_accounts=100_000, accounts_per_new_item=10.0, n_topics=100,
                     history_hours=48, future_hours=72),
}


def _settable_fields(cls) -> dict:
    """``{name: int, float or str}`` of a config dataclass's numeric and choice fields."""
    return {f.name: type(f.default) for f in fields(cls)
            if type(f.default) in (int, float, str) and f.name != "future_hours"}


def world_overrides(pairs) -> dict:
    """:func:`world_config` keyword arguments from ``(name, value)`` pairs: a numeric or
    choice field of :class:`WorldConfig` by its name (``fan_share``, ``history_feed``), one of
    :class:`~boostbench.behaviour.BehaviourParams` as ``behaviour.<name>``
    (``behaviour.beta_fan``). ``future_hours`` is the scenario's. Values are checked by the
    configs themselves when the world is configured."""
    world, beh = _settable_fields(WorldConfig), _settable_fields(BehaviourParams)
    out, b = {}, {}
    pairs = list(pairs)
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise InvalidParameter(f"The 'world' parameter names a setting twice: {names!r}.",
                               name="world")
    for name, value in pairs:
        sub = name.startswith("behaviour.")
        table, key = (beh, name[len("behaviour."):]) if sub else (world, name)
        if key not in table:
            allowed = sorted(world) + [f"behaviour.{k}" for k in sorted(beh)]
            raise InvalidParameter(f"The 'world' parameter has no setting {name!r}; allowed: "
                                   f"{', '.join(allowed)}.", name="world")
        if table[key] is str:
            if not isinstance(value, str):
                raise InvalidParameter(f"The 'world' setting {name!r} must be a name. Got "
                                       f"{value!r}.", name="world")
            (b if sub else out)[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InvalidParameter(f"The 'world' setting {name!r} must be a number. Got "
                                   f"{value!r}.", name="world")
        if table[key] is int:
            if float(value) != int(value):
                raise InvalidParameter(f"The 'world' setting {name!r} must be an integer. "
                                       f"Got {value!r}.", name="world")
            value = int(value)
        (b if sub else out)[key] = float(value) if table[key] is float else value
    if b:
        out["behaviour"] = BehaviourParams(**b)
    return out


def world_config(size: str = "small", **overrides) -> WorldConfig:
    """The :class:`WorldConfig` of a size preset, with keyword overrides."""
    check_choice("size", size, tuple(SIZES))
    return WorldConfig(**{**SIZES[size], **overrides})


@dataclass(frozen=True)
class World:
    """A drawn world: public items and accounts, hidden truth, organic history up to ``t0``.

    ``recorded``: for a world made from a recorded log (:func:`boostbench.recorded.recorded_world`),
    the log's replay window and ids; ``behaviour`` is then None (replay only).
    """

    config: WorldConfig
    items: Items
    accounts: Accounts
    truth: Truth
    history: EventLog
    behaviour: Behaviour
    seed: int
    recorded: "object | None" = None

    def __post_init__(self):
        self.history.freeze()     # shared by every run of this world (runner.drawn_world)

    @property
    def t0(self) -> float:
        return self.config.t0

    @property
    def reserved_rows(self) -> np.ndarray:
        """Account rows reserved for campaigns (random positions among the organic rows),
        in the order campaigns take them: a seeded shuffle, so a small campaign's rows are
        a random sample of the reserve, not its lowest ids."""
        rows = np.flatnonzero(self.truth.account_origin == Origin.RESERVED)
        return rows[np.argsort(hash_uniforms(self.seed, _S_RESERVE_ORDER, rows), kind="stable")]

    @property
    def reserved_devices(self) -> np.ndarray:
        """Device ids no organic account uses, in the order campaigns take them (a seeded
        shuffle, as for the rows)."""
        dev = self.truth.reserved_devices
        return dev[np.argsort(hash_uniforms(self.seed, _S_RESERVE_ORDER, dev.astype(np.int64),
                                            1), kind="stable")]


def _devices(n: int, shares, rng) -> np.ndarray:
    """Device index per account; a device holds k accounts with probability shares[k-1]."""
    sizes = rng.choice(np.arange(1, len(shares) + 1), size=n, p=np.asarray(shares) / sum(shares))
    dev = np.repeat(np.arange(n), sizes)[:n]
    return rng.permutation(dev)


def _zipf_topics(n_topics: int) -> np.ndarray:
    p = 1.0 / np.arange(1, n_topics + 1)
    return p / p.sum()


#: Refits of the behaviour's intercepts on a ranked history (``history_feed="ranked"``).
RANKED_REFITS = 2


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
    from . import history
    from .population import draw_population
    if not isinstance(config, WorldConfig):
        raise InvalidParameter("The 'config' parameter of make_world must be a WorldConfig.",
                               name="config")
    rng = np.random.default_rng(rng)
    c = config
    pop = draw_population(c, rng)
    ni = c.n_items
    topic_p = _zipf_topics(c.n_topics)
    # items: posted uniformly over the timeline by accounts that exist by then, with
    # lognormal posting rates (creators); 80% in the creator's own topic [?]
    created = np.sort(rng.random(ni) * c.t_end)
    creator = pop.creators_at(created, rng)
    own_topic = rng.random(ni) < 0.8
    item_topic = np.where(own_topic, pop.accounts.topic[creator],
                          rng.choice(c.n_topics, size=ni, p=topic_p)).astype(np.int16)
    quality = rng.beta(2.0, 2.0, ni).astype(np.float32)
    appeal = rng.beta(2.0, 2.0, ni).astype(np.float32)
    duration = np.exp(np.log(c.duration_median) + c.duration_sigma
                      * rng.standard_normal(ni)).astype(np.float32)
    reach = np.exp(c.reach_sigma * rng.standard_normal(ni) + c.reach_quality * (quality - 0.5)
                   + c.reach_appeal * (appeal - 0.5))
    items = Items(created, creator.astype(np.int32), item_topic, duration)
    truth = Truth(quality, appeal, reach, pop.activity, pop.origin,
                  np.zeros(len(pop.origin), np.int32), pop.keeper, pop.circle,
                  pop.reserved_devices, fan_of=pop.fan_of)
    if seed is None:
        seed = int(rng.integers(0, 2**62))
    world = World(c, items, pop.accounts, truth, EventLog(), None, int(seed))

    def fitted(acc, itm, herd=None, n=50_000):
        fit = rng.choice(acc.size, size=min(acc.size, n), replace=False)
        return replace(world, behaviour=Behaviour.fit(
            c.behaviour, quality, appeal, duration, item_topic, pop.accounts.topic,
            (acc[fit], itm[fit]), rng, herd=None if herd is None else herd[fit]))

    if c.history_feed == "open":
        acc, itm, t = history.open_impressions(world, 0.0, c.t0, rng)
        world = fitted(acc, itm)
        return replace(world, history=history.respond(world, acc, itm, t, c.t0, rng))
    # ranked: a first fit on the last day's open draw, then RANKED_REFITS times: draw the
    # history, refit the intercepts on its feed impressions of the last day (where the
    # platform has filled up, as the window finds it). The like intercept moves what the
    # incumbent ranks up and how much the displayed counts herd, so each refit's history
    # shows other posts; two refits bring the last day's like rate within a few % of the
    # input (the draw-to-draw noise), one leaves it 15% under (default world, seed 0)
    last_day = max(0.0, c.t0 - DAY)
    acc, itm, _ = history.open_impressions(world, last_day, c.t0, rng)
    world, plans = fitted(acc, itm), {}
    for _ in range(RANKED_REFITS):
        _, (acc, itm, t, herd) = history.ranked_history(world, 0.0, c.t0, plans=plans)
        late = t >= last_day
        if not late.any():
            raise InvalidParameter(
                f"history_feed='ranked' needs posts shown in the history's last day to fit "
                f"the behaviour on; a history of history_hours={c.history_hours} shows none "
                "(posts become eligible the hour after they go up). Lengthen history_hours.",
                name="history_hours")
        world = fitted(acc[late], itm[late], herd[late], n=200_000)
    log, _ = history.ranked_history(world, 0.0, c.t0, plans=plans)
    return replace(world, history=log)
