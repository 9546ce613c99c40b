"""How far the targets rose: attacked run against its clean twin, at the end of the attack window."""

from __future__ import annotations

import numpy as np

from .._core.units import HOUR
from .base import Margin, metric
from .feed import topk_membership, topk_membership_of

__all__ = ["target_ranks", "hours_in_top_k", "reached", "HIT_HOURS"]

#: Hours in all a target must spend in the top k, at any time in the horizon, for the
#: campaign to count as a success (``reached_top_k``, ``cost_to_top_k``, sweeps).
HIT_HOURS = 1.0


def target_ranks(traj, round_index: int | None = None, targets=None) -> np.ndarray:
    """Ranks of ``targets`` (default ``traj.targets``) at ``round_index`` (default: the
    evaluation round). An ineligible target counts as one below the last ranked item.

    A clean twin is always read at the *attacked* run's targets.
    """
    r = traj.ranks[traj.eval_round if round_index is None else round_index]
    out = r[traj.targets if targets is None else targets].astype(np.float64)
    return np.where(np.isfinite(out), out, np.count_nonzero(np.isfinite(r)) + 1.0)


@metric("target_rank", greater_is_better=True,
        margin=Margin(0.10, 5.0), tables=(),
        definition="attacked run, end of the attack window: mean over targets of the target's "
                   "rank (1 = top; larger means the attack did worse)")
def target_rank(attacked, clean, truth) -> float:
    return float(np.mean(target_ranks(attacked)))


@metric("rank_lift", greater_is_better=False, column=10,
        margin=Margin(0.10, 5.0), tables=(),
        definition="end of the attack window: mean over targets of clean-twin rank minus "
                   "attacked rank (positive = the target rose; mid-ranks for ties). In ranks "
                   "of the whole live pool, so a target that merely leaves the zero-like tie "
                   "group gains thousands: read log_rank_lift in the tables")
def rank_lift(attacked, clean, truth) -> float:
    return float(np.mean(target_ranks(clean, targets=attacked.targets) - target_ranks(attacked)))


@metric("log_rank_lift", greater_is_better=False, column=15,
        margin=Margin(0.10, 0.1), tables=("closed", "replay"),
        definition="end of the attack window: mean over targets of log2(clean rank / attacked "
                   "rank), mid-ranks for ties; 1 = the target's rank halved. The tables' "
                   "headline rank metric: a rise from 20,000 to 10,000 and one from 20 to 10 "
                   "both read 1, where rank_lift reads 10,000 and 10")
def log_rank_lift(attacked, clean, truth) -> float:
    return float(np.mean(np.log2(target_ranks(clean, targets=attacked.targets)
                                 / target_ranks(attacked))))


@metric("hit_rate_at_k", greater_is_better=False, column=20,
        margin=Margin(0.10, 0.05), tables=(),
        definition="attacked run, end of the attack window: mean over targets of the "
                   "probability of being in the top k (random tie-breaking). A snapshot: a "
                   "target that paid off earlier and was demoted by then counts 0; "
                   "reached_top_k judges the horizon")
def hit_rate_at_k(attacked, clean, truth) -> float:
    m = topk_membership(attacked.ranks[attacked.eval_round], attacked.k)
    return float(np.mean(m[attacked.targets]))


def hours_in_top_k(traj) -> np.ndarray:
    """Per target: expected hours in the top k over the whole horizon.

    Each round counts its length (the time since the previous round's end; the first
    round is as long as the second, or an hour alone) times the target's probability
    of being in the top k (random tie-breaking).
    """
    t = np.asarray(traj.round_times, np.float64)
    first = t[1] - t[0] if t.size > 1 else HOUR
    length = np.diff(t, prepend=t[0] - first) / HOUR
    return length @ topk_membership_of(traj.ranks, traj.targets, traj.k)


