"""What a campaign buys: an attack and its budget, in readable form.

Kept apart from the measurement code so the Hypothesis hook can name the type
without importing the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidParameter

from .._core.params import MAX_BUDGET, check_real

__all__ = ["AttackPlan", "describe_attack"]


def describe_attack(attack) -> str:
    """One line: name, supplier, what each bundle does, pacing (and start delay)."""
    name = getattr(attack, "name", type(attack).__name__)
    supplier, mix, pacing = (getattr(attack, a, None) for a in ("supplier", "mix", "pacing"))
    if supplier is None or mix is None or pacing is None:
        return str(name)
    acts = [f"view={mix.view}"] + [f"{a}={getattr(mix, a):g}" for a in
                                   ("like", "comment", "share", "follow", "report",
                                    "not_interested") if getattr(mix, a)]
    delay = getattr(attack, "delay_hours", 0.0)
    when = pacing.describe() + (f" +{delay:g}h" if delay else "")
    label = name.split(":", 1)[1] if name.startswith("adaptive:") else name
    parts = [f"{supplier.name} ({supplier.pricing})", " ".join(acts), when]
    return f"{label}[{'; '.join(parts)}]"


@dataclass(frozen=True, eq=False)
class AttackPlan:
    """An attack and the money behind it (what ``strategies.campaigns`` draws).

    Parameters
    ----------
    attack : Attack
        A recipe or any callable ``(obs, targets, budget, window, rng, cost) -> Campaign``
        with a ``name``.
    budget : float in [0, inf)
        USD for the whole campaign (split by the attack across its targets).
    """

    attack: object
    budget: float

    def __post_init__(self):
        if not callable(self.attack) or not isinstance(getattr(self.attack, "name", None), str):
            raise InvalidParameter("The 'attack' parameter of AttackPlan must be an attack (a "
                                   f"callable with a name). Got {self.attack!r:.80} instead.",
                                   name="attack")
        object.__setattr__(self, "budget", check_real("budget", self.budget, low=0.0,
                                                      high=MAX_BUDGET, where="AttackPlan"))

    @property
    def name(self) -> str:
        return self.attack.name

    @property
    def goal(self) -> str:
        return getattr(self.attack, "goal", "promote")

    def describe(self) -> str:
        return f"{describe_attack(self.attack)} for ${self.budget:.2f}"

    def __repr__(self) -> str:
        return f"AttackPlan({self.describe()})"

    def _repr_pretty_(self, p, cycle) -> None:  # Hypothesis' and IPython's printer
        p.text(repr(self))
