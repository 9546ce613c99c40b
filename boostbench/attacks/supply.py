"""Suppliers: where a campaign's accounts come from and how they are paid for.

A :class:`Supplier` combines an *account source* (new accounts, a paid crowd
recruited from active users, interest-matched users, a ring of creators) with a
*pricing* (a bot service, a human service, crowd tasks, an own farm, or the shadow
price of a ring's reciprocity). Each source and each pricing is one small class;
a new one is a class and a line in :data:`ACCOUNT_SOURCES` or :data:`PRICINGS`.
Named suppliers are registered in :data:`boostbench.plugins.SUPPLIERS`.

Price accounting: service suppliers pay retail per-action
prices; an own-farm attacker pays per account (amortised over ``uses``
campaigns) and nothing per action; rings pay in reciprocity and are
shadow-priced at the crowd-task price. Never two of these at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from .._core.arrays import distinct
from .._core.params import Boolean, InstanceOf, Interval, Options, SequenceOf, declare
from .._core.random import STREAMS, hash_uniforms
from .._core.units import DAY
from ..errors import InvalidParameter
from ..events import EventKind as K
from ..observation import Observation
from ..world import Origin
from .base import CostModel

__all__ = ["Supplier", "ACCOUNT_SOURCES", "PRICINGS", "AccountSource", "Pricing", "shuffle"]

_S_RING_ORDER = STREAMS.claim("campaign", "ring.order", 11)
_S_CROWD_ORDER = STREAMS.claim("campaign", "crowd.order", 12)


def shuffle(a, key: int, stream: int) -> np.ndarray:
    """A fixed pseudo-random order of ``a`` (by hashed keys)."""
    a = np.asarray(a, np.int64)
    return a[np.argsort(hash_uniforms(key, stream, a), kind="stable")]


# --- account sources -------------------------------------------------------------------------

class AccountSource:
    """Where accounts come from: ``pools`` gives, per target, the organic accounts to
    recruit in plan order, or None when the attacker brings new accounts."""

    new: ClassVar[bool] = False
    recruits_creators: ClassVar[bool] = False   # the targets' creators join (and like back)

    def pools(self, obs: Observation, targets, start: float, key: int):
        raise NotImplementedError


class NewAccounts(AccountSource):
    """Accounts the attacker creates or buys (numbered after the observed ones)."""

    new = True

    def pools(self, obs, targets, start, key):
        return None


def _active(obs: Observation, key: int) -> np.ndarray:
    """Organic accounts active in the last day, in a fixed pseudo-random order."""
    t, account, _, _, _ = obs.events
    active = distinct(account[t > obs.now - DAY])
    return shuffle(active[active < obs.n_accounts], key, _S_CROWD_ORDER)


class CrowdAccounts(AccountSource):
    """Active users recruited by a crowd platform (anyone but the target's creator)."""

    def pools(self, obs, targets, start, key):
        active = _active(obs, key)
        return [active[active != c] for c in obs.items.creator[targets]]


class MatchedAccounts(AccountSource):
    """Active users of the target's topic (interest-matched paid users)."""

    matches_topics = True      # reads interest topics (a recorded log has none)

    def pools(self, obs, targets, start, key):
        active = _active(obs, key)
        items = obs.items
        return [active[(obs.accounts.topic[active] == items.topic[x]) & (active != c)]
                for x, c in zip(targets, items.creator[targets])]


class RingAccounts(AccountSource):
    """The targets' creators first, then other creators who had posted by the start."""

    recruits_creators = True

    def pools(self, obs, targets, start, key):
        items = obs.items
        creators = items.creator[targets]
        posted = np.flatnonzero(items.created_at <= start)
        others = np.setdiff1d(distinct(items.creator[posted]), creators)
        ring = np.concatenate([distinct(creators), shuffle(others, key, _S_RING_ORDER)])
        return [ring[ring != c] for c in creators]   # nobody likes their own post


ACCOUNT_SOURCES = {"new": NewAccounts(), "crowd": CrowdAccounts(), "matched": MatchedAccounts(),
                   "ring": RingAccounts()}


# --- pricings -----------------------------------------------------------------------------------

class Pricing:
    """What one action costs: ``unit(kind, view, cost) -> (spend item, price)``."""

    per_account: ClassVar[bool] = False   # an own farm pays per account instead
    shadow: ClassVar[bool] = False        # a ring's reciprocity, shadow-priced

    def unit(self, kind: int, view: str, cost: CostModel) -> tuple[str, float]:
        raise NotImplementedError


class _Table(Pricing):
    """Retail prices looked up per action kind."""

    def table(self, view: str, cost: CostModel) -> dict:
        raise NotImplementedError

    def unit(self, kind, view, cost):
        return self.table(view, cost)[kind]


class BotService(_Table):
    """A bot service's retail prices (short views at the bot view price)."""

    def table(self, view, cost):
        return {K.VIEW: ("view_bot", cost.view_bot) if view == "short"
                else ("view_complete", cost.view_complete),
                K.LIKE: ("like_bot", cost.like_bot), K.COMMENT: ("comment_bot", cost.comment_bot),
                K.SHARE: ("share", cost.share), K.FOLLOW: ("follow_bot", cost.like_bot),
                K.REPORT: ("report_bot", cost.like_bot),
                K.NOT_INTERESTED: ("not_interested_bot", cost.like_bot)}


class HumanService(_Table):
    """Real people's retail prices (completed views, human comments)."""

    def table(self, view, cost):
        return {K.VIEW: ("view_complete", cost.view_complete),
                K.LIKE: ("like_real", cost.like_real),
                K.COMMENT: ("comment_human", cost.comment_human), K.SHARE: ("share", cost.share),
                K.FOLLOW: ("follow_real", cost.like_real),
                K.REPORT: ("report_real", cost.like_real),
                K.NOT_INTERESTED: ("not_interested_real", cost.like_real)}


class CrowdTask(Pricing):
    """A micro-task per action; the view is part of the task."""

    item = "crowd_task"

    def unit(self, kind, view, cost):
        if kind == K.VIEW:
            return "", 0.0
        return self.item, cost.crowd_task


class Shadow(CrowdTask):
    """A ring pays in reciprocity: its actions at the crowd-task price, marked as a shadow."""

    shadow = True
    item = "crowd_task (shadow)"


class OwnFarm(Pricing):
    """The attacker's own accounts: nothing per action, the account price amortised."""

    per_account = True

    def unit(self, kind, view, cost):
        return "", 0.0


PRICINGS = {"bot_service": BotService(), "human_service": HumanService(),
            "crowd_task": CrowdTask(), "own_farm": OwnFarm(), "shadow": Shadow()}


# --- suppliers -------------------------------------------------------------------------------

@dataclass(frozen=True)
@declare(name=InstanceOf(str, "a string"), origin=InstanceOf(int, "an Origin"),
         accounts=Options(*ACCOUNT_SOURCES), pricing=Options(*PRICINGS),
         age_days=SequenceOf(Interval(float, 0.0, None), min_len=2, max_len=2, increasing=True),
         accounts_per_device=Interval(int, 1, None),
         account_price=Options("account_fresh", "account_aged"),
         uses=Interval(float, 1.0, None), camouflage=Boolean())
class Supplier:
    """Where the accounts come from and how they are paid for.

    Parameters
    ----------
    name : str
    origin : Origin
        Hidden label of the accounts (Truth).
    accounts : one of ACCOUNT_SOURCES
        ``new`` accounts the attacker creates or buys; organic accounts active in
        the last day recruited by a ``crowd`` platform; organic accounts of the
        target's topic (``matched``: interest-matched paid users); or a ``ring``
        around the target creators.
    pricing : one of PRICINGS
    age_days : (float, float)
        Age range of new accounts at the window start.
    accounts_per_device : int
        Device fingerprints are shared by this many new accounts.
    account_price : str
        CostModel field an own farm pays per account (``account_fresh`` / ``account_aged``).
    uses : float
        Campaigns an own-farm account is amortised over (≈ 50 [?]: no published figure).
    camouflage : bool
        Each new account lives an established account's everyday life (aged bots, 养号):
        it mirrors a template account's activity on other posts of the same kind, from
        the start of the visible history to the end of the run (:mod:`.mimic`).
    """

    name: str
    origin: Origin
    accounts: str = "new"
    pricing: str = "bot_service"
    age_days: tuple = (0.0, 3.0)
    accounts_per_device: int = 20
    account_price: str = "account_fresh"
    uses: float = 50.0
    camouflage: bool = False

    def __post_init__(self):
        if self.own_farm and not self.source.new:
            raise InvalidParameter("Only new accounts can be an own farm (pricing='own_farm' "
                                   "needs accounts='new').", name="pricing")

    @property
    def source(self) -> AccountSource:
        return ACCOUNT_SOURCES[self.accounts]

    @property
    def own_farm(self) -> bool:
        """Pays per account (amortised), not per action."""
        return PRICINGS[self.pricing].per_account

    @property
    def shadow_priced(self) -> bool:
        return PRICINGS[self.pricing].shadow

    def pools(self, obs: Observation, targets, start: float, key: int):
        """Per target, the recruitable organic accounts in plan order (None: new accounts)."""
        return self.source.pools(obs, targets, start, key)

    def unit(self, kind: int, view: str, cost: CostModel) -> tuple[str, float]:
        """(spend item, price) of one action of ``kind``."""
        return PRICINGS[self.pricing].unit(kind, view, cost)
