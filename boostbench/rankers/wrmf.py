"""Implicit matrix factorisation (WRMF): a learned, personalised, collaborative-filtering ranker.

The model is weighted regularised matrix factorisation for implicit feedback
(Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets",
ICDM 2008): every (account, item) pair has a preference ``p_ui`` (1 if the
account interacted with the item, else 0) and a confidence ``c_ui = 1 + alpha *
r_ui`` (``r_ui``: how strongly it interacted), and the factors minimise

    sum over ALL pairs u, i of c_ui (p_ui - x_u . y_i)^2 + reg (sum |x_u|^2 + sum |y_i|^2).

It is solved by alternating least squares, each half-iteration with a few
conjugate-gradient steps warm-started from the previous factors (Takács, Pilászy
& Tikk, "Applications of the conjugate gradient method for implicit feedback
collaborative filtering", RecSys 2011), with the ``Y^T Y`` trick of Hu et al.:
the unobserved pairs enter only through one k x k Gram matrix, so a step costs
O(nonzeros * k + rows * k^2), never O(accounts * items).

How fake engagement reaches it (:class:`WRMF`):

- **poisoning**: the model (the account factors) is retrained on the log on a
  :class:`~boostbench.rankers.training.Schedule`, bought engagement included;
- **feature manipulation**: item factors are folded in afresh at every call from
  the interactions of the last ``train_window`` hours, so today's bought likes
  move an item now, through the factors of the accounts that gave them.

An account the model has not seen (a bot created after the last training) has a
zero factor: until the next retraining its engagement moves no item and its own
feed gets no personal signal. ``wrmf_frozen`` never retrains (the control that
isolates feature manipulation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from .._core.arrays import run_starts, stable_argsort
from .._core.params import SEED, InstanceOf, Interval, declare
from .._core.units import HOUR
from ..errors import InvalidParameter
from ..events import ENGAGEMENT, N_KINDS, EventKind
from ..observation import Observation
from ..plugins import RANKERS
from .training import Schedule, trained_model

__all__ = ["implicit_als", "fold_in_items", "wrmf_loss", "WRMF", "wrmf_frozen"]

#: Scale of the initial factors (standard normal draws times this).
INIT_SCALE = 0.01
_CHUNK = 1 << 13          # nonzeros per gather in the pair dot products
_SOLVE_FLOATS = 1 << 22   # floats of k x k systems built at once in a fold-in


# --- the sparse structure of a set of interactions ----------------------------------------

class _Side:
    """The interactions as a CSR matrix over the rows that have any (``act``), one side of ALS.

    Built from distinct pairs sorted by (row, col): ``rows`` (compressed row of each
    nonzero), ``cols``, ``a`` (summed confidence - 1) and ``indptr`` describe the
    matrix; ``act`` maps compressed rows back to row ids.
    """

    __slots__ = ("act", "rows", "cols", "a", "indptr", "n_cols")

    def __init__(self, row, col, a, n_cols):
        start = run_starts(row)
        self.act = row[start]
        self.rows = np.cumsum(start) - 1
        self.indptr = np.append(np.flatnonzero(start), row.size).astype(np.int64)
        self.cols, self.a, self.n_cols = col, a, int(n_cols)

    def matrix(self, data, cols=None, n_cols=None) -> sp.csr_matrix:
        """The CSR matrix with this structure and ``data`` at its nonzeros."""
        return sp.csr_matrix((data, self.cols if cols is None else cols, self.indptr),
                             shape=(self.act.size, self.n_cols if n_cols is None else n_cols))


def _checked(account, item, confidence, n_accounts, n_items, where):
    """The three columns as int64, int64, float64; ids in range, confidences finite, >= 0."""
    account = np.asarray(account, np.int64)
    item = np.asarray(item, np.int64)
    confidence = np.asarray(confidence, np.float64)
    if not (account.shape == item.shape == confidence.shape) or account.ndim != 1:
        raise InvalidParameter(f"{where} needs 1-d account, item and confidence arrays of one "
                               f"length. Got shapes {account.shape}, {item.shape} and "
                               f"{confidence.shape}.", name="confidence")
    if account.size and (account.min() < 0 or account.max() >= n_accounts
                         or item.min() < 0 or item.max() >= n_items):
        raise InvalidParameter(f"{where}: account ids must be in [0, {n_accounts}) and item "
                               f"ids in [0, {n_items}).", name="account")
    if confidence.size and not (np.all(np.isfinite(confidence)) and confidence.min() >= 0):
        raise InvalidParameter(f"The 'confidence' parameter of {where} must be finite and >= 0 "
                               "(it is c_ui - 1).", name="confidence")
    return account, item, confidence


def _pairs(major, minor, confidence, n_minor):
    """Distinct (major, minor) pairs sorted by (major, minor), confidences summed in log order."""
    key = major * np.int64(n_minor) + minor
    order = stable_argsort(key)
    sk = key[order]
    first = np.flatnonzero(run_starts(sk))
    a = (np.add.reduceat(confidence[order], first) if first.size
         else np.zeros(0, np.float64))
    uk = sk[first]
    return uk // n_minor, uk % n_minor, a


def _sides(account, item, confidence, n_accounts, n_items):
    """The account side (rows = accounts) and the item side (rows = items) of the pairs."""
    u, i, a = _pairs(account, item, confidence, n_items)
    by_item = np.argsort(i * np.int64(n_accounts) + u)   # distinct keys: one order
    return _Side(u, i, a, n_items), _Side(i[by_item], u[by_item], a[by_item], n_accounts)


def _row_dots(P, G, rows, cols) -> np.ndarray:
    """``P[rows[n]] . G[cols[n]]`` for every nonzero ``n`` (gathered in cache-sized chunks)."""
    out = np.empty(rows.size, np.float64)
    m = min(_CHUNK, rows.size)
    pa, ga = np.empty((m, P.shape[1])), np.empty((m, G.shape[1]))
    for s in range(0, rows.size, _CHUNK):
        e = min(s + _CHUNK, rows.size)
        np.take(P, rows[s:e], axis=0, out=pa[: e - s])
        np.take(G, cols[s:e], axis=0, out=ga[: e - s])
        np.einsum("nk,nk->n", pa[: e - s], ga[: e - s], out=out[s:e])
    return out


# --- the solver -------------------------------------------------------------------------------

def _half_step(F, G, side: _Side, reg: float, cg_steps: int) -> np.ndarray:
    """New factors for the rows of ``side`` given the other side's factors ``G``.

    Each active row solves ``(G^T C_u G + reg I) f_u = G^T C_u p_u`` with
    ``G^T C_u G = G^T G + sum_i a_ui g_i g_i^T``, by ``cg_steps`` conjugate-gradient
    steps from its current factor (all rows at once); rows without interactions get
    their exact solution, 0.
    """
    k = G.shape[1]
    out = np.zeros_like(F)
    if side.act.size == 0:
        return out
    gram = G.T @ G + reg * np.eye(k)
    sparse_a = side.a

    def apply(P):
        d = _row_dots(P, G, side.rows, side.cols)
        d *= sparse_a
        return P @ gram + side.matrix(d) @ G

    x = F[side.act].copy()
    r = side.matrix(1.0 + side.a) @ G - apply(x)
    p = r.copy()
    rs = np.einsum("nk,nk->n", r, r)
    zero = np.zeros(x.shape[0])
    for _ in range(cg_steps):
        ap = apply(p)
        pap = np.einsum("nk,nk->n", p, ap)
        alpha = np.divide(rs, pap, out=zero.copy(), where=pap > 0)
        x += alpha[:, None] * p
        r -= alpha[:, None] * ap
        rs_new = np.einsum("nk,nk->n", r, r)
        beta = np.divide(rs_new, rs, out=zero.copy(), where=rs > 0)
        p = r + beta[:, None] * p
        rs = rs_new
    out[side.act] = x
    return out


def implicit_als(account, item, confidence, n_accounts: int, n_items: int, *, factors: int,
                 reg: float, iterations: int, seed: int, cg_steps: int = 3
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Fit implicit-feedback matrix factorisation (WRMF) by ALS with conjugate gradient.

    Minimises ``sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (sum |x_u|^2 + sum |y_i|^2)``
    over all ``n_accounts x n_items`` pairs (Hu, Koren & Volinsky, ICDM 2008), where
    ``p_ui = 1`` for the pairs given and 0 elsewhere, ``c_ui = 1 + confidence_ui``
    for the pairs given and 1 elsewhere. Each iteration updates X given Y, then Y
    given X, each row by ``cg_steps`` conjugate-gradient steps warm-started from
    its current factor (Takács, Pilászy & Tikk, RecSys 2011); with ``cg_steps >=
    factors`` every half-step is the exact least-squares solve (up to rounding). A
    step never raises the objective (:func:`wrmf_loss`): conjugate gradient lowers
    each row's quadratic from its warm start.

    Parameters
    ----------
    account, item : int arrays of one length
        The observed pairs; a pair listed twice is one pair with the confidences summed.
    confidence : float array
        ``c_ui - 1 >= 0`` per entry (``alpha * r_ui`` in Hu et al.), *not* ``c_ui``:
        0 is a pair observed with the baseline confidence 1.
    n_accounts, n_items : int
        Shape of the preference matrix.
    factors : int
        Latent dimension k.
    reg : float
        L2 regularisation (> 0).
    iterations : int
        ALS iterations (one X and one Y half-step each).
    seed : int
        Initial factors: ``rng = np.random.default_rng(seed)``, then ``X0 = 0.01 *
        rng.standard_normal((n_accounts, factors))`` and ``Y0`` likewise, in that order.
    cg_steps : int
        Conjugate-gradient steps per row and half-iteration.

    Returns
    -------
    X : float64[n_accounts, factors], Y : float64[n_items, factors]
        After one iteration or more, the rows of accounts (items) without any pair are
        exactly 0, their least-squares solution (the initial factors otherwise).

    Examples
    --------
    >>> X, Y = implicit_als([0, 0, 1], [0, 1, 1], [4.0, 4.0, 4.0], 3, 2, factors=2,
    ...                     reg=0.1, iterations=5, seed=0)
    >>> X.shape, Y.shape, bool(np.all(X[2] == 0))
    ((3, 2), (2, 2), True)
    """
    for name, v, low in (("factors", factors, 1), ("iterations", iterations, 0),
                         ("cg_steps", cg_steps, 1), ("n_accounts", n_accounts, 0),
                         ("n_items", n_items, 0)):
        Interval(int, low, None).check(name, v, "implicit_als")
    reg = Interval(float, 0.0, None, closed="neither").check("reg", reg, "implicit_als")
    account, item, confidence = _checked(account, item, confidence, n_accounts, n_items,
                                         "implicit_als")
    by_account, by_item = _sides(account, item, confidence, n_accounts, n_items)
    rng = np.random.default_rng(seed)
    X = INIT_SCALE * rng.standard_normal((n_accounts, factors))
    Y = INIT_SCALE * rng.standard_normal((n_items, factors))
    for _ in range(iterations):
        X = _half_step(X, Y, by_account, reg, cg_steps)
        Y = _half_step(Y, X, by_item, reg, cg_steps)
    return X, Y


