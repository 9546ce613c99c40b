"""What it costs an attacker: success curves over nested budgets, cost to the top k, fraud CPM.

Success need not be monotone in budget (bigger campaigns trip detectors), so costs
are read off a log-spaced grid of nested campaigns, never found by bisection, and
"not reached" stays censored (None), never dropped.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import InvalidParameter
from ..stats import t_interval
from .base import metric

__all__ = ["budget_grid", "SuccessCurve", "success_curve", "cost_to_top_k", "fraud_cpm",
           "ban_replacement_cost"]


def budget_grid(cap: float, *, low: float = 0.25, factor: float = 2.0) -> list[float]:
    """Log-spaced budgets ``low, low*factor, ...`` up to and including ``cap``."""
    if not (cap > 0 and low > 0 and factor > 1):
        raise InvalidParameter(f"budget_grid needs cap > 0, low > 0, factor > 1. Got cap={cap}, "
                               f"low={low}, factor={factor}.", name="cap")
    out, b = [], low
    while b < cap * (1 - 1e-9):
        out.append(round(b, 10))
        b *= factor
    out.append(float(cap))
    return out


@dataclass(frozen=True)
class SuccessCurve:
    """Probability that a target reaches the top k, per grid budget, across seeds.

    ``success[i]`` is the mean over seeds of the per-seed share of targets that
    reached the top k (``reached_top_k``: at least ``HIT_HOURS`` in it at any time
    in the horizon; a demoting attack: rank at least doubled); ``low``/``high`` its
    95% t interval across seeds.
    """

    budgets: list
    success: list
    low: list
    high: list
    n_seeds: int

    def to_dict(self) -> dict:
        return asdict(self)


def success_curve(budgets, per_seed) -> SuccessCurve:
    """``per_seed``: array (n_seeds, n_budgets) of per-seed success shares."""
    a = np.asarray(per_seed, np.float64)
    if a.ndim != 2 or a.shape[1] != len(budgets):
        raise InvalidParameter("success_curve needs per_seed of shape (n_seeds, n_budgets).",
                               name="per_seed")
    ivs = [t_interval(a[:, i]) for i in range(a.shape[1])]
    return SuccessCurve(list(map(float, budgets)), [iv.mean for iv in ivs],
                        [iv.low for iv in ivs], [iv.high for iv in ivs], a.shape[0])


def cost_to_top_k(curve: SuccessCurve, *, threshold: float = 0.5):
    """The cheapest grid budget where success ≥ ``threshold``, with an interval.

    Returns ``(cost, ci_low, ci_high)``: ``cost`` uses the mean success;
    ``ci_low`` the upper confidence bound (the earliest budget at which success
    ≥ threshold is plausible) and ``ci_high`` the lower bound (the budget by
    which it is established). Each is None when not reached within the grid
    (censored at the cap).
    """
    def first(values):
        for b, v in zip(curve.budgets, values):
            if np.isfinite(v) and v >= threshold:
                return b
        return None
    high_vals = [h if np.isfinite(h) else m for h, m in zip(curve.high, curve.success)]
    low_vals = [lo if np.isfinite(lo) else m for lo, m in zip(curve.low, curve.success)]
    return first(curve.success), first(high_vals), first(low_vals)


def fraud_cpm(spend: float, extra_organic_impressions: float):
    """Dollars per 1,000 extra organic impressions; None when the campaign bought none."""
    if extra_organic_impressions <= 0:
        return None
    return 1000.0 * spend / extra_organic_impressions


@metric("ban_replacement_cost", greater_is_better=True,
        definition="attacked run: what an own-farm attacker pays after the run to replace its "
                   "banned new accounts, banned x price x (1 - 1/uses) (each account paid only "
                   "its amortised share); 0 for services, which replace their own accounts, and "
                   "for rankers that ban nobody. Reported next to the spend, not in it")
def ban_replacement_cost(attacked, clean, truth) -> float:
    d = attacked.defence
    if d is None or attacked.account_price == 0.0:
        return 0.0
    banned = int(np.count_nonzero(np.isfinite(d.banned_at[attacked.new_rows])))
    return banned * attacked.account_price * (1.0 - 1.0 / attacked.account_uses)
