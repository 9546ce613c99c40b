"""Who is on the platform and when: sign-ups, daily activity, devices and friend circles.

Accounts join over time. A world's ``n_accounts`` organic accounts exist when its
history starts: established ones (older than 30 days, lognormal ages) and the
sign-ups of the 30 days before; more sign up during the history and the window,
at ``signup_share`` of the daily active accounts per day. Whether an account is
active on a day is a counter-based draw against :func:`active_probability`: the
platform's stickiness for established accounts and keepers, a halving rate for
churners (the cohort curve of ``WorldConfig.retention``). Everything keyed by the
world's seed, so a clean twin and an attacked run agree on who is active.

Organic rows, future sign-ups and the reserve of rows for campaigns' accounts are
interleaved at random, and device ids are drawn from a space with reserved ids for
campaigns, so neither an account id nor a device id tells who is behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from ._core.arrays import pair_keys, rank_within_runs, stable_argsort
from ._core.random import STREAMS, hash_uniforms
from ._core.units import DAY
from .feed import plan_sessions
from .world import NOT_CREATED, Accounts, Origin, WorldConfig, _devices, _zipf_topics

__all__ = ["Population", "draw_population", "active_probability", "active_on", "churn_curve",
           "round_sessions", "unseen_openings"]

_S_ACTIVE = STREAMS.claim("world", "population.active_day", 300)
_RECENT_DAYS = 30.0


@dataclass(frozen=True)
class Population:
    """The drawn account table and what is hidden about each row."""

    accounts: Accounts
    activity: np.ndarray
    origin: np.ndarray
    keeper: np.ndarray
    circle: np.ndarray
    reserved_devices: np.ndarray
    post_weight: np.ndarray
    fan_of: np.ndarray | None = None

    def creators_at(self, times: np.ndarray, rng) -> np.ndarray:
        """A creator row for each posting time: among accounts that exist by then, with
        probability proportional to their posting weight."""
        rows = np.flatnonzero(self.post_weight > 0)
        created = self.accounts.created_at[rows]
        order = np.argsort(created, kind="stable")
        rows, created = rows[order], created[order]
        cum = np.cumsum(self.post_weight[rows])
        n_live = np.maximum(np.searchsorted(created, times, side="right"), 1)
        pick = np.searchsorted(cum, rng.random(times.size) * cum[n_live - 1], side="right")
        return rows[np.minimum(pick, n_live - 1)]


def churn_curve(config: WorldConfig) -> tuple[float, float, float]:
    """``(keeper share, churner day-1 activity, churner half-life in days)`` that make a
    sign-up cohort meet ``config.retention`` on days 1, 7 and 30 [drv]."""
    d1, d7, d30 = config.retention
    stick = config.stickiness
    s = d30 / stick
    if s >= 1.0:
        return 1.0, stick, np.inf
    c1 = (d1 - s * stick) / (1.0 - s)
    c7 = (d7 - s * stick) / (1.0 - s)
    half_life = 6.0 * np.log(2.0) / np.log(c1 / c7) if 0 < c7 < c1 else (
        np.inf if c7 >= c1 else 1e-9)
    return float(s), float(c1), float(half_life)


def active_probability(config: WorldConfig, age_days: np.ndarray, keeper: np.ndarray
                       ) -> np.ndarray:
    """Probability that an account of ``age_days`` is active on a day: 1 on its sign-up
    day (age < 1), 0 before it exists, the stickiness for keepers (and established
    accounts), ``c1 * 2**(-(day - 1) / half_life)`` for churners."""
    _, c1, half = churn_curve(config)
    age = np.asarray(age_days, np.float64)
    day = np.floor(age)
    churner = c1 * np.exp2(-np.maximum(day - 1.0, 0.0) / half)
    p = np.where(keeper, config.stickiness, churner)
    return np.where(age < 0, 0.0, np.where(age < 1.0, 1.0, p))


def active_on(config: WorldConfig, key: int, accounts: Accounts, keeper: np.ndarray,
              rows: np.ndarray, day: int) -> np.ndarray:
    """bool per row: the account is active on ``day`` (days since the epoch), a
    counter-based draw keyed by the world's seed."""
    age = (day * DAY - accounts.created_at[rows]) / DAY
    p = active_probability(config, age, keeper[rows])
    return hash_uniforms(key, _S_ACTIVE, rows, day) < p


def _established_ages(n: int, c: WorldConfig, rng) -> np.ndarray:
    """Ages (days) at the history start of accounts older than 30 days: lognormal
    (``age_median_days``, ``age_sigma``) truncated below at 30 days."""
    lo = ndtr((np.log(_RECENT_DAYS) - np.log(c.age_median_days)) / c.age_sigma)
    u = lo + (1.0 - lo) * rng.random(n)
    return np.exp(np.log(c.age_median_days) + c.age_sigma * ndtri(np.minimum(u, 1 - 1e-12)))


