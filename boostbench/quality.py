"""Is a learned ranker a sensible model? Held-out predictive quality on the clean history.

A learned ranker offers ``quality(obs) -> {head: {metric: value}}`` (the
pXtr heads of :class:`~boostbench.rankers.learned.ModelRanker`, the like and view
predictions of :class:`~boostbench.rankers.wrmf.WRMF`): a model trained before a
held-out slice of the log, judged on it. :func:`model_quality` evaluates it on
each seed's clean world at the start of the attack window, so the figure says
how good the model is before anyone attacks it.
"""

from __future__ import annotations

from .errors import InvalidParameter, plugin_call
from .rankers.pipeline import build_ranker
from .runner import seed_setup
from .scenario import Scenario
from .stats import t_interval

__all__ = ["model_quality", "summarise_quality"]


def model_quality(specs, scenario: Scenario, seeds, tick=None) -> list[dict]:
    """Per-seed records ``{ranker, seed, head, metric, value}`` of each ranker's ``quality``
    on the clean observation at the start of the window of ``scenario``'s world."""
    rankers = [build_ranker(s) if isinstance(s, str) else s for s in specs]
    for r in rankers:
        if not callable(getattr(r, "quality", None)):
            raise InvalidParameter(f"Ranker {r.name!r} is not a learned ranker: it has no "
                                   "quality(obs) to evaluate.", name="rankers")
    rows = []
    for seed in seeds:
        _, base, _, _ = seed_setup(scenario, seed)
        obs = base.observation_at_start()
        for r in rankers:
            with plugin_call("ranker", r.name, "evaluating its held-out quality"):
                q = r.quality(obs)
            rows += [dict(ranker=r.name, seed=int(seed), head=head, metric=m, value=float(v))
                     for head, d in q.items() for m, v in d.items()]
            if tick is not None:
                tick()
    return rows


def summarise_quality(rows) -> list[dict]:
    """Mean and 95% t interval over seeds of each (ranker, head, metric)."""
    keys = list(dict.fromkeys((r["ranker"], r["head"], r["metric"]) for r in rows))
    out = []
    for k in keys:
        iv = t_interval([r["value"] for r in rows if (r["ranker"], r["head"], r["metric"]) == k])
        out.append(dict(ranker=k[0], head=k[1], metric=k[2], **iv.to_dict()))
    return out
