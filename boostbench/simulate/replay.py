"""Replay (open loop): organic events are drawn in advance and do not react to the ranking;
the campaign is merged in and the ranker re-scores every round."""

from __future__ import annotations

import numpy as np

from .._core.arrays import pair_keys
from ..attacks.base import Campaign
from ..errors import InvalidParameter
from ..events import merge_logs
from ..observation import viewed_before
from ..rankers.base import rank_items, score_items, with_oracle
from .state import (_ENGAGEMENT_KINDS, _IMPRESSION_KINDS, RunBase, Trajectory, _campaign_log,
                    _per_round, _State, _trajectory, fake_accounts, with_mirrored)

__all__ = ["replay"]


def replay(base: RunBase, ranker, campaign: Campaign | None = None, *, seed: int = 0,
           on_traffic=None) -> Trajectory:
    """Open loop: the ranker re-scores every round; organic events do not react to it.

    ``campaign=None`` (or an empty campaign) gives the clean twin. ``on_traffic``, if
    given, is called at the end with the run's labelled traffic (as in the closed loop).
    """
    if campaign is not None and campaign.policy is not None:
        raise InvalidParameter("A reactive campaign (with a policy) needs the closed loop "
                               "(mode='closed').", name="mode")
    n_items = base.n_items
    campaign = with_mirrored(base, base.place(campaign))
    window, from_campaign = merge_logs(base.window, _campaign_log(campaign, base.world.t0))
    w_t, w_acc, w_itm, w_kind, w_val = window.columns()
    keys = pair_keys(w_acc, w_itm, n_items)
    w_vb = base.history_viewed.contains(keys) | viewed_before(w_acc, w_itm, w_kind, n_items)
    state = _State(base, campaign, expected_events=len(window))
    ranker = with_oracle(ranker, fake_accounts(len(state.accounts), campaign),
                         since=base.world.t0, quality=base.world.truth.quality)
    organic = ~from_campaign
    ranks = np.empty((base.plan.n_rounds, n_items), np.float32)
    exposure = np.empty((base.plan.n_rounds, n_items), np.float32)
    engagement = np.empty((base.plan.n_rounds, n_items), np.float32)
    lo = 0
    for r, now in enumerate(base.round_times):
        hi = int(np.searchsorted(w_t, now, side="right"))
        sl = slice(lo, hi)
        state.append((w_t[sl], w_acc[sl], w_itm[sl], w_kind[sl], w_val[sl]), w_vb[sl],
                     from_campaign[sl])
        exposure[r] = _per_round(w_itm[sl], w_kind[sl], organic[sl], _IMPRESSION_KINDS, n_items)
        engagement[r] = _per_round(w_itm[sl], w_kind[sl], organic[sl], _ENGAGEMENT_KINDS, n_items)
        obs = state.observation(now)
        ranks[r] = rank_items(score_items(ranker, obs), obs.eligible)
        lo = hi
    if on_traffic is not None:
        on_traffic(state.traffic())
    return _trajectory(base, ranker, campaign, ranks, exposure, engagement, "replay", seed,
                       defence=state.defence_record(ranker, obs, campaign))
