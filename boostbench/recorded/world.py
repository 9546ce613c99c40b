"""The world of a recorded log: rows, devices, truth, replay window, targets, and what a
ranker, defence or attack needs that a log may lack (see :mod:`boostbench.recorded`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core.arrays import first_occurrence, stable_argsort
from .._core.random import STREAMS, hash_uniforms
from .._core.units import HOUR
from ..errors import InvalidParameter
from ..events import EventKind, EventLog
from .log import RecordedLog

__all__ = ["Recording", "recorded_world", "public_targets", "live_targets", "live_posts",
           "needs", "check_needs", "lacking", "UNKNOWN", "MIN_RESERVE", "DEFAULT_DURATION"]

#: Reserved account rows of a recorded world, at least (a $5 fresh-bot campaign brings
#: ~600-800 accounts; a campaign larger than the reserve gets rows past the table).
MIN_RESERVE = 5000
#: Seconds an attacker's bought view watches when the log gives no duration (the
#: short-video median, docs/calibration.md).
DEFAULT_DURATION = 14.0
_S_LAYOUT, _S_DEVICES = STREAMS.claim_block("world", "recorded", 330, ("layout", "devices"))


@dataclass(frozen=True)
class Recording:
    """What a world made from a recorded log keeps of it.

    Attributes
    ----------
    window : EventLog
        The recorded events from ``t0`` to the horizon's end (the replay window).
    item_ids, account_ids : original id per item row / account row (None: reserved)
    targets : int64 item rows or None (the target rule)
    source : dict (:meth:`RecordedLog.describe`)
    epoch : float
        The log's own time (seconds) of the world's time 0: a world time ``t`` is
        ``epoch + t`` in the log.
    """

    window: EventLog
    item_ids: np.ndarray
    account_ids: np.ndarray
    targets: np.ndarray | None
    source: dict
    epoch: float = 0.0


def recorded_world(log: RecordedLog, *, horizon_hours: int, seed: int = 0,
                   reserve_share: float = 1.0, min_reserve: int = MIN_RESERVE):
    """The :class:`~boostbench.world.World` of a recorded log.

    The attack window starts ``log.window_start`` hours after the first event (default:
    ``horizon_hours`` before the last); the epoch is the last whole hour before it that
    covers the first event. Account rows interleave the log's accounts with
    ``max(reserve_share x accounts, min_reserve)`` reserved rows (for campaigns), and
    device ids the log's devices with the reserved ones, both in a layout drawn from
    ``seed`` (counter-based, as the synthetic world's), so neither an id nor a device
    says who is behind an account. Truth: quality is the log's proxy or NaN (unknown),
    appeal NaN, activity the account's logged events per active day.
    """
    from ..world import (NOT_CREATED, Accounts, Items, Origin, Truth, World, WorldConfig)
    span = log.span_hours
    start = log.start_hours(horizon_hours)
    # a log is known to cover the time up to its last event; the window may run past it by
    # less than an hour (the last events of a recording need not fall on its very end)
    if not start > 0 or start + horizon_hours > span + 1.0:
        raise InvalidParameter(
            f"The log spans {span:.2f} h from its first event; a window of {horizon_hours} h "
            + ("needs a longer log (some history before the window)." if log.window_start
               is None else f"starting {start:g} h after the first event must start after it "
               f"and end at most 1 h after the last ({span:.2f} h)."), name="window_start")
    history_hours = log.history_hours(horizon_hours)
    shift = (history_hours - start) * HOUR           # epoch = first event - shift
    t = log.t + shift
    t0 = history_hours * HOUR
    end = t0 + horizon_hours * HOUR
    # items in order of their first event (item rows are sorted by creation)
    n_items = log.item_ids.size
    first_item = np.full(n_items, np.inf)
    np.minimum.at(first_item, log.item, t)
    item_order = stable_argsort(first_item)
    item_row = np.empty(n_items, np.int64)
    item_row[item_order] = np.arange(n_items)
    # account rows: the log's accounts and the reserve, interleaved in a fixed layout
    n_log = log.account_ids.size
    n_res = max(int(round(reserve_share * n_log)), int(min_reserve))
    layout = np.argsort(hash_uniforms(seed, _S_LAYOUT, np.arange(n_log + n_res)), kind="stable")
    acc_row = layout[:n_log]
    first_acc = np.full(n_log, np.inf)
    np.minimum.at(first_acc, log.account, t)
    if log.creator is not None:          # a creator is there by its first post
        np.minimum.at(first_acc, log.creator, first_item)
    created = np.full(n_log + n_res, NOT_CREATED)
    created[acc_row] = first_acc if log.created is None else np.where(
        np.isnan(log.created), first_acc, log.created + shift)
    dev_log = np.arange(n_log) if log.device is None else log.device
    n_dev = int(dev_log.max()) + 1
    dev_log = np.where(dev_log >= 0, dev_log, n_dev + np.arange(n_log))   # creators only
    n_dev = int(dev_log.max()) + 1
    dev_ids = np.argsort(hash_uniforms(seed, _S_DEVICES, np.arange(n_dev + n_res)),
                         kind="stable").astype(np.int32)     # the log's and reserved, mixed
    device = np.full(n_log + n_res, -1, np.int32)
    device[acc_row] = dev_ids[dev_log]
    topic = np.full(n_log + n_res, -1, np.int16)
    topic[acc_row] = 0
    origin = np.full(n_log + n_res, Origin.RESERVED, np.int8)
    origin[acc_row] = Origin.ORGANIC
    days = np.floor(t / (24 * HOUR)).astype(np.int64)
    active_days = np.bincount(log.account[first_occurrence(log.account * (days.max() + 1) + days)],
                              minlength=n_log)
    activity = np.zeros(n_log + n_res)
    activity[acc_row] = np.bincount(log.account, minlength=n_log) / np.maximum(active_days, 1)
    creator = np.full(n_items, -1, np.int32)
    if log.creator is not None:
        creator[item_row] = acc_row[log.creator]
    quality = np.full(n_items, np.nan, np.float32)
    if log.quality is not None:
        quality[item_row] = log.quality
    duration = np.full(n_items, DEFAULT_DURATION, np.float32)
    if log.duration is not None:
        duration[item_row] = log.duration
    items = Items(first_item[item_order], creator, np.zeros(n_items, np.int16), duration)
    accounts = Accounts(created, device, topic)
    truth = Truth(quality, np.full(n_items, np.nan, np.float32), np.zeros(n_items), activity,
                  origin, np.zeros(n_log + n_res, np.int32),
                  reserved_devices=dev_ids[n_dev:],
                  unknown=log.unknown)
    row_a, row_i = acc_row[log.account], item_row[log.item]
    hist = t < t0
    win = (t >= t0) & (t <= end)
    history = EventLog.from_arrays(t[hist], row_a[hist], row_i[hist], log.kind[hist],
                                   log.value[hist])
    window = EventLog.from_arrays(t[win], row_a[win], row_i[win], log.kind[win], log.value[win])
    account_ids = np.full(n_log + n_res, None, object)
    account_ids[acc_row] = log.account_ids
    targets = None if log.targets is None else _target_rows(log, item_row)
    config = WorldConfig(n_accounts=max(10, n_log), history_hours=history_hours,
                         future_hours=horizon_hours, n_topics=1, reserve_share=reserve_share)
    rec = Recording(window, log.item_ids[item_order], account_ids, targets, log.describe(),
                    epoch=log.origin - shift)
    return World(config, items, accounts, truth, history, None, int(seed), recorded=rec)


def _target_rows(log: RecordedLog, item_row: np.ndarray) -> np.ndarray:
    """Item rows of ``log.targets`` (original ids, as typed; checked by ``with_window``)."""
    index = {str(x): i for i, x in enumerate(log.item_ids.tolist())}
    return item_row[[index[x] for x in log.targets]].astype(np.int64)


def public_targets(world, scenario, goal: str = "promote") -> np.ndarray:
    """Targets in a recorded world without a quality proxy, by a rule on public signals.

    ``promote``: of the items first seen in the attack window (new posts), those whose
    logged like rate over the horizon, (likes + 1) / (exposures + 2), is in the bottom
    ``low_quality_quantile``, earliest first — what the audience liked least, the stand-in
    for low quality. Exposures are impressions, or views when the log has no
    impressions. ``demote``: the top quantile. The rule reads the recorded window with
    hindsight, as the experimenter's choice reads Truth; rankers never see it.
    """
    t0 = world.t0
    _, _, itm, kind, _ = world.recorded.window.columns()
    n = len(world.items)
    imp = kind == EventKind.IMPRESSION
    exp_kind = imp if imp.any() else kind == EventKind.VIEW
    exposure = np.bincount(itm[exp_kind], minlength=n)
    liked = kind == EventKind.LIKE
    if not liked.any() or not exp_kind.any():
        raise InvalidParameter("The target rule reads likes per impression (or view); this "
                               "log's window has no " + ("likes" if not liked.any() else
                                                         "impressions or views")
                               + ": name the items with --targets.", name="n_targets")
    likes = np.bincount(itm[liked], minlength=n)
    rate = (likes + 1.0) / (exposure + 2.0)
    created = world.items.created_at
    new = (created >= t0) & (created < t0 + scenario.attack_hours * HOUR) & (exposure > 0)
    cand = np.flatnonzero(new)
    if cand.size:
        q = scenario.low_quality_quantile
        cut = np.quantile(rate[cand], q if goal == "promote" else 1.0 - q)
        cand = cand[rate[cand] <= cut] if goal == "promote" else cand[rate[cand] >= cut]
    if cand.size < scenario.n_targets:
        raise InvalidParameter(
            f"The 'n_targets' parameter must be at most {cand.size} (items first seen in the "
            f"attack window of this log with a like rate in the {goal} quantile); name the "
            "items with --targets instead.", name="n_targets")
    return cand[: scenario.n_targets]


def needs(obj) -> frozenset:
    """What a ranker or an attack reads that a recorded log may not record
    (:attr:`RecordedLog.unknown`): a ranker's, its scorer's and its defences' declared
    ``needs`` (``oracle_quality``: quality; rates per impression: impressions;
    ``account_trust``: ages; ``device_dedup``: devices; ``audience_diversity``: its
    clusters); ``creators`` for an attack that recruits the targets' creators or likes
    back their posts (a ring); ``topics`` for one that buys interest-matched users."""
    out = set(getattr(obj, "needs", None) or ())
    scorer = getattr(obj, "scorer", None)
    if scorer is not None:
        out |= needs(scorer)
    for d in getattr(obj, "defences", ()):      # a pipeline's defences read what they read
        out |= needs(d)
    source = getattr(getattr(obj, "supplier", None), "source", None)
    if getattr(obj, "reciprocity", False) or getattr(source, "recruits_creators", False):
        out.add("creators")
    if getattr(source, "matches_topics", False):
        out.add("topics")
    return frozenset(out)


def check_needs(log: RecordedLog, rankers, attacks) -> None:
    """Raise :class:`InvalidParameter` (naming ``rankers`` or ``attacks``) when one of them
    needs what ``log`` does not record, saying which column would give it."""
    for family, objs in (("rankers", rankers), ("attacks", attacks)):
        for x in objs:
            missing = sorted(needs(x) & log.unknown)
            if missing:
                raise InvalidParameter(f"{getattr(x, 'name', x)!r} needs {lacking(missing[0])}, "
                                       "or leave it out.", name=family)


#: What each unknown is, and what would give it.
UNKNOWN = {"quality": ("the items' quality", "map a column with --columns quality=COLUMN"),
           "creators": ("the items' creators", "map a column with --columns creator=COLUMN"),
           "devices": ("the accounts' devices", "map a column with --columns device=COLUMN"),
           "ages": ("the accounts' creation times", "map a column with --columns "
                    "created=COLUMN"),
           "impressions": ("impressions (what was shown)", "log impression events"),
           "topics": ("the accounts' interest topics", "not readable from a log")}


def lacking(unknown: str) -> str:
    """``the items' quality, which this log does not record: map ... --columns quality=COL``."""
    what, fix = UNKNOWN[unknown]
    return f"{what}, which this log does not record: {fix}"


def live_targets(world, scenario, targets) -> np.ndarray:
    """``targets`` (item rows), checked to be rankable during the attack window: posted
    before it ends and within ``eligibility_hours`` before it starts."""
    start = world.t0
    end = start + scenario.attack_hours * HOUR
    created = world.items.created_at[targets]
    dead = (created >= end) | (created < start - scenario.eligibility_hours * HOUR)
    if dead.any():
        which = world.recorded.item_ids[targets[dead]]
        raise InvalidParameter(
            f"The 'targets' parameter names items that are not ranked during the attack window "
            f"({', '.join(map(repr, which[:5].tolist()))}): a target must be posted (first "
            f"logged) before the window ends and at most {scenario.eligibility_hours:g} h "
            "before it starts.", name="targets")
    return targets


def live_posts(world, scenario) -> int:
    """Items ranked at the start of the attack window (posted within ``eligibility_hours``)."""
    created = world.items.created_at
    return int(np.count_nonzero((created <= world.t0)
                                & (created > world.t0 - scenario.eligibility_hours * HOUR)))