def draw_population(c: WorldConfig, rng) -> Population:
    """Draw the accounts of a world: ages and sign-ups, activity, topics, devices,
    keepers, circles and posting weights, laid out among reserved rows."""
    n = c.n_accounts
    rate = c.signup_share * c.daily_active             # sign-ups per day
    n_recent = min(n - 1, int(round(rate * _RECENT_DAYS)))
    n_est = n - n_recent
    created_est = -_established_ages(n_est, c, rng) * DAY
    created_recent = -rng.random(n_recent) * _RECENT_DAYS * DAY
    n_new = int(rng.poisson(rate * c.t_end / DAY))
    created_new = rng.random(n_new) * c.t_end
    created = np.concatenate([created_est, created_recent, created_new])
    n_org = created.size
    s, _, _ = churn_curve(c)
    keeper = np.concatenate([np.ones(n_est, bool), rng.random(n_recent + n_new) < s])
    activity = np.exp(np.log(c.impressions_median)
                      + c.impressions_sigma * rng.standard_normal(n_org))
    topic = rng.choice(c.n_topics, size=n_org, p=_zipf_topics(c.n_topics)).astype(np.int16)
    dev_index = _devices(n_org, c.device_shares, rng)
    n_dev = int(dev_index.max()) + 1
    dev_space = rng.permutation(int(np.ceil(n_dev * (1.0 + c.reserve_share))) + 1)
    device = dev_space[dev_index].astype(np.int32)
    reserved_devices = np.sort(dev_space[n_dev:]).astype(np.int32)
    # circles: a share of accounts in groups of circle_size [?]
    circle = np.full(n_org, -1, np.int32)
    members = rng.permutation(n_org)[: int(round(c.circle_share * n_org))]
    n_circles = members.size // c.circle_size
    members = members[: n_circles * c.circle_size]
    circle[members] = np.arange(members.size) // c.circle_size
    # creators: a share of accounts posts, with lognormal posting rates
    post_weight = np.zeros(n_org)
    creators = rng.choice(n_org, size=max(1, int(round(c.creator_share * n_org))), replace=False)
    post_weight[creators] = np.exp(c.creator_sigma * rng.standard_normal(creators.size))
    # rows: organic accounts and the reserve, interleaved at random
    n_rows = n_org + int(round(c.reserve_share * n_org))
    row_of = np.sort(rng.choice(n_rows, size=n_org, replace=False))
    row_of = row_of[rng.permutation(n_org)]            # organic account i -> row row_of[i]
    # fan groups [?]: drawn last, and only when there are any, so a world without fans
    # draws every other number as before
    fan_of = np.full(n_org, -1, np.int64)
    n_groups = int(round(c.fan_share * n_org)) // c.fan_group_size
    if n_groups:
        followed = rng.choice(creators, size=n_groups, replace=n_groups > creators.size)
        fans = rng.permutation(n_org)[: n_groups * c.fan_group_size]
        fan_of[fans] = np.repeat(followed, c.fan_group_size)
        fan_of[fan_of == np.arange(n_org)] = -1          # a creator is not its own fan
    fan_row = np.where(fan_of >= 0, row_of[np.maximum(fan_of, 0)], -1)

    def spread(values, blank, dtype):
        out = np.full(n_rows, blank, dtype)
        out[row_of] = values
        return out

    accounts = Accounts(spread(created, NOT_CREATED, np.float64), spread(device, -1, np.int32),
                        spread(topic, -1, np.int16))
    origin = spread(np.full(n_org, Origin.ORGANIC, np.int8), Origin.RESERVED, np.int8)
    return Population(accounts, spread(activity, 0.0, np.float64), origin,
                      spread(keeper, False, bool), spread(circle, -1, np.int32),
                      reserved_devices, spread(post_weight, 0.0, np.float64),
                      spread(fan_row, -1, np.int32))


_S_LINK_OPEN, _S_LINK_DELAY = STREAMS.claim_block("world", "population.link", 301,
                                                  ("open", "delay"))
_S_FAN_OPEN, _S_FAN_DELAY = STREAMS.claim_block("world", "population.fan", 303,
                                                ("open", "delay"))
#: Posts this many mean delays before a window can still notify into it (a longer delay
#: has probability e^-40).
_FAN_LOOKBACK_MEANS = 40.0


def circle_members(circle: np.ndarray, size: int) -> np.ndarray:
    """``members[c]``: the rows of circle ``c`` (shape ``(n_circles, size)``)."""
    rows = np.flatnonzero(circle >= 0)
    order = stable_argsort(circle[rows])
    return rows[order].reshape(-1, size) if rows.size else np.zeros((0, size), np.int64)


