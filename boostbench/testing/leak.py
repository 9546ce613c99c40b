"""Leak probe: can a generic classifier tell campaign accounts from organic ones?

An honest world must not let the public view give bought accounts away for free.
:func:`account_features` turns what an :class:`~boostbench.observation.Observation`
shows about an account (its public columns and its events) into a feature row;
:func:`probe_auc` runs one attacked closed-loop run and measures how well a
gradient-boosted classifier separates the campaign's accounts from organic
accounts that acted in the window (cross-validated ROC AUC).

scikit-learn is a test-only dependency: it is imported inside the functions that
fit a classifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._core.arrays import run_starts
from ..events import N_KINDS, EventKind
from ..observation import Observation

__all__ = ["FEATURES", "BUDGETS", "account_features", "probe_auc", "ProbeResult",
           "feature_ranking"]

_KINDS = [k.name.lower() for k in EventKind]
#: Column names of :func:`account_features`, in order.
FEATURES = ("age", "account_id", "device_id", "device_accounts", "topic",
            *(f"n_{k}" for k in _KINDS),
            *(f"{k}_per_impression" for k in _KINDS[1:]),
            "distinct_items", "gap_mean", "gap_std", "new_item_share", "item_age_mean",
            "view_completion_mean", "acts_before_t0")

#: Budget (USD) per recipe that buys at least ~30 campaign accounts in the ``small``
#: scenario and fewer than its reserved rows (~500), so no campaign account gets a row
#: past the table.
BUDGETS = {"aged_bots": 2.0, "api_exploit": 0.5, "bot_farm": 0.5, "engagement_service": 20.0,
           "mass_report": 10.0, "mutual_like_ring": 10.0, "task_crowd": 10.0, "top_up": 1.0}


def _group_mean(idx, x, m):
    """Per-group mean of ``x`` (NaN for an empty group)."""
    n = np.bincount(idx, minlength=m)
    s = np.bincount(idx, weights=x, minlength=m)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan), n


def account_features(obs: Observation, accounts, t0: float) -> np.ndarray:
    """Public features of ``accounts``, float64[len(accounts), len(FEATURES)].

    Parameters
    ----------
    obs : Observation
        The public view (accounts, items and events up to ``obs.now``).
    accounts : int array
        Account ids (rows); a hidden or unknown row gets NaN age and device -1.
    t0 : float
        Start of the activity window ``[t0, obs.now)``.

    Returns
    -------
    numpy.ndarray
        Columns :data:`FEATURES`: age at ``now`` (seconds), account id, device id,
        accounts on the device, topic; per-kind event counts in the window and
        rates per impression (0 without impressions); distinct items acted on,
        mean and std (population) of the seconds between consecutive acts, share
        of acts on items posted at or after ``t0``, mean item age at act time,
        mean view completion, acts before ``t0``. An *act* is any event but an
        impression; statistics of no act (or of fewer than two, for gaps) are NaN.
    """
    req = np.asarray(accounts, np.int64).ravel()
    uniq, inv = np.unique(req, return_inverse=True)
    m = uniq.size
    tab = obs.accounts
    n_rows = len(tab)
    known = uniq < n_rows
    safe = np.where(known, uniq, 0)
    created = np.where(known, tab.created_at[safe], np.inf)
    age = np.where(np.isfinite(created), obs.now - created, np.nan)
    device = np.where(known, tab.device[safe], -1).astype(np.int64)
    topic = np.where(known, tab.topic[safe], -1)
    dev_all = tab.device[tab.device >= 0].astype(np.int64)
    per_device = np.bincount(dev_all, minlength=int(device.max(initial=-1)) + 1)
    sharing = np.where(device >= 0, per_device[np.maximum(device, 0)], 0)

    t, acc, item, kind, value = obs.events
    pos = np.full(max(n_rows, int(acc.max(initial=-1)) + 1, int(uniq.max(initial=-1)) + 1), -1)
    pos[uniq] = np.arange(m)
    r_all = pos[acc]
    act_all = (kind != EventKind.IMPRESSION) & (r_all >= 0)
    before = np.bincount(r_all[act_all & (t < t0)], minlength=m)
    lo, hi = np.searchsorted(t, [t0, obs.now], side="left")
    r, t, item, kind, value = (x[lo:hi] for x in (r_all, t, item, kind, value))
    mine = r >= 0
    r, t, item, kind, value = (x[mine] for x in (r, t, item, kind, value))
    counts = np.bincount(r * N_KINDS + kind, minlength=m * N_KINDS).reshape(m, N_KINDS)
    imp = counts[:, EventKind.IMPRESSION:EventKind.IMPRESSION + 1].astype(np.float64)
    rates = np.divide(counts[:, 1:], imp, out=np.zeros((m, N_KINDS - 1)), where=imp > 0)

    view = kind == EventKind.VIEW
    completion, _ = _group_mean(r[view], value[view].astype(np.float64), m)
    act = kind != EventKind.IMPRESSION
    ra, ta, ia = r[act], t[act], item[act].astype(np.int64)
    n_items = max(obs.n_items, 1)
    distinct = np.bincount(np.unique(ra * n_items + ia) // n_items, minlength=m)
    item_created = obs.items.created_at[ia]
    new_share, _ = _group_mean(ra, (item_created >= t0).astype(np.float64), m)
    item_age, _ = _group_mean(ra, ta - item_created, m)
    # gaps between consecutive acts of one account: acts are time-sorted, so a stable
    # sort by account keeps each account's acts in time order
    order = np.argsort(ra, kind="stable")
    ra, ta = ra[order], ta[order]
    same = ~run_starts(ra)[1:]
    gap_acc, gap = ra[1:][same], np.diff(ta)[same]
    gap_mean, n_gap = _group_mean(gap_acc, gap, m)
    dev2, _ = _group_mean(gap_acc, (gap - gap_mean[gap_acc]) ** 2, m)
    gap_std = np.sqrt(dev2)

    out = np.column_stack([age, uniq, device, sharing, topic, counts, rates, distinct,
                           gap_mean, gap_std, new_share, item_age, completion, before])
    return out.astype(np.float64)[inv]


@dataclass(frozen=True)
class ProbeResult:
    """What :func:`probe_auc` measured: the AUC, the class sizes and the data it fit."""

    recipe: str
    seed: int
    budget: float
    auc: float
    n_campaign: int
    n_organic: int
    X: np.ndarray
    y: np.ndarray
    accounts: np.ndarray

    def __iter__(self):   # ``auc, n_campaign, n_organic = probe_auc(...)``
        return iter((self.auc, self.n_campaign, self.n_organic))


def _classifier(seed):
    from sklearn.ensemble import HistGradientBoostingClassifier
    return HistGradientBoostingClassifier(random_state=seed)


def probe_auc(recipe_name: str, scenario="default", seed: int = 0, budget: float | None = None,
              folds: int = 5, ranker: str = "like_count") -> ProbeResult:
    """Cross-validated ROC AUC of telling ``recipe_name``'s accounts from organic ones.

    One closed-loop run of ``scenario`` (a name or a :class:`~boostbench.scenario.Scenario`)
    on ``seed`` (world and streams as ``boostbench run`` draws them) with the
    campaign bought for ``budget`` (default :data:`BUDGETS`, else the scenario's)
    against ``ranker``. At the end of the run, positives are the campaign's
    accounts (new rows and recruited organic accounts), negatives the other
    accounts; both only if they made an act (a non-impression event) in
    ``[t0, end)``. Features: :func:`account_features` of the public view the
    rankers see. Classifier: ``HistGradientBoostingClassifier``, probabilities
    from stratified ``folds``-fold ``cross_val_predict``.

    Returns
    -------
    ProbeResult
        ``auc`` (NaN if a class has fewer than ``folds`` accounts), ``n_campaign``,
        ``n_organic``, and the features ``X``, labels ``y`` and account ids.
    """
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from ..plugins import ATTACKS
    from ..rankers.pipeline import build_ranker
    from ..runner import seed_setup
    from ..scenario import Scenario, get_scenario
    from ..simulate import closed_loop_rounds, fake_accounts

    sc = scenario if isinstance(scenario, Scenario) else get_scenario(scenario)
    world, base, buy, kw = seed_setup(sc, seed)
    attack = ATTACKS.create(recipe_name)
    budget = float(BUDGETS.get(recipe_name, sc.budget) if budget is None else budget)
    campaign = base.place(buy(attack, budget))
    log = None
    for info in closed_loop_rounds(base, build_ranker(ranker), campaign, seed=seed, **kw):
        log = info.log
    # the table the loop's observations carry (closed_loop's _State)
    accounts = world.accounts
    if campaign.n_new_accounts:
        accounts = accounts.fill(campaign.new_rows, campaign.new_created_at,
                                 campaign.new_device, campaign.new_topic)
    obs = Observation(world.items, accounts, log, base.end,
                      eligibility_hours=sc.eligibility_hours)
    t0 = world.t0
    t, acc, _, kind, _ = obs.events
    lo = int(np.searchsorted(t, t0, side="left"))
    active = np.unique(acc[lo:][kind[lo:] != EventKind.IMPRESSION])
    fake = fake_accounts(max(len(accounts), int(active.max(initial=-1)) + 1), campaign)
    rows = active[np.isfinite(obs.accounts.created_at[active])] if active.size else active
    y = fake[rows].astype(int)
    X = account_features(obs, rows, t0)
    n_c, n_o = int(y.sum()), int((1 - y).sum())
    auc = float("nan")
    if min(n_c, n_o) >= folds:
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
        p = cross_val_predict(_classifier(seed), X, y, cv=cv, method="predict_proba")[:, 1]
        auc = float(roc_auc_score(y, p))
    return ProbeResult(recipe_name, seed, budget, auc, n_c, n_o, X, y, rows)


def feature_ranking(result: ProbeResult, folds: int = 5, method: str = "single") -> list:
    """``[(feature, score), ...]`` best first: what gives the campaign away.

    ``single``: the cross-validated ROC AUC of the classifier fit on that feature
    alone (0.5: useless alone; robust to redundant features). ``permutation``: the
    drop in held-out ROC AUC when the feature is shuffled (``permutation_importance``),
    averaged over the folds (near 0 for a feature other features can stand in for).
    """
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X, y, seed = result.X, result.y, result.seed
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    score = np.zeros(X.shape[1])
    if method == "single":
        for j in range(X.shape[1]):
            p = cross_val_predict(_classifier(seed), X[:, [j]], y, cv=cv,
                                  method="predict_proba")[:, 1]
            score[j] = roc_auc_score(y, p)
    else:
        for train, test in cv.split(X, y):
            clf = _classifier(seed).fit(X[train], y[train])
            score += permutation_importance(clf, X[test], y[test], scoring="roc_auc",
                                            n_repeats=5, random_state=seed).importances_mean / folds
    order = np.argsort(-score, kind="stable")
    return [(FEATURES[i], float(score[i])) for i in order]
