"""The attack contract: public view + targets + money in, a Campaign out.

An attack sees what any user sees (the :class:`~boostbench.observation.Observation`
at the start of its window), its own targets and its budget; never Truth. It
returns a :class:`Campaign`: the accounts it creates, the organic accounts it
recruits, its events, and an itemised spend that never exceeds the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Protocol, runtime_checkable

import numpy as np

from ..errors import InvalidParameter

from .._core.params import MAX_BUDGET, Interval, check_real, declare
from ..events import EventKind
from ..observation import Observation

__all__ = ["CostModel", "Campaign", "Attack", "empty_campaign", "check_attack_args"]


@dataclass(frozen=True)
@declare(**{name: Interval(float, 0.0, None, closed="neither") for name in (
    "like_bot", "like_real", "view_bot", "view_complete", "comment_bot", "comment_human", "share",
    "account_fresh", "account_aged", "crowd_task", "koc_post")})
class CostModel:
    """Retail prices in USD per unit (2024 basis), typical values (``docs/calibration.md``).

    Attributes
    ----------
    like_bot : 0.0015 — bot/panel like (NATO StratCom COE "Falling Behind" 2019 [I];
        Nevado-Catalán et al., Computers & Security 2022 [P]).
    like_real : 0.03 — "real"/geo-targeted like from click farms or task exchanges
        (De Cristofaro et al., IMC 2014 [P]).
    view_bot : 0.0005 — bot view (NATO StratCom 2020–2023 [I]).
    view_complete : 0.002 — completed view ([?] bot view x 4–6).
    comment_bot : 0.05 — templated bot comment (NATO StratCom 2019: €10 / 200 [I]).
    comment_human : 0.3 — human-written comment ([?] review markets).
    share : 0.015 — share / repost (Weibo repost prices, Chinese press 2019 [I]).
    account_fresh : 0.10 — fresh bot account (Thomas et al., USENIX Security 2013 [P]).
    account_aged : 2.0 — aged account (养号) ([?] ≈ 3x premium for history).
    crowd_task : 0.05 — paid crowd micro-task (microworkers.com average $0.112,
        Lee, Webb & Ge, ICWSM 2014 [P]; click-farm wages [I]).
    koc_post : 30.0 — interest-matched paid user post (Xiaohongshu lawsuit reporting [I]).

    Price accounting: service campaigns pay these retail action
    prices, whose sellers' accounts are inside the price; only an own-farm
    attacker pays per account. Never both.
    """

    like_bot: float = 0.0015
    like_real: float = 0.03
    view_bot: float = 0.0005
    view_complete: float = 0.002
    comment_bot: float = 0.05
    comment_human: float = 0.3
    share: float = 0.015
    account_fresh: float = 0.10
    account_aged: float = 2.0
    crowd_task: float = 0.05
    koc_post: float = 30.0

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _empty(dtype) -> np.ndarray:
    return np.empty(0, dtype)


@dataclass(frozen=True, kw_only=True)
class Campaign:
    """What an attack did: new accounts, recruited organic accounts, events, spend.

    Event ``account`` ids are global: new accounts are numbered from the number
    of accounts in the observation the attack saw.

    ``policy`` (optional) is the reactive part of a campaign: in the closed loop it
    is called at the start of every round as ``policy(obs, start, end, accounts=rows)``
    with the public observation and the rows its new accounts were placed on, and
    returns ``(columns, spend)`` (a policy whose ``queries_ranker`` is true is also given
    ``query=``, scores of a what-if observation by a fresh copy of the ranker under attack,
    and ``scores=``, the ranker's scores of ``obs``) — event columns
    ``(t, account, item, kind, value)`` inside ``[start, end)`` and their itemised
    cost. The loop checks that the total spend stays within the budget.

    ``life`` (optional, an :class:`~boostbench.attacks.mimic.EverydayLife`): the established
    accounts the new accounts mirror (aged bots' everyday life): the campaign's events hold
    the copies before the window; inside it the simulator makes them from the organic
    events as they happen (``life.templates``, ``life.on_day`` and ``life.copies``).

    ``account_price`` and ``account_uses``: what an own farm paid per new account
    and over how many campaigns it amortises it (price 0 for services), so the
    cost of replacing banned accounts can be reported.

    New accounts: the attack numbers them ``n_accounts + i`` (after the observed
    table) and gives each a *local* device index (``new_device``, 0-based, shared by
    the accounts on one device). The simulator places them on the world's reserved
    rows and device ids (``new_rows``, set by
    :meth:`~boostbench.simulate.RunBase.place`), so an id says nothing about who is
    behind an account; a policy is told the rows (``accounts=``).
    """

    attack: str
    budget: float
    targets: np.ndarray
    new_created_at: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    new_device: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    new_topic: np.ndarray = field(default_factory=lambda: _empty(np.int16))
    new_origin: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    life: object = None
    recruited: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    recruited_origin: int = 0
    t: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    account: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    item: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    kind: np.ndarray = field(default_factory=lambda: _empty(np.int8))
    value: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    spend: dict = field(default_factory=dict)
    shadow_priced: bool = False
    account_price: float = 0.0
    account_uses: float = 1.0
    new_rows: np.ndarray | None = None
    policy: object = None
    goal: str = "promote"

    def __post_init__(self):
        if self.spend_total > self.budget * (1 + 1e-12) + 1e-12:
            raise InvalidParameter(f"Campaign {self.attack!r} spent {self.spend_total} > budget "
                                   f"{self.budget}.", name="budget")
        templates = None if self.life is None else getattr(self.life, "templates", None)
        if self.life is not None and (templates is None
                                      or np.size(templates) != self.n_new_accounts):
            raise InvalidParameter(f"Campaign {self.attack!r}: life.templates must hold one "
                                   f"template per new account ({self.n_new_accounts}); got "
                                   f"{'none' if templates is None else np.size(templates)}.",
                                   name="life")

    @property
    def spend_total(self) -> float:
        return float(sum(self.spend.values()))

    @property
    def n_new_accounts(self) -> int:
        return len(self.new_created_at)

    @property
    def n_events(self) -> int:
        return len(self.t)

    def n_actions(self, kind: EventKind) -> int:
        return int(np.count_nonzero(self.kind == kind))


def empty_campaign(attack: str, budget: float, targets) -> Campaign:
    """A campaign that does nothing (what a zero budget buys)."""
    return Campaign(attack=attack, budget=float(budget), targets=np.asarray(targets, np.int64))


def check_attack_args(obs, targets, budget, window):
    """Validate the common attack arguments; returns (targets, budget, (start, end))."""
    budget = check_real("budget", budget, low=0.0, high=MAX_BUDGET, where="an attack")
    targets = np.asarray(targets, np.int64)
    if targets.ndim != 1 or targets.size == 0:
        raise InvalidParameter("The 'targets' parameter of an attack must be a non-empty 1-d "
                               "array of item ids.", name="targets")
    if targets.min() < 0 or targets.max() >= obs.n_items:
        raise InvalidParameter(f"The 'targets' parameter must hold item ids in [0, "
                               f"{obs.n_items - 1}].", name="targets")
    start, end = (float(x) for x in window)
    if not end > start:
        raise InvalidParameter(f"The 'window' parameter must have end > start. Got {window!r}.",
                               name="window")
    return targets, budget, (start, end)


@runtime_checkable
class Attack(Protocol):
    """Turns (public view, targets, budget, window, rng) into a Campaign."""

    name: str

    def __call__(self, obs: Observation, targets, budget: float, window, rng,
                 cost: CostModel = ...) -> Campaign: ...
