"""Resource bounds: a run's memory is estimated from its spec and refused before any world
is built when it does not fit."""

import pytest

from boostbench import cli
from boostbench.resources import check_fits, estimate, organic_events
from boostbench.runner import build_spec
from boostbench.errors import InvalidParameter


def _ratio(base, scenario):
    w = base.world
    actual = len(w.history) + len(base.window)
    return organic_events(w.config, w.config.history_hours + scenario.horizon_hours) / actual


def test_the_organic_event_estimate_bounds_a_saturated_world(tiny_base, tiny_scenario):
    # tiny accounts see most of the ~900 live posts, so they log fewer impressions than they
    # would open: the estimate is an upper bound there (x2.2)
    assert 1.0 < _ratio(tiny_base, tiny_scenario) < 3.0


@pytest.mark.slow
def test_the_organic_event_estimate_matches_the_default_world():
    from boostbench.runner import seed_setup
    from boostbench.scenario import get_scenario
    sc = get_scenario("default")
    _, base, _, _ = seed_setup(sc, 0)
    assert 0.9 < _ratio(base, sc) < 1.15


def test_the_estimate_grows_with_what_drives_memory():
    one = build_spec(scenario="tiny", rankers=["like_count"], attacks=["bot_farm"], seeds=(0, 1))
    e1 = estimate(one, 1)
    assert estimate(one, 2).peak_bytes == pytest.approx(2 * e1.peak_bytes)
    assert estimate(one, 8).workers == 2                  # never more workers than seeds
    assert estimate(one, 8, tasks=5).workers == 5         # ... than tasks, when seeds split
    assert estimate(one, 1, budget=1000.0).campaign_events == pytest.approx(
        e1.campaign_events * 1000.0 / one.budget)
    more = build_spec(scenario="tiny", rankers=["like_count", "wilson"],
                      attacks=["bot_farm", "task_crowd"], seeds=(0, 1))
    assert estimate(more, 1).cells_per_seed == 6 and estimate(more, 1).peak_bytes > e1.peak_bytes
    with pytest.raises(InvalidParameter, match="more than the limit of 0.1 GB") as e:
        check_fits(e1, 0.1)
    assert e.value.name == "max_memory"


def test_a_search_counts_the_worlds_its_workers_keep(monkeypatch, capsys):
    """cost --adaptive: each worker keeps every search and held-out seed's world for the
    whole search, so the estimate adds one history per kept seed — and a limit the grid
    alone fits refuses the search before any work."""
    from boostbench.resources import BYTES_PER_EVENT, organic_events
    spec = build_spec(scenario="default", rankers=["like_count"], attacks=["bot_farm"],
                      seeds=(0, 1, 2))
    plain, kept = estimate(spec, 1, budget=1.0), estimate(spec, 1, budget=1.0, cached_seeds=4)
    config = spec.scenario.world_config()
    assert kept.peak_bytes - plain.peak_bytes == pytest.approx(
        4 * BYTES_PER_EVENT * organic_events(config, config.history_hours))
    limit = (plain.peak_bytes + kept.peak_bytes) / 2e9     # the grid fits, the search not
    import boostbench.runner as runner
    monkeypatch.setattr(runner, "drawn_world", lambda *a, **k: pytest.fail("a world was built"))
    argv = ["cost", "--rankers", "like_count", "--attacks", "bot_farm", "--seeds", "3",
            "--cap", "1", "--jobs", "1", "--max-memory", f"{limit:.3f}", "--quiet"]
    assert cli.main([*argv, "--adaptive", "--search-seeds", "2"]) == 2
    assert "--max-memory: this run needs about" in capsys.readouterr().err


@pytest.mark.parametrize("argv, needle", [
    (["run", "--scenario", "tiny", "--max-memory", "0.1"], "GB (about"),
    (["run", "--scenario", "tiny", "--budget", "10000", "--max-memory", "2"], "campaign events"),
    (["sweep", "--scenario", "tiny", "--budgets", "0,9000", "--max-memory", "2"],
     "campaign events"),
    (["cost", "--scenario", "tiny", "--cap", "9000", "--max-memory", "2"], "campaign events"),
])
def test_a_run_that_does_not_fit_is_refused_before_any_world_is_built(argv, needle, monkeypatch,
                                                                      capsys, tmp_path):
    import boostbench.runner as runner

    def no_world(*a, **k):
        raise AssertionError("a world was built")
    monkeypatch.setattr(runner, "drawn_world", no_world)    # drawn or kept from earlier
    out = tmp_path / "r.json"
    assert cli.main([*argv, "--quiet", "--json", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("boostbench: error: --max-memory: this run needs about")
    assert needle.replace("GB (about", "GB") in err and "\n" not in err
    assert not out.exists()