def wrmf_loss(X, Y, account, item, confidence, reg: float) -> float:
    """The WRMF objective of factors ``X``, ``Y`` (the quantity :func:`implicit_als` lowers).

    Computed with the Gram trick: ``sum_all (x.y)^2 = trace(X^T X Y^T Y)``, plus over the
    observed pairs ``c (1 - s)^2 - s^2`` (``s = x_u . y_i``), plus the penalty.
    """
    X = np.asarray(X, np.float64)
    Y = np.asarray(Y, np.float64)
    account, item, confidence = _checked(account, item, confidence, X.shape[0], Y.shape[0],
                                         "wrmf_loss")
    u, i, a = _pairs(account, item, confidence, Y.shape[0])
    s = _row_dots(X, Y, u, i)
    return float(np.sum((X.T @ X) * (Y.T @ Y)) + np.sum((1.0 + a) * (1.0 - s) ** 2 - s ** 2)
                 + reg * (np.sum(X * X) + np.sum(Y * Y)))


def fold_in_items(X, account, item, confidence, n_items: int, reg: float) -> np.ndarray:
    """Item factors given fixed account factors ``X``: the exact least-squares item half-step.

    Each item with pairs solves ``(X^T X + reg I + sum_u a_ui x_u x_u^T) y_i = sum_u
    (1 + a_ui) x_u`` (``a = confidence``, summed over duplicates, as in
    :func:`implicit_als`); the per-item Gram corrections are one sparse product with
    the accounts' flattened outer products, then one batched k x k solve. Items
    without pairs (or whose accounts all have zero factors) get 0.

    Returns
    -------
    float64[n_items, k]
    """
    X = np.asarray(X, np.float64)
    n_acc, k = X.shape
    account, item, confidence = _checked(account, item, confidence, n_acc, n_items,
                                         "fold_in_items")
    side = _Side(*_pairs(item, account, confidence, n_acc), n_acc)
    Y = np.zeros((n_items, k))
    if side.act.size == 0:
        return Y
    seen = np.zeros(n_acc, bool)
    seen[side.cols] = True
    used = np.flatnonzero(seen)
    local = (np.cumsum(seen) - 1)[side.cols]
    Xu = X[used]
    outer = (Xu[:, :, None] * Xu[:, None, :]).reshape(used.size, k * k)
    a = side.matrix(side.a, local, used.size)
    b = side.matrix(1.0 + side.a, local, used.size) @ Xu
    gram = X.T @ X + reg * np.eye(k)
    step = max(1, _SOLVE_FLOATS // (k * k))
    for s in range(0, side.act.size, step):
        e = min(s + step, side.act.size)
        A = (a[s:e] @ outer).reshape(e - s, k, k) + gram
        Y[side.act[s:e]] = np.linalg.solve(A, b[s:e, :, None])[:, :, 0]
    return Y


# --- the ranker -------------------------------------------------------------------------------

class _Model:
    """A trained WRMF model: account factors ``X``, item factors ``Y`` at training time ``T``,
    and ``mean_x``, the mean factor of the accounts with interactions in the training window.
    Holds the last fold-in (one entry) so a round's item scores and pair scores share it."""

    __slots__ = ("T", "X", "Y", "mean_x", "last")

    def __init__(self, T, X, Y, mean_x):
        for arr in (X, Y, mean_x):
            arr.flags.writeable = False
        self.T, self.X, self.Y, self.mean_x = float(T), X, Y, mean_x
        self.last = None


_NAME = InstanceOf(str, "a string")
_STRENGTH = Interval(float, 0.0, None)


@RANKERS.register("wrmf")
@dataclass(frozen=True)
@declare(name=_NAME, factors=Interval(int, 1, 64),
         reg=Interval(float, 0.0, None, closed="neither"), alpha=_STRENGTH,
         like_weight=_STRENGTH, view_weight=_STRENGTH,
         iterations=Interval(int, 1, 1000), schedule=InstanceOf(Schedule, "a Schedule"),
         seed=SEED)
class WRMF:
    """Implicit matrix factorisation (Hu et al. 2008, solved as Takács et al. 2011), retrained
    on a schedule; item factors folded in from the current window at every call.

    Interactions: each VIEW with strength ``view_weight * completion``, each LIKE,
    COMMENT and SHARE (the engagement acts, :data:`~boostbench.events.ENGAGEMENT`)
    with strength ``like_weight``, times the event's weight (a defence's discount);
    ``r_ui`` is the sum over the account's events on the item, and a pair with
    ``r_ui > 0`` is observed (``p_ui = 1``, confidence ``1 + alpha * r_ui``).
    Impressions, reports, not-interested and follows are not interactions.

    Training at ``T`` (:func:`~boostbench.rankers.training.trained_model`): the
    interactions with ``T - train_window < t <= T`` give account factors ``X``.
    Scoring at ``now``: item factors are folded in by the exact least-squares item
    half-step given ``X`` over the interactions in ``(now - train_window, now]``
    (:func:`fold_in_items`), so items posted after ``T`` have factors, and today's
    engagement, bought likes included, moves items now. Items without interactions
    get ``y = 0``; accounts not seen in training get ``x = 0`` (a zero score, and no
    pull on any item until the next retraining).

    Parameters
    ----------
    name : str
    factors : int
        Latent dimension (at most 64: a fold-in builds k x k systems per item).
    reg : float
        L2 regularisation of both factor matrices.
    alpha : float
        Confidence per unit of interaction strength, ``c = 1 + alpha * r``. Hu et al.
        found alpha = 40 good on raw TV-viewing counts (``r`` = times a show was
        watched, fractions allowed, often well above 1 per pair). Ours is a parameter
        because the good value depends on the scale of ``r`` and on the density of
        the matrix (how much the many unobserved pairs weigh), and both differ here:
        ``r`` is mostly 0-3 per pair (a view's completion plus a like) in worlds of
        other sizes. The default 10 is a choice, not tuned on boostbench's worlds: a
        full view (with a like) is 11 (21) times as telling as an unobserved pair.
    like_weight : float
        Strength of a LIKE, COMMENT or SHARE (one deliberate positive act each: the
        acts an engagement seller sells, :data:`~boostbench.events.ENGAGEMENT`).
    view_weight : float
        Strength of a fully watched VIEW; a VIEW counts ``view_weight * completion``,
        as Hu et al.'s ``r_ui`` counts the fraction of a show watched (0.7: 70 % of it).
        1: a full view is as strong a sign as a like; a 2 s bot view of a long video
        adds almost no confidence (though it still makes the pair observed, p = 1).
    iterations : int
        ALS iterations per training (3 conjugate-gradient steps per half-iteration).
    schedule : Schedule
        When the model is retrained and the hours of log it learns from (also the
        window of the fold-in).
    seed : int
        Seeds the initial factors.

    Notes
    -----
    Global scores (``__call__``) are the average viewer's predicted preference:
    ``mean_x . y_i``, ``mean_x`` the mean factor of the accounts with interactions in
    the training window; ``score_pairs`` is ``x_u . y_i``.
    """

    name: str = "wrmf"
    factors: int = 16
    reg: float = 0.1
    alpha: float = 10.0
    like_weight: float = 1.0
    view_weight: float = 1.0
    iterations: int = 8
    schedule: Schedule = Schedule()
    seed: int = 0
    conformance_exempt: ClassVar[dict] = {
        "relabelling": "ALS starts from random factors drawn per account and item row (seeded), "
                       "so relabelled accounts and items start elsewhere and converge to other "
                       "factors after a few iterations"}

    # --- interactions ----------------------------------------------------------------------
    def _interactions(self, obs: Observation, end: float):
        """(account, item, strength) of the interactions in ``(end - train_window, end]``."""
        t, account, item, kind, value = obs.events
        lo = int(np.searchsorted(t, end - self.schedule.train_window * HOUR, side="right"))
        hi = int(np.searchsorted(t, end, side="right"))
        table = np.zeros(N_KINDS)
        table[[int(k) for k in ENGAGEMENT]] = self.like_weight
        kind = kind[lo:hi]
        strength = table[kind]
        view = kind == EventKind.VIEW
        strength[view] = self.view_weight * np.maximum(value[lo:hi][view], 0.0)
        strength *= obs.weight[lo:hi]
        keep = (strength > 0) & (item[lo:hi] < obs.n_items)
        return account[lo:hi][keep], item[lo:hi][keep], strength[keep]

    def _fit(self, obs: Observation, T: float) -> _Model:
        account, item, r = self._interactions(obs, T)
        X, Y = implicit_als(account, item, self.alpha * r, _size(obs.n_accounts, account),
                            obs.n_items,
                            factors=self.factors, reg=self.reg, iterations=self.iterations,
                            seed=self.seed)
        seen = np.unique(account)
        mean_x = X[seen].mean(axis=0) if seen.size else np.zeros(self.factors)
        return _Model(T, X, Y, mean_x)

    def model(self, obs: Observation) -> _Model:
        """The model that scores ``obs`` (trained at the schedule's last time, cached per run)."""
        return trained_model(self, obs, self.schedule, self._fit)

    def item_factors(self, obs: Observation) -> np.ndarray:
        """Item factors at ``obs.now``: :func:`fold_in_items` over the current window given the
        model's account factors (float64[n_items, factors], read-only; the last is cached)."""
        m = self.model(obs)
        key = (obs.now, obs.n_events, obs.n_items, obs.n_accounts)
        weight = obs._weight
        last = m.last
        if last is not None and last[0] == key and last[1] is weight:
            return last[2]
        account, item, r = self._interactions(obs, obs.now)
        X = _rows(m.X, _size(obs.n_accounts, account))
        Y = fold_in_items(X, account, item, self.alpha * r, obs.n_items, self.reg)
        Y.flags.writeable = False
        m.last = (key, weight, Y)
        return Y

    def quality(self, obs: Observation, horizon: float = 6.0, negatives: int = 100) -> dict:
        """Held-out quality at ``obs.now``: the model trained ``horizon`` hours earlier (item
        factors folded in then) ranks each account's next likes and views against
        ``negatives`` random eligible items it did not touch (seeded by ``seed``).

        Returns ``{"like": {...}, "view": {...}}`` with ``auc`` (the mean over accounts of
        P(held-out item > negative)) and ``accounts`` (those with a held-out act and a
        factor).
        """
        at = obs.now - horizon * HOUR
        past = obs.prefix(at)
        m = self._fit(past, at)
        account, item, r = self._interactions(past, at)
        X = _rows(m.X, _size(obs.n_accounts, account))
        Y = fold_in_items(X, account, item, self.alpha * r, obs.n_items, self.reg)
        t, acc, itm, kind, _ = obs.events
        lo = int(np.searchsorted(t, at, side="right"))
        elig = np.flatnonzero(past.eligible)
        rng = np.random.default_rng(self.seed)
        touched = set((account.astype(np.int64) * obs.n_items + item).tolist())
        out = {}
        for head, k in (("like", EventKind.LIKE), ("view", EventKind.VIEW)):
            m_ = (kind[lo:] == k) & np.isin(itm[lo:], elig)
            a, i = acc[lo:][m_].astype(np.int64), itm[lo:][m_].astype(np.int64)
            known = np.any(X[a] != 0, axis=1)
            a, i = a[known], i[known]
            users = np.unique(a)
            aucs = []
            for u in users:     # a few hundred accounts; each a vectorised comparison
                pos = X[u] @ Y[np.unique(i[a == u])].T
                neg = elig[rng.integers(0, elig.size, negatives)]
                neg = neg[[(u * obs.n_items + j) not in touched for j in neg]]
                sn = X[u] @ Y[neg].T
                aucs.append(float(np.mean((pos[:, None] > sn[None, :])
                                          + 0.5 * (pos[:, None] == sn[None, :]))))
            out[head] = {"auc": float(np.mean(aucs)) if aucs else float("nan"),
                         "accounts": float(users.size)}
        return out

    # --- scores ----------------------------------------------------------------------------
    def __call__(self, obs: Observation) -> np.ndarray:
        """The average viewer's predicted preference for each item, ``mean_x . y_i``."""
        m = self.model(obs)
        return self.item_factors(obs) @ m.mean_x

    def score_pairs(self, obs: Observation, account, item) -> np.ndarray:
        """Predicted preference ``x_u . y_i`` of each (account, item) pair (0 for an account
        the model has not seen)."""
        account = np.asarray(account, np.int64)
        item = np.asarray(item, np.int64)
        m = self.model(obs)
        Y = self.item_factors(obs)
        out = np.zeros(item.shape, np.float64)
        ok = ((account >= 0) & (account < m.X.shape[0]) & (item >= 0) & (item < Y.shape[0]))
        out[ok] = np.einsum("nk,nk->n", m.X[account[ok]], Y[item[ok]])
        return out


def _size(n: int, ids: np.ndarray) -> int:
    """``n``, or more if some id is past it (defensive: ids index public tables)."""
    return max(int(n), int(ids.max()) + 1 if ids.size else 0)


def _rows(X: np.ndarray, n: int) -> np.ndarray:
    """``X`` with exactly ``n`` rows: extra rows (accounts added since training) are 0."""
    if X.shape[0] >= n:
        return X[:n]
    return np.vstack([X, np.zeros((n - X.shape[0], X.shape[1]))])


@RANKERS.register("wrmf_frozen")
def wrmf_frozen() -> WRMF:
    """WRMF trained once, the daily model of the run's first day (the clean log at the start
    of the attack window), and never retrained: bought engagement reaches it only through the
    fold-in of today's item factors (feature manipulation, no poisoning)."""
    return WRMF(name="wrmf_frozen", schedule=Schedule(retrain_every=None))