def reached(hours: np.ndarray) -> np.ndarray:
    """bool per target: its :func:`hours_in_top_k` make a success (``HIT_HOURS``, with a
    relative tolerance of 1e-9 for the float sum of round lengths)."""
    return hours >= HIT_HOURS * (1 - 1e-9)


@metric("reached_top_k", greater_is_better=False, column=21,
        margin=Margin(0.10, 0.05), tables=("closed", "replay"),
        definition=f"attacked run, whole horizon: share of targets that spent at least "
                   f"{HIT_HOURS:g} h in all in the top k (expected hours under random "
                   "tie-breaking), whenever that was: a campaign that paid off before a ban "
                   "still succeeded. The success of cost_to_top_k and sweeps")
def reached_top_k(attacked, clean, truth) -> float:
    return float(np.mean(reached(hours_in_top_k(attacked))))


def _target_sum(arr, targets, rounds: slice) -> np.ndarray:
    """Per-target sums of a [round, item] array over ``rounds``."""
    return arr[rounds][:, targets].sum(axis=0).astype(np.float64)


@metric("extra_organic_impressions", needs=("impressions",), greater_is_better=False, column=30,
        margin=Margin(0.10, 5.0), tables=("closed",),
        definition="whole horizon: mean over targets of organic impressions in the attacked run "
                   "minus in the clean twin (closed loop; 0 by construction in replay)")
def extra_organic_impressions(attacked, clean, truth) -> float:
    s = slice(None)
    return float(np.mean(_target_sum(attacked.exposure, attacked.targets, s)
                         - _target_sum(clean.exposure, attacked.targets, s)))


@metric("extra_organic_impressions_after", needs=("impressions",),
        greater_is_better=False, column=40,
        margin=Margin(0.10, 5.0), tables=("closed",),
        definition="rounds after the attack window: mean over targets of organic impressions "
                   "attacked minus clean (does the bought start keep paying?)")
def extra_organic_impressions_after(attacked, clean, truth) -> float:
    s = slice(attacked.eval_round + 1, None)
    return float(np.mean(_target_sum(attacked.exposure, attacked.targets, s)
                         - _target_sum(clean.exposure, attacked.targets, s)))


_REACH_NAN = ("a replay run (exposure follows the log, not the ranking) or a trajectory "
              "without reach counts")


def _reach_share(traj) -> np.ndarray | None:
    """Reach of each ``reach_items`` entry (the targets, then the most exposed organic item)
    as a share of the active accounts; None in replay or without reach counts."""
    if traj.mode != "closed" or traj.reach.size == 0:
        return None
    return traj.reach / max(traj.active_accounts, 1)


@metric("target_reach", greater_is_better=False, column=35, saturated_at=0.5,
        nan_when=_REACH_NAN,
        margin=Margin(0.10, 0.02), tables=("closed",),
        definition="attacked run, whole horizon: mean over targets of the share of active "
                   "accounts (any organic impression in the horizon) that had an organic "
                   "impression of the target; at 0.5 or more the row is flagged saturated "
                   "(the world is too small for impression counts to grow with the spend)")
def target_reach(attacked, clean, truth) -> float:
    share = _reach_share(attacked)
    return float("nan") if share is None else float(np.mean(share[:-1]))


@metric("top_organic_reach", greater_is_better=True, column=36,
        nan_when=_REACH_NAN,
        margin=Margin(0.10, 0.02), tables=(),
        definition="clean twin, whole horizon: share of active accounts that had an organic "
                   "impression of the organic item with the most organic impressions (how far "
                   "the world lets any post travel: the ceiling target_reach is read against)")
def top_organic_reach(attacked, clean, truth) -> float:
    share = _reach_share(clean)
    return float("nan") if share is None else float(share[-1])


@metric("amplification", greater_is_better=False,
        nan_when='the campaign aimed no fake action at a target', column=50,
        margin=Margin(0.10, 0.01), tables=("closed",),
        definition="whole horizon: extra organic likes + comments + shares on the targets "
                   "(attacked minus clean, summed over targets) per fake action aimed at the "
                   "targets (camouflage and reciprocity are off_target_actions); NaN without "
                   "aimed actions")
