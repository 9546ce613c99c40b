"""Labelled synthetic traffic out: what a run wrote is exactly the run's events, labelled."""

import json

import numpy as np

from boostbench import cli
from boostbench.events import EventKind as K
from boostbench.rankers import build_ranker
from boostbench.simulate import closed_loop
from boostbench.traffic import TRAFFIC_COLUMNS, read_traffic, traffic_path

from helpers import make_campaign


def test_exported_traffic_reads_back_as_the_runs_labelled_events(tiny_base, tmp_path):
    campaign = make_campaign(tiny_base, "aged_bots", 2.0)
    got = {}
    closed_loop(tiny_base, build_ranker("like_count"), campaign,
                on_traffic=lambda tr: got.setdefault("tr", tr))
    t, acc, itm, kind, val, fake = got["tr"]
    assert fake.any() and (~fake).any()
    assert (t[~fake] < tiny_base.world.t0).any()          # the organic history comes along
    assert (t[fake] < tiny_base.world.t0).any()           # and the camouflage history
    from boostbench.traffic import write_traffic
    path = tmp_path / "x.csv"
    write_traffic(path, got["tr"], campaign="aged_bots@seed0", recipe="aged_bots")
    back = read_traffic(path)
    np.testing.assert_array_equal(back["time"], t)        # exact round trip
    np.testing.assert_array_equal(back["account"], acc)
    np.testing.assert_array_equal(back["item"], itm)
    np.testing.assert_array_equal(back["kind"], kind)
    np.testing.assert_array_equal(back["value"], val.astype(np.float64))
    np.testing.assert_array_equal(back["is_campaign"], fake)
    assert set(back["campaign"][fake]) == {"aged_bots@seed0"}
    assert set(back["recipe"][~fake]) == {""}
    # the bought likes on the targets are all labelled
    bought = (back["kind"] == K.LIKE) & np.isin(back["item"], campaign.targets) & \
        np.isin(back["account"], np.unique(acc[fake]))
    assert bought.any() and back["is_campaign"][bought].all()


def test_run_export_traffic_writes_one_file_per_attacked_run(tmp_path, capsys):
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "2", "--rankers", "like_count",
                     "--attacks", "bot_farm", "--quiet", "--export-traffic", str(tmp_path)]) == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["recipes.json", traffic_path(tmp_path, 0, "like_count", "bot_farm").name,
                     traffic_path(tmp_path, 1, "like_count", "bot_farm").name]
    header = (tmp_path / files[1]).read_text().splitlines()[0]
    assert header == ",".join(TRAFFIC_COLUMNS)
    recipes = json.loads((tmp_path / "recipes.json").read_text())["recipes"]
    assert recipes["bot_farm"]["name"] == "bot_farm"
    assert cli.main(["run", "--scenario", "tiny", "--export-traffic",
                     str(tmp_path / "missing")]) == 2
    assert "--export-traffic" in capsys.readouterr().err
