"""How a run's seeds are split over worker processes: every (seed, ranker) once, families
kept together, the same records whatever the split."""

import json

from hypothesis import given
from hypothesis import strategies as st

from boostbench import cli
from boostbench.executors import seed_parts
from boostbench.rankers import build_ranker

RANKERS = [build_ranker(s) for s in ("random", "like_count", "engagement_depth",
                                     "like_count+require_view+lockstep", "real_interaction",
                                     "real_interaction+device_dedup+lockstep",
                                     "engagement_depth+account_trust")]


@given(st.integers(1, 9), st.integers(1, 8))
def test_every_seed_and_ranker_is_in_exactly_one_part(n_seeds, workers):
    seeds = list(range(10, 10 + n_seeds))
    parts = seed_parts(seeds, RANKERS, workers)
    cells = sorted((pos, j) for pos, _, idx in parts for j in idx)
    assert cells == [(p, j) for p in range(n_seeds) for j in range(len(RANKERS))]
    assert all(seeds[pos] == s for pos, s, _ in parts)
    # seeds are whole while at least `workers` are left; only the rest are split
    split = {pos for pos, _, idx in parts if len(idx) < len(RANKERS)}
    assert split <= set(range(n_seeds - n_seeds % workers, n_seeds))
    assert len(parts) >= min(workers, n_seeds) or len(split) == 0


def test_a_defended_ranker_stays_with_its_scorer_and_parts_are_balanced():
    parts = seed_parts([0, 1, 2], RANKERS, 2)
    assert [p[:2] for p in parts[:2]] == [(0, 0), (1, 1)]
    assert all(len(idx) == len(RANKERS) for _, _, idx in parts[:2])
    last = [set(idx) for pos, _, idx in parts if pos == 2]
    assert len(last) == 2
    for scorer, defended in ((1, 3), (4, 5), (2, 6)):
        assert any({scorer, defended} <= part for part in last)
    # seven rankers in families of 1, 2, 2, 2 over two parts: 4 and 3
    assert sorted(len(p) for p in last) == [3, 4]


def test_a_split_seed_gives_the_records_of_the_whole_seed(tmp_path):
    base = ["run", "--scenario", "tiny", "--seeds", "1", "--quiet",
            "--rankers", "like_count,engagement_depth,like_count+require_view",
            "--attacks", "bot_farm,top_up"]
    out = {}
    for jobs in ("1", "2"):
        path = tmp_path / f"j{jobs}.json"
        assert cli.main([*base, "--jobs", jobs, "--json", str(path)]) == 0
        out[jobs] = json.loads(path.read_text())["records"]
    assert [(r["ranker"], r["attack"]) for r in out["2"]] == [
        (r, a) for r in ("like_count", "engagement_depth", "like_count+require_view")
        for a in ("bot_farm", "top_up")]
    assert out["1"] == out["2"]


def _threads(_):
    import os
    return os.environ.get("BOOSTBENCH_THREADS")


def test_workers_share_the_cpus_as_the_loops_thread_budget(monkeypatch):
    from boostbench._core.machine import usable_cpus
    from boostbench.executors import pool
    monkeypatch.delenv("BOOSTBENCH_THREADS", raising=False)
    with pool(2) as ex:
        assert set(ex.map(_threads, range(2))) == {str(max(1, usable_cpus() // 2))}
    monkeypatch.setenv("BOOSTBENCH_THREADS", "7")        # the user's setting stands
    with pool(2) as ex:
        assert set(ex.map(_threads, range(2))) == {"7"}