def amplification(attacked, clean, truth) -> float:
    if attacked.aimed_actions == 0:
        return float("nan")
    s = slice(None)
    extra = (_target_sum(attacked.engagement, attacked.targets, s)
             - _target_sum(clean.engagement, attacked.targets, s))
    return float(extra.sum() / attacked.aimed_actions)


@metric("off_target_actions", greater_is_better=True, column=55, tables=(),
        margin=Margin(0.10, 5.0),
        definition="the campaign's fake actions (acts other than views) that were not on a "
                   "target: camouflage and ring reciprocity, bought to look organic (more is "
                   "better for the ranker: money spent looking organic is not spent on the "
                   "targets). A property of the recipe more than of the ranker: in the JSON, "
                   "not in the tables or the gate")
def off_target_actions(attacked, clean, truth) -> float:
    return float(attacked.fake_actions - attacked.aimed_actions)


@metric("peak_rank", greater_is_better=True,
        margin=Margin(0.10, 5.0), tables=(),
        definition="attacked run, whole horizon: mean over targets of the best (lowest) rank "
                   "reached in any round")
def peak_rank(attacked, clean, truth) -> float:
    best = np.min([target_ranks(attacked, r) for r in range(attacked.n_rounds)], axis=0)
    return float(np.mean(best))


@metric("rounds_in_top_k", greater_is_better=False,
        margin=Margin(0.10, 0.5), tables=(),
        definition="attacked run, whole horizon: mean over targets of the expected number of "
                   "rounds spent in the top k (random tie-breaking)")
def rounds_in_top_k(attacked, clean, truth) -> float:
    total = topk_membership_of(attacked.ranks, attacked.targets, attacked.k).sum(axis=0)
    return float(np.mean(total))


def _side_items(attacked) -> np.ndarray:
    """Items the campaign touched other than its targets (a ring's other posts, aged bots'
    camouflage items)."""
    return np.setdiff1d(attacked.campaign_items, attacked.targets)


@metric("side_extra_organic_impressions", needs=("impressions",), greater_is_better=False,
        nan_when='the campaign touched no item besides its targets',
        definition="whole horizon: mean over the non-target items the campaign touched (a "
                   "ring's other members' posts, camouflage items) of organic impressions "
                   "attacked minus clean (NaN when it touched none)")
def side_extra_organic_impressions(attacked, clean, truth) -> float:
    side = _side_items(attacked)
    if side.size == 0:
        return float("nan")
    extra = attacked.exposure[:, side].sum(axis=0) - clean.exposure[:, side].sum(axis=0)
    return float(np.mean(extra))


@metric("side_rank_lift", greater_is_better=False,
        nan_when='the campaign touched no item besides its targets',
        definition="end of the attack window: mean over the non-target items the campaign "
                   "touched of clean rank minus attacked rank (NaN when it touched none)")
def side_rank_lift(attacked, clean, truth) -> float:
    side = _side_items(attacked)
    if side.size == 0:
        return float("nan")
    return float(np.mean(target_ranks(clean, targets=side) - target_ranks(attacked, targets=side)))


@metric("hit_ratio", greater_is_better=False, column=37, tables=(),
        nan_when="a replay run (no feeds are drawn) or a trajectory without per-round hits",
        margin=Margin(0.10, 0.001),
        definition="attacked run, whole horizon: mean over targets and rounds of the share of "
                   "viewers whose own ranked candidates held the target in their top k (HR@k of "
                   "the recommender-poisoning literature, on the feed's two-stage retrieval: "
                   "a personalised ranker's realised pools; for a global ranker the exact "
                   "expectation over the retrieval draws)")
def hit_ratio(attacked, clean, truth) -> float:
    h = attacked.personal_hits
    if attacked.mode != "closed" or h.size == 0:
        return float("nan")
    return float(np.mean(h))
