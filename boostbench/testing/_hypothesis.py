"""The ``hypothesis`` entry point: ``st.from_type`` for boostbench's attack and world types.

Hypothesis calls :func:`_hypothesis_setup_hook` when it is imported. The hook
registers *functions* (not strategies) for the types, so the strategies module
is imported only when ``from_type`` first needs one; a failure here warns
instead of breaking ``import hypothesis``. Set ``HYPOTHESIS_NO_PLUGINS=1`` to
skip every such hook.
"""

from __future__ import annotations

import importlib
import warnings

_TYPES = {
    "boostbench.attacks.compose": {"Recipe": "recipes", "Supplier": "suppliers",
                                   "SignalMix": "signal_mixes", "Pacing": "pacings"},
    "boostbench.testing._plan": {"AttackPlan": "campaigns"},
    "boostbench.world": {"WorldConfig": "world_configs", "World": "worlds"},
}


def _lazy(strategy_name: str):
    def make(_type):
        strategies = importlib.import_module("boostbench.testing.strategies")
        return getattr(strategies, strategy_name)()
    return make


def _hypothesis_setup_hook() -> None:
    try:
        from hypothesis import strategies as st
        for module, names in _TYPES.items():
            mod = importlib.import_module(module)
            for type_name, strategy_name in names.items():
                st.register_type_strategy(getattr(mod, type_name), _lazy(strategy_name))
    except Exception as e:  # never break `import hypothesis` for everybody else
        warnings.warn(f"boostbench could not register its Hypothesis strategies: "
                      f"{type(e).__name__}: {e}", RuntimeWarning, stacklevel=2)
