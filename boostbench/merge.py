"""Join result shards — the same command run on disjoint seeds, by hand or on several
machines — into the one result file the unsharded run would have written.

Records are per seed, and every seed has its own random streams, so a shard's records
are exactly the records those seeds give in any run: merging concatenates them in seed
order and recomputes the summary from them. Shards must agree on everything but their
seeds (scenario, world, rankers, attacks, budgets, package versions — numpy included,
since random streams are only guaranteed identical on the same numpy build).
"""

from __future__ import annotations

from .errors import InvalidParameter
from .plugins import METRICS
from .report import read_results, summarize, summarize_cost

__all__ = ["merge_results", "MERGEABLE"]

#: The commands whose ``--json`` files merge.
MERGEABLE = ("run", "sweep", "cost")
#: Manifest keys that may differ between shards.
_PER_SHARD = {"seeds", "executor", "platform", "python"}


def _by_seed(records: list[dict]) -> list[dict]:
    """Records in seed order, each seed's in the order its shard wrote them."""
    return sorted(records, key=lambda r: r["seed"])


def merge_results(paths) -> dict:
    """The result payload of the shards at ``paths`` (at least two), merged.

    Raises
    ------
    InvalidParameter
        Naming ``SHARDS``: an unreadable file or another schema version, shards of
        different commands or configurations, overlapping seeds, or adaptive searches
        that differ.
    """
    paths = list(paths)
    if len(paths) < 2:
        raise InvalidParameter(f"SHARDS: merge needs at least two result files. Got "
                               f"{len(paths)}.", name="SHARDS")
    shards = [read_results(p, "SHARDS", MERGEABLE) for p in paths]
    first = shards[0]["manifest"]
    for p, d in zip(paths[1:], shards[1:]):
        m = d["manifest"]
        differ = sorted(k for k in set(first) | set(m)
                        if k not in _PER_SHARD and first.get(k) != m.get(k))
        if differ:
            raise InvalidParameter(f"SHARDS: {str(p)!r} differs from {str(paths[0])!r} in "
                                   f"{', '.join(differ)}; only the seeds may differ.",
                                   name="SHARDS")
    seen: dict[int, str] = {}
    for p, d in zip(paths, shards):
        for s in d["manifest"].get("seeds", []):
            if s in seen:
                raise InvalidParameter(f"SHARDS: seed {s} is in both {seen[s]!r} and "
                                       f"{str(p)!r}; shards must have disjoint seeds.",
                                       name="SHARDS")
            seen[s] = str(p)
    manifest = dict(first, seeds=sorted(seen),
                    executor={"kind": "merged",
                              "shards": [{"file": str(p), "seeds": d["manifest"].get("seeds"),
                                          "executor": d["manifest"].get("executor")}
                                         for p, d in zip(paths, shards)]})
    if first["command"] == "run":
        records = _by_seed([r for d in shards for r in d["records"]])
        present = set().union(*(r.keys() for r in records)) if records else set()
        metrics = tuple(n for n, _ in METRICS.items() if n in present)   # a --log run leaves
        # out what its log does not record
        return {"manifest": manifest, "records": records, "summary": summarize(records, metrics)}
    searches = shards[0].get("searches", [])
    if any(d.get("searches", []) != searches for d in shards[1:]):
        raise InvalidParameter("SHARDS: the shards' adaptive searches differ (they run on the "
                               "search seeds, the same in every shard); re-run them with the "
                               "same options.", name="SHARDS")
    runs = _by_seed([r for d in shards for r in d["runs"]])
    return {"manifest": manifest, "records": summarize_cost(runs), "runs": runs,
            "searches": searches}
