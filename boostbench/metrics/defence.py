"""What a defence achieves and what it costs honest content.

Detection quality as integrity teams measure it (on the attacked run: account-
and event-level precision and recall, time to detect, the organic engagement
laundered before detection) and collateral (on the clean twin, where every act
is honest: organic weight removed, by segment, and organic accounts banned).
Collateral is counted over what a defence can touch: the honest acts of the
kinds the pipeline's defences weigh (``DefenceRecord.weighed``), not over views,
which would dilute it about tenfold.
All read :attr:`Trajectory.defence`; for a ranker without defences nothing is
flagged or removed, so the collateral is 0 and precision/time are NaN
(undefined), never a made-up number.
"""

from __future__ import annotations

import numpy as np

from .._core.arrays import distinct
from .._core.units import DAY, HOUR
from ..events import ENGAGEMENT, kind_mask
from .base import metric
from .feed import quality_ndcg_metric, topk_membership

__all__ = ["SEGMENTS", "segment_masks", "detection_time", "collateral"]


_NEW_DAYS = 30.0


def _acts(d):
    """Engagement acts (likes, comments, shares) of a defence record: mask over its events."""
    return kind_mask(d.kind, ENGAGEMENT)


def _flagged(d) -> np.ndarray:
    return np.isfinite(d.banned_at)


@metric("detection_recall", greater_is_better=True,
        nan_when='no campaign account acted in the window (a clean run)', column=10,
        tables=("defence",),
        definition="attacked run: share of campaign accounts that acted in the window and were "
                   "banned by the horizon (0 without defences; NaN without a campaign)")
def detection_recall(att, clean, truth) -> float:
    d = att.defence
    if d is None:
        return 0.0 if att.fake_actions else np.nan
    acting = distinct(d.account[d.fake])
    if acting.size == 0:
        return np.nan
    return float(_flagged(d)[acting].mean())


@metric("detection_precision", greater_is_better=True, column=20,
        tables=("defence",), undefined_without_detection=True,
        definition="attacked run: share of banned accounts that are campaign accounts "
                   "(NaN when nobody is banned)")
def detection_precision(att, clean, truth) -> float:
    d = att.defence
    if d is None or not _flagged(d).any():
        return np.nan
    f = _flagged(d)
    return float(d.fake_account[f].mean())


@metric("fake_weight_removed", greater_is_better=True,
        nan_when='the campaign made no act in the window (a clean run)',
        definition="attacked run: event-level recall, the share of the campaign's act weight "
                   "(likes, comments, shares) the defences removed (0 without defences; NaN "
                   "without campaign acts)")
def fake_weight_removed(att, clean, truth) -> float:
    d = att.defence
    if d is None:
        return 0.0 if att.fake_actions else np.nan
    m = d.fake & _acts(d)
    return float(1.0 - d.weight[m].mean()) if m.any() else np.nan


@metric("removed_weight_precision", greater_is_better=True,
        undefined_without_detection=True,
        definition="attacked run: event-level precision, the share of all removed act weight "
                   "that was campaign weight (NaN when nothing was removed)")
def removed_weight_precision(att, clean, truth) -> float:
    d = att.defence
    if d is None:
        return np.nan
    m = _acts(d)
    removed = 1.0 - d.weight[m].astype(np.float64)
    total = removed.sum()
    return float(removed[d.fake[m]].sum() / total) if total > 0 else np.nan


def _first_fake_act(d) -> np.ndarray:
    first = np.full(d.banned_at.size, np.inf)
    np.minimum.at(first, d.account[d.fake], d.t[d.fake])
    return first


@metric("time_to_detect_hours", greater_is_better=False, column=30,
        tables=("defence",), undefined_without_detection=True,
        definition="attacked run: median hours from a campaign account's first fake act to its "
                   "ban, over banned campaign accounts (NaN when none is banned)")
def time_to_detect_hours(att, clean, truth) -> float:
    d = att.defence
    if d is None:
        return np.nan
    first = _first_fake_act(d)
    caught = np.isfinite(first) & _flagged(d)
    if not caught.any():
        return np.nan
    return float(np.median(np.maximum(d.banned_at[caught] - first[caught], 0.0)) / HOUR)


def detection_time(d) -> float:
    """When the campaign was first caught: the earliest ban of a campaign account (inf: never)."""
    if d is None:
        return np.inf
    banned = d.banned_at[d.fake_account]
    return float(banned.min()) if banned.size else np.inf


@metric("laundered_engagement", greater_is_better=False, column=40,
        tables=("defence",),
        definition="extra organic likes+comments+shares per target (attacked - clean) earned "
                   "before the first ban of a campaign account; all of it without a detection. "
                   "Organic engagement survives a ban: it is the snowball a slow detector lets "
                   "through")
def laundered_engagement(att, clean, truth) -> float:
    caught = detection_time(att.defence)
    before = att.round_times <= caught
    tg = att.targets
    extra = att.engagement[before][:, tg].sum(axis=0) - clean.engagement[before][:, tg].sum(axis=0)
    return float(np.mean(extra)) if tg.size else np.nan


@metric("organic_weight_removed", greater_is_better=False, column=50,
        tables=("defence",),
        definition="clean twin: share of the weight of honest acts in the window that the "
                   "defences removed, over the acts of the kinds they weigh (Pipeline.kinds; "
                   "views are not in the denominator: no defence weighs them)")
