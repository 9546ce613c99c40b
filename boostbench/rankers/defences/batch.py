"""Batch defences: detectors run on a schedule over lagged data, banning or penalising.

Every default marked [?] is an assumption, not a published figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from ..._core.arrays import distinct, distinct_inverse
from ..._core.params import SEED, Interval, Options, OrNone, declare
from ..._core.random import STREAMS, hash_uniforms
from ..._core.units import HOUR
from ...errors import InvalidParameter
from ...observation import Observation
from ...plugins import DEFENCES
from .base import ACTS, NEGATIVE, POSITIVE, BatchDefence, Detection, Schedule
from .fraudar import densest_block

__all__ = ["Lockstep", "DenseBlock", "CalibratedDetector"]

_S_CAUGHT = STREAMS.claim("detector", "calibrated_detector.caught", 41)


@DEFENCES.register("lockstep")
@dataclass(frozen=True, kw_only=True)
@declare(window_hours=POSITIVE, min_items=Interval(int, 1, None), min_overlap=Interval(float, 0.0, 1.0), min_group=Interval(int, 2, None))
class Lockstep(BatchDefence):
    """CopyCatch-style lockstep detection: groups acting on the same items at the same time.

    Acts are bucketed into (item, ``window_hours`` time bucket) cells. Two accounts
    are linked when they share at least ``min_items`` cells *and* those are at
    least ``min_overlap`` of the cells of the less active one (so two heavy users
    who both liked three trending posts are not linked: the feed itself makes
    honest users co-act); connected groups of at least ``min_group`` accounts are
    banned (Beutel et al., "CopyCatch", WWW 2013, with fixed buckets instead of
    per-item centres). Defaults: 2 h buckets, 3 shared items, groups of 8, over the
    last 72 h, run every 6 h on data 1 h old [?]. Chosen on the default world: they
    flag no organic account at t0 and catch every bot-farm and API-exploit account
    (with 6 h buckets and no overlap rule, 55 of its 1,000 organic accounts were
    flagged).
    """

    window_hours: float = 2.0
    min_items: int = 3
    min_overlap: float = 0.5
    min_group: int = 8
    name: str = "lockstep"

    def __post_init__(self):
        super().__post_init__()
        # a batch run flags accounts; it has no per-event multipliers to discount with
        Options("ban").check("action", self.action, "Lockstep")

    def detect(self, obs: Observation) -> Detection:
        acc, item, t = self.window_acts(obs)
        if acc.size == 0:
            return Detection()
        cell = item * np.int64(1 << 20) + np.floor(t / (self.window_hours * HOUR)).astype(np.int64)
        pair = distinct(acc * np.int64(1 << 40) + distinct_inverse(cell)[1])
        a, c = pair >> 40, pair & ((1 << 40) - 1)
        ua, ai = distinct_inverse(a)
        n_cells = int(c.max()) + 1
        cells = np.bincount(ai, minlength=ua.size)          # cells per account
        # only accounts with min_items cells can be linked, and only through cells two such
        # accounts share: the co-counts of every pair that can be kept, in a smaller product
        cand = cells[ai] >= self.min_items
        use = cand & (np.bincount(c[cand], minlength=n_cells)[c] >= 2)
        m = sparse.csr_matrix((np.ones(int(use.sum()), np.int32), (ai[use], c[use])),
                              shape=(ua.size, n_cells))
        co = (m @ m.T).tocoo()
        smaller = np.minimum(cells[co.row], cells[co.col])
        keep = ((co.row != co.col) & (co.data >= self.min_items)
                & (co.data >= self.min_overlap * smaller))
        if not keep.any():
            return Detection()
        g = sparse.csr_matrix((np.ones(int(keep.sum()), np.int8), (co.row[keep], co.col[keep])),
                              shape=(ua.size, ua.size))
        _, label = connected_components(g, directed=False)
        group_size = np.bincount(label)
        linked = np.zeros(ua.size, bool)
        linked[co.row[keep]] = True
        flagged = linked & (group_size[label] >= self.min_group)
        return Detection(accounts=ua[flagged])


@DEFENCES.register("dense_block")
@dataclass(frozen=True, kw_only=True)
@declare(min_density=POSITIVE, min_accounts=Interval(int, 1, None), max_blocks=Interval(int, 1, 100))
class DenseBlock(BatchDefence):
    """FRAUDAR: the densest account x item block, found by greedy peeling.

    Edges are distinct (account, item) acts in the last ``lookback_hours``; an
    item's edges weigh ``1 / log(degree + 5)`` so camouflage on popular items adds
    little (Hooi et al., "FRAUDAR", KDD 2016). Up to ``max_blocks`` blocks are
    peeled off in turn; a block's accounts are banned when its density
    (weighted edges per node) is at least ``min_density`` and it holds at least
    ``min_accounts`` accounts. Defaults 2.5 and 5 [?], set above the organic core
    of the default world (its densest block: 650-700 accounts x ~950 items,
    density 2.1 over 72 h). The $5 campaigns of the default scenario form
    sparser blocks (0.6-1.2), so there this defence catches only dense attacks
    (large rings, many targets per account) — measured, not assumed.
    """

    min_density: float = 2.5
    min_accounts: int = 5
    max_blocks: int = 3
    name: str = "dense_block"

    def detect(self, obs: Observation) -> Detection:
        acc, item, _ = self.window_acts(obs)
        accounts, items = [], []
        pairs = distinct(acc * np.int64(obs.n_items) + item)
        a, i = pairs // obs.n_items, pairs % obs.n_items
        for _ in range(self.max_blocks):
            if a.size == 0:
                break
            rows, cols, density = densest_block(a, i)
            if density < self.min_density or rows.size < self.min_accounts:
                break
            accounts.append(rows)
            items.append(cols)
            keep = ~np.isin(a, rows)
            a, i = a[keep], i[keep]
        cat = lambda x: np.concatenate(x) if x else np.zeros(0, np.int64)  # noqa: E731
        return Detection(accounts=cat(accounts), items=cat(items))


@DEFENCES.register("calibrated_detector")
@dataclass(frozen=True, kw_only=True)
@declare(tpr=Interval(float, 0.0, 1.0), fpr=Interval(float, 0.0, 1.0), latency_hours=Interval(float, 0.0, None), seed=SEED, since=OrNone(Interval(float)))
class CalibratedDetector(BatchDefence):
    """ORACLE: flags fake accounts at a stated operating point (reads Truth).

    Each campaign account is caught with probability ``tpr``, ``latency_hours``
    after its first act in the window; each organic account is flagged with
    probability ``fpr`` at its first act in the window. Lets a team plug in its
    production detector's measured rates. The simulator binds the labels
    (:meth:`bind`); every result that uses it is marked as an oracle.

    It reads the acts of ``kinds`` (likes, comments, shares, reports, hides) over
    ``lookback_hours`` (None: all visible data). The window starts at ``since``
    (bound with the labels): acts before it, such
    as the history of organic accounts a campaign recruits, do not start the
    clock. Left unset (None: every act counts), a recruited account's old first act
    makes it "due" at the first run, before it has done anything for the campaign.
    """

    tpr: float = 0.8
    fpr: float = 0.001
    latency_hours: float = 6.0
    seed: int = 0
    name: str = "calibrated_detector"
    kinds: tuple = ACTS + NEGATIVE
    schedule: Schedule = Schedule("batch", every_hours=1.0, lag_hours=0.0)
    lookback_hours: float | None = None
    oracle: ClassVar[bool] = True
    fake: np.ndarray | None = field(default=None, repr=False, compare=False)
    since: float | None = None

    def bind(self, fake: np.ndarray, since: float | None = None, quality=None
             ) -> "CalibratedDetector":
        """A copy that knows which accounts are fake (bool per account) and, optionally,
        when the window starts (``since``; see the class docstring)."""
        return replace(self, fake=np.asarray(fake, bool),
                       since=self.since if since is None else since)

    def detect(self, obs: Observation) -> Detection:
        if self.fake is None:
            raise InvalidParameter("calibrated_detector is an oracle: the simulator must bind "
                                   "the fake-account labels before it runs.", name="fake")
        a, _, ta = self.window_acts(obs)
        if self.since is not None:
            a, ta = a[ta >= self.since], ta[ta >= self.since]
        n = obs.n_accounts
        first = np.full(n, np.inf)
        np.minimum.at(first, a, ta)
        fake = np.zeros(n, bool)
        fake[: min(n, self.fake.size)] = self.fake[:n]
        u = hash_uniforms(self.seed, _S_CAUGHT, np.arange(n, dtype=np.int64))
        caught = np.where(fake, u < self.tpr, u < self.fpr)
        due = first + np.where(fake, self.latency_hours * HOUR, 0.0)
        return Detection(accounts=np.flatnonzero(caught & (due <= obs.now)))