def link_impressions(world, t, sharer, item, *, exists_at=None):
    """The impressions a circle member's shares cause: each other member of the sharer's
    circle opens the shared item with probability ``link_open`` after an exponential
    delay (mean ``link_minutes``) — friends acting on the same item within minutes.

    Counter-based draws keyed by the world's seed and (recipient, item), so twins agree.
    Returns ``(account, item, t)`` of the link impressions (recipients that exist by then;
    the caller drops pairs already seen).
    """
    c = world.config
    circle = world.truth.circle
    m = circle[sharer] >= 0
    if not m.any():
        z = np.zeros(0, np.int64)
        return z, z, np.zeros(0)
    members = circle_members(circle, c.circle_size)
    t, sharer, item = t[m], sharer[m], item[m]
    rec = members[circle[sharer]]                        # (n_shares, size)
    itm = np.broadcast_to(item[:, None], rec.shape)
    keep = rec != sharer[:, None]
    rec, itm = rec[keep], itm[keep]
    tt = np.broadcast_to(t[:, None], keep.shape)[keep]
    return _opened(world, (_S_LINK_OPEN, _S_LINK_DELAY), rec, itm, tt, c.link_open,
                   c.link_minutes)


def _opened(world, streams, acc, item, t, p_open: float, minutes: float):
    """``(account, item, t)`` of the offers ``(acc, item)`` made at ``t`` (a friend's link, a
    notification) that are taken: each with probability ``p_open``, after an exponential
    delay of mean ``minutes``, by an account that exists by then. Counter-based draws on
    ``streams`` (open, delay) keyed by the world's seed and (account, item)."""
    s_open, s_delay = streams
    opens = hash_uniforms(world.seed, s_open, acc, item) < p_open
    acc, item, t = acc[opens], item[opens], t[opens]
    t = t - np.log1p(-hash_uniforms(world.seed, s_delay, acc, item)) * minutes * 60
    ok = world.accounts.created_at[acc] <= t
    return acc[ok].astype(np.int64), item[ok].astype(np.int64), t[ok]


def fan_impressions(world, start: float, end: float):
    """``(account, item, t)``, time-sorted: fans opening the posts of the creator they
    follow in ``[start, end)`` (fan groups, ``WorldConfig.fan_share`` [?]).

    Each post of a followed creator notifies every fan of it; a fan opens it with
    probability ``fan_open`` after an exponential delay of mean ``fan_minutes`` (from the
    post's time), if the fan's account exists by then. Counter-based draws keyed by the
    world's seed and (fan, post): the same in a run and its clean twin, whatever the
    ranking. The caller drops pairs already shown.
    """
    c = world.config
    fan_of = world.truth.fan_of
    z = np.zeros(0, np.int64)
    if not (fan_of >= 0).any():
        return z, z, np.zeros(0)
    created = world.items.created_at
    lookback = _FAN_LOOKBACK_MEANS * c.fan_minutes * 60.0
    lo, hi = np.searchsorted(created, [start - lookback, end], side="left")
    posts = np.arange(lo, hi)
    fans = np.flatnonzero(fan_of >= 0)
    fans = fans[stable_argsort(fan_of[fans])]                     # grouped by creator
    first = np.searchsorted(fan_of[fans], world.items.creator[posts], side="left")
    n_fans = np.searchsorted(fan_of[fans], world.items.creator[posts], side="right") - first
    item = np.repeat(posts, n_fans)
    acc = fans[np.repeat(first, n_fans) + rank_within_runs(item)]   # item ascends
    acc, item, t = _opened(world, (_S_FAN_OPEN, _S_FAN_DELAY), acc, item, created[item],
                           c.fan_open, c.fan_minutes)
    ok = (t >= start) & (t < end)
    order = stable_argsort(t[ok])
    return acc[ok][order], item[ok][order], t[ok][order]



def round_sessions(world, feed, rows, r: int, start: float, length: float, *, active_key: int,
                   session_key: int, fresh_share: float):
    """Round ``r``'s feed sessions (:func:`boostbench.feed.plan_sessions`) of the accounts
    among ``rows`` that exist at ``start`` and are active that day (:func:`active_on`,
    keyed by ``active_key``); the sessions keyed by ``session_key``."""
    rows = rows[world.accounts.created_at[rows] <= start]
    rows = rows[active_on(world.config, active_key, world.accounts, world.truth.keeper, rows,
                          int(np.floor(start / DAY)))]
    return plan_sessions(feed, key=session_key, round_index=r, start=start, length=length,
                         accounts=rows, activity=world.truth.activity[rows],
                         fresh_share=fresh_share)


def unseen_openings(opened, seen, n_items: int):
    """Of impressions ``(account, item, t)`` that reached accounts outside the feed (a
    friend's link, a notification), those of pairs not in ``seen`` (nor earlier in the
    batch), added to it — nobody is shown an item twice; None when none is left."""
    a, i, t = opened
    if a.size == 0:
        return None
    ok = seen.add_new(pair_keys(a, i, n_items))
    if not ok.any():
        return None
    return a[ok], i[ok], t[ok]
