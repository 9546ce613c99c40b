"""Learned rankers: engagement predictions trained on the platform's own (poisoned) log.

:class:`ModelRanker` predicts, for every eligible item, the probability that an
impression leads to each engagement kind (pLike, pComment, pShare, pReport,
pNotInterested), from the feature view (:mod:`boostbench.features`), and scores
``sum_k w_k p_k`` with X's heavy-ranker weights. One binary classifier per kind
is trained on the log's own history on a schedule (:mod:`.training`):
training snapshots every ``snapshot_every`` hours in the ``train_window`` before
the training time ``T``; at a snapshot ``s``, an item's features are those at
``s`` and its label is what the platform *logged* in ``(s, s + horizon]``:
``successes`` = events of the kind, ``trials`` = max(impressions, successes) —
bought engagement included (that is the poisoning), Truth never read. Each
(snapshot, item) is one binomial row, given to the classifier as a weighted
positive and a weighted negative, so any scikit-learn-compatible classifier with
``fit(X, y, sample_weight)`` and ``predict_proba`` plugs in::

    from sklearn.ensemble import HistGradientBoostingClassifier
    ranker = ModelRanker(HistGradientBoostingClassifier(random_state=0), name="my_gbdt")

``learned_pxtr`` is the built-in: an L2 logistic regression per kind
(:class:`LogisticL2`, numpy/scipy). ``learned_pxtr_frozen`` is the same model,
the run's first daily model (trained on the clean history), never retrained:
the control that separates poisoning (retraining on bought engagement) from
feature manipulation (bought engagement in today's features).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit

from .._core.params import InstanceOf, Interval, OrNone, Satisfies, declare
from .._core.units import HOUR
from ..errors import InvalidParameter
from ..events import EventKind as K
from ..features import FEATURE_NAMES, counts_between, item_features
from ..observation import Observation
from ..plugins import RANKERS
from .training import Schedule, trained_model

__all__ = ["LogisticL2", "ModelRanker", "X_WEIGHTS", "training_rows", "learned_pxtr",
           "learned_pxtr_frozen", "weighted_auc"]

#: X's heavy-ranker weights of the heads boostbench logs (twitter/the-algorithm-ml,
#: projects/home/recap/README.md, April 2023): fav 0.5, retweet 1, reply 13.5,
#: negative_feedback_v2 -74, report -369.
X_WEIGHTS = {"like": 0.5, "share": 1.0, "comment": 13.5, "not_interested": -74.0,
             "report": -369.0}
_KINDS = {"like": K.LIKE, "comment": K.COMMENT, "share": K.SHARE, "report": K.REPORT,
          "not_interested": K.NOT_INTERESTED}


class LogisticL2:
    """L2-regularised logistic regression on standardised features (scikit-learn API).

    Minimises ``C sum_i w_i logloss(y_i, sigmoid(z_i b + c)) + |b|^2 / 2`` over the
    standardised features ``z`` (weighted mean 0, sd 1), the intercept unpenalised, with
    L-BFGS: scikit-learn's ``LogisticRegression(C=C)`` (lbfgs) on standardised features.

    Parameters
    ----------
    C : float
        Inverse regularisation strength (as scikit-learn's ``LogisticRegression``).
    max_iter : int
    """

    def __init__(self, C: float = 1.0, max_iter: int = 200):
        self.C = C
        self.max_iter = max_iter

    def get_params(self, deep=True):
        return {"C": self.C, "max_iter": self.max_iter}

    def set_params(self, **params):
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self):
        return f"LogisticL2(C={self.C!r}, max_iter={self.max_iter!r})"

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y, np.float64)
        w = np.ones(y.size) if sample_weight is None else np.asarray(sample_weight, np.float64)
        return self.fit_binomial(X, w * y, w * (1.0 - y))

    def fit_binomial(self, X, successes, failures):
        """Fit to binomial rows: ``successes`` and ``failures`` (weights, >= 0) per row of
        ``X`` — the same model as :meth:`fit` on each row once as a positive and once as a
        negative, at half the work."""
        X = np.asarray(X, np.float64)
        s = np.asarray(successes, np.float64)
        f = np.asarray(failures, np.float64)
        n = s + f
        total = float(n.sum())
        if total <= 0:
            raise InvalidParameter("LogisticL2.fit needs a positive total sample weight.",
                                   name="sample_weight")
        self.mean_ = (n @ X) / total
        sd = np.sqrt((n @ (X - self.mean_) ** 2) / total)
        self.scale_ = np.where(sd > 0, sd, 1.0)
        Z = (X - self.mean_) / self.scale_
        lam = 1.0 / self.C
        ybar = float(np.clip(s.sum() / total, 1e-12, 1 - 1e-12))

        def loss(theta):
            b, c = theta[:-1], theta[-1]
            z = Z @ b + c
            ll = n @ np.logaddexp(0.0, z) - s @ z          # -(s log p + f log(1 - p)), stable
            g = n * expit(z) - s
            f_ = ll / total + 0.5 * lam * (b @ b) / total
            grad = np.append((Z.T @ g) / total + lam * b / total, g.sum() / total)
            return f_, grad

        theta0 = np.append(np.zeros(Z.shape[1]), np.log(ybar / (1 - ybar)))
        res = minimize(loss, theta0, jac=True, method="L-BFGS-B",
                       options={"maxiter": int(self.max_iter)})
        self.coef_ = res.x[:-1] / self.scale_
        self.intercept_ = float(res.x[-1] - self.mean_ @ self.coef_)
        self.n_iter_ = int(res.nit)
        return self

    def predict_proba(self, X):
        z = np.asarray(X, np.float64) @ self.coef_ + self.intercept_
        p = expit(z)
        return np.stack([1 - p, p], axis=1)


def weighted_auc(score, positive, negative) -> float:
    """ROC AUC with per-row positive and negative weights (ties count one half).

    Equals ``sklearn.metrics.roc_auc_score`` on the expanded rows (each row once as a
    positive with weight ``positive`` and once as a negative with weight ``negative``).
    """
    score = np.asarray(score, np.float64)
    pos = np.asarray(positive, np.float64)
    neg = np.asarray(negative, np.float64)
    order = np.argsort(score, kind="stable")
    s, p, n = score[order], pos[order], neg[order]
    uniq, start = np.unique(s, return_index=True)
    P = np.add.reduceat(p, start) if s.size else p
    N = np.add.reduceat(n, start) if s.size else n
    below = np.cumsum(N) - N                 # negatives strictly below each score group
    tp, tn = P.sum(), N.sum()
    if tp <= 0 or tn <= 0:
        return float("nan")
    return float((P @ (below + 0.5 * N)) / (tp * tn))


def training_rows(obs: Observation, at: float, *, train_window: float, horizon: float,
                  snapshot_every: float, kinds) -> tuple:
    """The binomial training rows of the model trained at ``at``.

    Returns ``(X, successes, trials, snapshot)``: features of each (snapshot, item)
    with a logged impression (or act) in the ``horizon`` hours after the snapshot,
    ``successes[:, j]`` the weighted count of ``kinds[j]`` in that horizon, ``trials[:, j]``
    ``max(impressions, successes)``; snapshots at ``at - horizon - m*snapshot_every``
    that lie within ``train_window`` hours before ``at``. Reads only events with ``t <= at``.
    """
    h = horizon * HOUR
    first = at - train_window * HOUR
    snaps = at - h - np.arange(0, int(np.floor((train_window - horizon) / snapshot_every)) + 1) \
        * snapshot_every * HOUR
    snaps = np.sort(snaps[snaps >= first])
    Xs, S, Tr, which = [], [], [], []
    cols = [int(_KINDS[k]) for k in kinds]
    for j, s in enumerate(snaps):
        fut = counts_between(obs, s, s + h)
        imp = fut[:, K.IMPRESSION]
        succ = fut[:, cols]
        trials = np.maximum(imp[:, None], succ)
        created = obs.items.created_at
        elig = (created <= s) & (created > s - obs.eligibility_hours * HOUR)
        rows = np.flatnonzero(elig & (trials.max(axis=1) > 0))
        Xs.append(item_features(obs, s).values[rows])
        S.append(succ[rows])
        Tr.append(trials[rows])
        which.append(np.full(rows.size, j))
    if not Xs:
        return (np.zeros((0, len(FEATURE_NAMES))), np.zeros((0, len(cols))),
                np.zeros((0, len(cols))), np.zeros(0, np.int64))
    return np.concatenate(Xs), np.concatenate(S), np.concatenate(Tr), np.concatenate(which)


def _fit_one(estimator, X, succ, trials):
    """Fit a clone of ``estimator`` to binomial rows (a weighted positive and negative per row;
    ``fit_binomial`` if it has one), in a canonical row order (sorted by content), so a
    relabelled world trains the same model; a constant (0 or 1) when one outcome never occurs."""
    order = np.lexsort(np.column_stack([X, succ, trials]).T[::-1])
    X, succ, trials = X[order], succ[order], trials[order]
    fail = trials - succ
    if (succ > 0).sum() == 0 or (fail > 0).sum() == 0:
        return float(succ.sum() > 0)                           # a constant: one class only
    model = copy.deepcopy(estimator)
    if hasattr(model, "fit_binomial"):       # the same model without doubling the rows
        return model.fit_binomial(X, succ, fail)
    Xe = np.concatenate([X, X])
    ye = np.concatenate([np.ones(succ.size), np.zeros(fail.size)])
    we = np.concatenate([succ, fail])
    keep = we > 0
    model.fit(Xe[keep], ye[keep], sample_weight=we[keep])
    return model


def _predict(model, X) -> np.ndarray:
    if isinstance(model, float):
        return np.full(X.shape[0], model)
    return np.asarray(model.predict_proba(X), np.float64)[:, 1]


def _is_classifier(x) -> bool:
    return hasattr(x, "fit") and hasattr(x, "predict_proba")


def _labels_ok(x) -> bool:
    return (isinstance(x, dict) and len(x) > 0 and set(x) <= set(_KINDS)
            and all(isinstance(v, (int, float)) and np.isfinite(v) for v in x.values()))


@dataclass(frozen=True, eq=False)
@declare(estimator=Satisfies(_is_classifier, "a classifier with fit(X, y, sample_weight) and "
                                              "predict_proba(X)"),
         name=InstanceOf(str, "a string"),
         labels=Satisfies(_labels_ok, f"a non-empty dict {{kind: finite weight}} over "
                                      f"{sorted(_KINDS)}"),
         features=OrNone(Satisfies(lambda f: len(f) > 0 and set(f) <= set(FEATURE_NAMES),
                                   "a non-empty subset of boostbench.features.FEATURE_NAMES")),
         schedule=InstanceOf(Schedule), horizon=Interval(float, 1.0, 24.0 * 7),
         snapshot_every=Interval(float, 1.0, 24.0 * 7))
class ModelRanker:
    """Scores ``sum_k labels[k] * P(kind k | impression)``, each probability from a classifier
    trained on the log's own history (see the module docstring).

    Parameters
    ----------
    estimator : classifier
        Cloned (deep-copied) per kind and training; needs ``fit(X, y, sample_weight)``
        and ``predict_proba``.
    name : str
    labels : dict
        Engagement kind -> weight (default X's heavy-ranker weights, :data:`X_WEIGHTS`).
    features : tuple of str or None
        The feature columns the model reads (default all of
        :data:`~boostbench.features.FEATURE_NAMES`).
    schedule : Schedule
        When it retrains and on how much history (default daily on 72 h).
    horizon : float
        Hours after a snapshot whose logged engagement is the label (6).
    snapshot_every : float
        Hours between training snapshots (6).
    """

    #: labels and feature rates are per impression (boostbench.recorded.needs)
    needs: ClassVar[tuple] = ("impressions",)

    estimator: object
    name: str = "model"
    labels: dict = field(default_factory=lambda: dict(X_WEIGHTS))
    features: tuple | None = None
    schedule: Schedule = Schedule()
    horizon: float = 6.0
    snapshot_every: float = 6.0

    def __post_init__(self):
        if self.schedule.train_window < self.horizon:
            raise InvalidParameter(f"ModelRanker needs schedule.train_window >= horizon. Got "
                                   f"{self.schedule.train_window} < {self.horizon}.",
                                   name="train_window")

    @property
    def kinds(self) -> tuple:
        return tuple(sorted(self.labels))

    def _columns(self) -> np.ndarray:
        names = FEATURE_NAMES if self.features is None else self.features
        return np.array([FEATURE_NAMES.index(n) for n in names])

    def rows(self, obs: Observation, at: float):
        """:func:`training_rows` of this ranker's model trained at ``at``."""
        X, S, T, snap = training_rows(obs, at, train_window=self.schedule.train_window,
                                      horizon=self.horizon, snapshot_every=self.snapshot_every,
                                      kinds=self.kinds)
        return X[:, self._columns()], S, T, snap

    def fit(self, obs: Observation, at: float) -> dict:
        """The models trained at ``at`` on the log up to ``at``: ``{kind: model}``."""
        X, S, T, _ = self.rows(obs, at)
        return {k: _fit_one(self.estimator, X, S[:, j], T[:, j]) if X.shape[0] else 0.0
                for j, k in enumerate(self.kinds)}

    def model(self, obs: Observation) -> dict:
        """The models that score ``obs`` (trained on schedule, cached per run)."""
        return trained_model(self, obs, self.schedule, self.fit)

    def predict(self, obs: Observation, models: dict | None = None) -> dict:
        """``{kind: P(kind | impression)}`` per item at ``obs.now`` (0 for unposted items)."""
        models = self.model(obs) if models is None else models
        X = item_features(obs).values[:, self._columns()]
        ok = np.all(np.isfinite(X), axis=1)
        out = {}
        for k in self.kinds:
            p = np.zeros(obs.n_items)
            if ok.any():
                p[ok] = _predict(models[k], X[ok])
            out[k] = p
        return out

    def quality(self, obs: Observation) -> dict:
        """Held-out predictive quality at ``obs.now``: the models trained ``horizon`` hours
        earlier, judged on the next snapshot (features then, labels logged since).

        Returns ``{kind: {"auc": impression-level ROC AUC, "gain": 1 - log loss /
        log loss of the training base rate, "events": held-out successes}}``.
        """
        at = obs.now - self.horizon * HOUR
        models = self.fit(obs, at)
        X, S, T, snap = training_rows(obs, obs.now, train_window=self.horizon,
                                      horizon=self.horizon, snapshot_every=self.snapshot_every,
                                      kinds=self.kinds)
        X = X[:, self._columns()]
        _, S0, T0, _ = self.rows(obs, at)
        out = {}
        for j, k in enumerate(self.kinds):
            p = np.clip(_predict(models[k], X), 1e-12, 1 - 1e-12)
            base = np.clip(S0[:, j].sum() / max(T0[:, j].sum(), 1e-12), 1e-12, 1 - 1e-12)
            s, f = S[:, j], T[:, j] - S[:, j]

            def ll(q):
                return -(s @ np.log(q) + f @ np.log1p(-q)) / max(T[:, j].sum(), 1e-12)
            out[k] = {"auc": weighted_auc(p, s, f), "gain": 1.0 - ll(p) / ll(np.full_like(p, base)),
                      "events": float(s.sum())}
        return out

    def __call__(self, obs: Observation) -> np.ndarray:
        p = self.predict(obs)
        return sum(self.labels[k] * p[k] for k in self.kinds)


@RANKERS.register("learned_pxtr")
def learned_pxtr() -> ModelRanker:
    """X-style learned ranker: L2 logistic pXtr heads, retrained daily on 72 h of the log."""
    return ModelRanker(LogisticL2(), name="learned_pxtr")


@RANKERS.register("learned_pxtr_frozen")
def learned_pxtr_frozen() -> ModelRanker:
    """``learned_pxtr`` frozen: the first day's model (trained at the midnight before the
    window, on the clean history), never retrained."""
    return ModelRanker(LogisticL2(), name="learned_pxtr_frozen",
                       schedule=Schedule(retrain_every=None))