def organic_weight_removed(att, clean, truth) -> float:
    d = clean.defence
    if d is None:
        return 0.0
    return _removed(d, d.weighed)


def _removed(d, mask) -> float:
    """1 - mean weight of the acts in ``mask`` (0 when there are none)."""
    return float(1.0 - d.weight[mask].astype(np.float64).mean()) if mask.any() else 0.0


def collateral(defended, undefended, truth) -> dict:
    """What defences cost honest content, from two clean runs: the pipeline and its bare scorer.

    ``clean_quality_ndcg_drop``: quality NDCG@k at the end of the attack window,
    scorer alone minus pipeline (positive = the defence made the clean feed
    worse). ``honest_demoted``: expected share of the scorer's clean top k (random
    tie-breaking) that the pipeline's clean ranking no longer puts in its top k.
    """
    return {"clean_quality_ndcg_drop": quality_ndcg_metric(undefended, undefended, truth)
            - quality_ndcg_metric(defended, defended, truth),
            "honest_demoted": _demoted(defended, undefended)}


def _demoted(defended, undefended) -> float:
    r = defended.eval_round
    before = topk_membership(undefended.ranks[r], undefended.k)
    after = topk_membership(defended.ranks[r], defended.k)
    return float(np.clip(before - after, 0.0, None).sum() / max(before.sum(), 1e-12))


@metric("clean_quality_ndcg_drop", needs=("quality",), greater_is_better=False, column=60,
        tables=("defence",),
        definition="clean twins, end of the attack window: quality NDCG@k of the bare scorer "
                   "minus that of the defended ranker (positive = the defences made the clean "
                   "feed worse; 0 for a ranker without defences)")
def clean_quality_ndcg_drop(att, clean, truth) -> float:
    bare = getattr(clean, "bare", None)
    return 0.0 if bare is None else collateral(clean, bare, truth)["clean_quality_ndcg_drop"]


@metric("honest_demoted", greater_is_better=False, column=70, tables=("defence",),
        definition="clean twins, end of the attack window: expected share of the bare scorer's "
                   "top k (random tie-breaking) that the defended ranker no longer puts in its "
                   "top k (0 for a ranker without defences)")
def honest_demoted(att, clean, truth) -> float:
    bare = getattr(clean, "bare", None)
    return 0.0 if bare is None else _demoted(clean, bare)


@metric("organic_accounts_banned", greater_is_better=False, column=80,
        tables=("defence",),
        definition="clean twin: share of organic accounts acting in the window that were banned")
def organic_accounts_banned(att, clean, truth) -> float:
    d = clean.defence
    if d is None:
        return 0.0
    acting = distinct(d.account)
    return float(_flagged(d)[acting].mean()) if acting.size else 0.0


def segment_masks(d, activity: np.ndarray) -> dict:
    """Per act of a defence record: does it belong to each segment?

    ``new_accounts``: the account was under 30 days old at the window's start;
    ``shared_devices``: its device holds two or more accounts; ``light_users``:
    its expected activity is below the median of the organic accounts (rows with an
    expected activity; reserved rows have none); ``new_creators``: the act
    is on an item whose creator was under 30 days old when posting (never for an
    item whose creator is unknown, -1).
    """
    acc = d.account
    age = d.t0 - d.account_created_at
    dev = np.asarray(d.account_device, np.int64)
    dev_count = np.bincount(dev[dev >= 0], minlength=max(int(dev.max(initial=-1)) + 1, 1))
    light = np.zeros(d.account_created_at.size, bool)
    organic = activity > 0          # reserved rows (and campaign accounts on them) have none
    if organic.any():
        light[: activity.size] = organic & (activity < np.median(activity[organic]))
    known = d.item_creator >= 0
    creator_age = np.where(known, d.item_created_at
                           - d.account_created_at[np.maximum(d.item_creator, 0)], np.inf)
    return {
        "new_accounts": age[acc] < _NEW_DAYS * DAY,
        "shared_devices": (dev[acc] >= 0) & (dev_count[np.maximum(dev[acc], 0)] >= 2),
        "light_users": light[acc],
        "new_creators": creator_age[d.item] < _NEW_DAYS * DAY,
    }


SEGMENTS = ("new_accounts", "shared_devices", "light_users", "new_creators")
#: What a segment needs that a recorded log may lack (metrics.base.NEEDS).
_SEGMENT_NEEDS = {"new_accounts": ("ages",), "shared_devices": ("devices",),
                  "new_creators": ("creators", "ages")}


def _segment_metric(segment):
    def fn(att, clean, truth):
        d = clean.defence
        if d is None:
            return 0.0
        m = segment_masks(d, truth.activity)[segment] & d.weighed
        return _removed(d, m) if m.any() else np.nan
    return fn


for _seg in SEGMENTS:
    metric(f"fp_{_seg}", greater_is_better=False, tables=("defence",),
           column=90 + SEGMENTS.index(_seg), needs=_SEGMENT_NEEDS.get(_seg, ()),
           nan_when="the segment has no act of a weighed kind in the window",
           definition=f"clean twin: share of the weight of the segment {_seg}'s honest acts "
                      "of the kinds the defences weigh that they removed (see segment_masks; "
                      "0 without defences, NaN when the segment has no such act)")(_segment_metric(_seg))
