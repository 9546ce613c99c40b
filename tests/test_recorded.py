"""Your own log under attack: reading a recorded log, the world it makes, replaying campaigns
against it, and leaving out what it does not record."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from boostbench import cli
from boostbench.errors import InvalidParameter
from boostbench.events import EventKind as K
from boostbench.metrics import available
from boostbench.recorded import parse_columns, read_log, recorded_world
from boostbench.runner import build_spec, run_matrix
from boostbench.scenario import get_scenario
from boostbench.simulate import replay
from boostbench.traffic import KINDS, read_traffic, traffic_path
from boostbench.world import Origin

from helpers import make_campaign

OWN = Path(__file__).parent / "data" / "own_log.csv"
FULL = ("time=ts,account=user_id,item=video_id,kind=action,value=watch_ratio,creator=author_id,"
        "quality=quality_score,created=signup,device=device_id")
MINIMAL = "time=ts,account=user_id,item=video_id,kind=action,value=watch_ratio"


def write(path, header, rows):
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def small_log(tmp_path, n_accounts=12, extra=None, header=("time", "account", "item", "kind",
                                                          "value")):
    """Two days of one view and one like per account per 6 hours, on a few items."""
    rows = []
    for h in range(0, 48, 6):
        for a in range(n_accounts):
            item = (a + h) % 5 + h // 12
            rows.append((h * 3600 + a, f"acc{a}", f"it{item}", "view", 0.5))
            rows.append((h * 3600 + a + 1, f"acc{a}", f"it{item}", "LIKE", ""))
    return write(tmp_path / "log.csv", header, rows + (extra or []))


def test_read_log_maps_columns_ids_and_iso_times():
    log = read_log(OWN, FULL)
    assert log.source["events"] == 3019 and len(log.t) == 3019
    assert np.all(np.diff(log.t) >= 0) and log.t[0] == 0.0
    assert log.account_ids.dtype.kind == "U" and log.account_ids[0].startswith("u")
    assert set(np.unique(log.kind)) <= {int(K.VIEW), int(K.LIKE), int(K.COMMENT), int(K.SHARE),
                                        int(K.FOLLOW), int(K.NOT_INTERESTED)}
    # the first row of the file, by hand: 2026-01-05T00:14:51.050 is the first event
    assert log.origin == pytest.approx(np.datetime64("2026-01-05T00:14:51.050", "ms")
                                       .astype(np.int64) / 1e3)
    views = log.kind == K.VIEW
    assert (log.value[views] >= 0).all() and (log.value[views] <= 1).all()
    assert (log.value[(log.kind == K.LIKE)] == 0).all()
    assert log.unknown == {"impressions", "topics"}    # a log of acts and views
    assert read_log(OWN, MINIMAL).unknown == {"quality", "creators", "devices", "ages",
                                              "impressions", "topics"}


def test_integer_ids_stay_integers_in_numeric_order(tmp_path):
    rows = [(i * 60, 10 - i % 11, 100 - i % 3, "like", 0) for i in range(40)]
    log = read_log(write(tmp_path / "x.csv", ("time", "account", "item", "kind", "value"), rows))
    assert log.account_ids.dtype == np.int64 and list(log.account_ids) == list(range(0, 11))
    assert list(log.item_ids) == [98, 99, 100]


@pytest.mark.parametrize("rows, columns, match", [
    ([(0, "a", "i", "poke", 0)], None, "poke"),
    ([("yesterday", "a", "i", "like", 0)], None, "not seconds or an ISO 8601"),
    ([(0, "a", "i", "view", 1.5)], None, r"completion must be in \[0, 1\]"),
    ([(0, "a", "i", "comment", -3)], None, "length >= 0"),
    ([(0, "a", "i", "like", 0)], "account=user", "no column 'user'"),
    ([(0, "a", "i", "like", 0)], "acount=user", "unknown role 'acount'"),
    ([(0, "a", "i", "like", 0)], "item", "role=COLUMN"),
])
def test_bad_logs_are_refused_with_the_reason(tmp_path, rows, columns, match):
    path = write(tmp_path / "bad.csv", ("time", "account", "item", "kind", "value"),
                 rows + [(60 * i, f"b{i}", "j", "like", 0) for i in range(12)])
    with pytest.raises(InvalidParameter, match=match):
        read_log(path, columns)


def test_per_item_columns_must_agree_and_values_are_needed_for_views(tmp_path):
    head = ("time", "account", "item", "kind", "value", "q")
    rows = [(60 * i, f"a{i}", "x", "like", 0, 0.2 if i < 5 else 0.3) for i in range(12)]
    with pytest.raises(InvalidParameter, match="one value per item"):
        read_log(write(tmp_path / "q.csv", head, rows), "quality=q")
    rows = [(60 * i, f"a{i}", "x", "like", 0, 2.0) for i in range(12)]
    with pytest.raises(InvalidParameter, match=r"must be in \[0, 1\]"):
        read_log(write(tmp_path / "q.csv", head, rows), "quality=q")
    rows = [(60 * i, f"a{i}", "x", "view") for i in range(12)]
    with pytest.raises(InvalidParameter, match="no column 'value'"):
        read_log(write(tmp_path / "v.csv", ("time", "account", "item", "kind"), rows))
    rows = [(60 * i, f"a{i}", "x", "like", 0) for i in range(5)]
    with pytest.raises(InvalidParameter, match="at least 10"):
        read_log(write(tmp_path / "few.csv", head[:5], rows))


def test_an_account_cannot_act_before_it_was_created(tmp_path):
    rows = [(100 + i, f"a{i}", "x", "like", 0, 50 if i else 500) for i in range(12)]
    with pytest.raises(InvalidParameter, match="acts before it was created"):
        read_log(write(tmp_path / "c.csv", ("time", "account", "item", "kind", "value", "made"),
                       rows), "created=made")


def test_recorded_world_splits_history_and_window_and_hides_who_is_who(tmp_path):
    log = read_log(small_log(tmp_path)).with_window(18 * 3600)
    w = recorded_world(log, horizon_hours=24, seed=3)
    assert w.t0 == 18 * 3600.0 and w.behaviour is None
    t_hist = w.history.columns()[0]
    t_win = w.recorded.window.columns()[0]
    assert (t_hist < w.t0).all() and (t_win >= w.t0).all()
    # events past the horizon's end (42 h) are not replayed
    assert len(w.history) + len(w.recorded.window) == np.count_nonzero(log.t <= 42 * 3600)
    # items in order of their first event; accounts interleaved with the reserve
    assert np.all(np.diff(w.items.created_at) >= 0)
    organic = np.flatnonzero(w.truth.account_origin == Origin.ORGANIC)
    assert organic.size == 12 and organic.max() > 12       # not simply the first rows
    assert (w.truth.account_origin == Origin.RESERVED).sum() == 5000   # MIN_RESERVE
    assert np.isnan(w.truth.quality).all() and "quality" in w.truth.unknown
    # an account with no creation time is created at its first logged event
    acc0 = organic[np.flatnonzero(w.recorded.account_ids[organic] == "acc0")[0]]
    assert w.accounts.created_at[acc0] == pytest.approx(0.0)
    # activity: events per active day (acc0: 16 events on 2 days)
    assert w.truth.activity[acc0] == pytest.approx(8.0)


def test_window_start_out_of_the_log_is_refused(tmp_path):
    log = read_log(small_log(tmp_path))
    with pytest.raises(InvalidParameter, match="window_start|window"):
        recorded_world(log.with_window(30 * 3600), horizon_hours=24)
    with pytest.raises(InvalidParameter, match="longer log"):
        recorded_world(log, horizon_hours=60)


def test_zero_budget_on_a_recorded_world_is_the_clean_replay():
    log = read_log(OWN, MINIMAL)
    sc = get_scenario("tiny")
    w = recorded_world(log, horizon_hours=sc.horizon_hours, seed=0)
    base = sc.run_base(w, 0)
    from boostbench.rankers import build_ranker
    r = build_ranker("like_count")
    clean = replay(base, r)
    zero = replay(base, r, make_campaign(base, "bot_farm", 0.0))
    np.testing.assert_array_equal(clean.ranks, zero.ranks)
    att = replay(base, r, make_campaign(base, "bot_farm", 2.0))
    assert (att.ranks[:, base.targets] < clean.ranks[:, base.targets]).any()


def test_public_target_rule_picks_new_items_the_audience_liked_least():
    log = read_log(OWN, MINIMAL)
    sc = get_scenario("tiny")
    w = recorded_world(log, horizon_hours=sc.horizon_hours)
    base = sc.run_base(w, 0)
    _, _, itm, kind, _ = w.recorded.window.columns()
    views = np.bincount(itm[kind == K.VIEW], minlength=len(w.items))
    likes = np.bincount(itm[kind == K.LIKE], minlength=len(w.items))
    rate = (likes + 1.0) / (views + 2.0)
    new = np.flatnonzero((w.items.created_at >= w.t0)
                         & (w.items.created_at < w.t0 + sc.attack_hours * 3600) & (views > 0))
    cut = np.quantile(rate[new], sc.low_quality_quantile)
    assert (w.items.created_at[base.targets] >= w.t0).all()
    assert (rate[base.targets] <= cut).all()
    assert (rate[base.rival_targets] >= np.quantile(rate[new], 1 - sc.low_quality_quantile)).all()
    given = log.with_window(targets=[w.recorded.item_ids[5], w.recorded.item_ids[9]])
    base2 = sc.with_(n_targets=2).run_base(recorded_world(given, horizon_hours=24), 0)
    assert list(base2.targets) == [5, 9]
    with pytest.raises(InvalidParameter, match="lacks"):
        log.with_window(targets=["nope"])


def test_metrics_that_need_what_the_log_lacks_are_left_out_not_computed():
    names, left = available({"quality"})
    assert "feed_quality" in left and "low_quality_exposure_share" in left
    assert "log_rank_lift" in names and "honest_demoted" in names
    minimal = read_log(OWN, MINIMAL)
    spec = build_spec(scenario="tiny", rankers=["like_count+require_view"], attacks=["bot_farm"],
                      seeds=[0], mode="replay")
    rec, = run_matrix(replace(spec, log=minimal))[0]
    assert "feed_quality" not in rec and "fp_new_accounts" not in rec
    assert "honest_demoted" in rec and np.isfinite(rec["log_rank_lift"])
    assert "extra_organic_impressions" not in rec      # the log has no impressions
    full = read_log(OWN, FULL)
    rec, = run_matrix(replace(spec, log=full))[0]
    assert np.isfinite(rec["quality_ndcg_at_k"]) and "fp_new_accounts" in rec
    assert "feed_quality" not in rec                   # what was shown is not logged


def test_a_log_refuses_the_closed_loop_and_what_needs_unrecorded_columns():
    minimal = read_log(OWN, MINIMAL)
    closed = build_spec(scenario="tiny", rankers=["like_count"], attacks=["bot_farm"],
                        seeds=[0])
    with pytest.raises(InvalidParameter, match="replay"):
        replace(closed, log=minimal)
    spec = build_spec(scenario="tiny", rankers=["oracle_quality"], attacks=["bot_farm"],
                      seeds=[0], mode="replay")
    with pytest.raises(InvalidParameter, match="quality=COLUMN"):
        replace(spec, log=minimal)
    spec = build_spec(scenario="tiny", rankers=["like_count"], attacks=["mutual_like_ring"],
                      seeds=[0], mode="replay")
    with pytest.raises(InvalidParameter, match="creator=COLUMN"):
        replace(spec, log=minimal)


def test_exported_traffic_round_trips_through_log(tmp_path, capsys):
    """--export-traffic writes a log that --log reads back: the same events, ids and times."""
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--rankers", "like_count",
                     "--attacks", "bot_farm", "--mode", "replay", "--quiet",
                     "--export-traffic", str(tmp_path)]) == 0
    path = traffic_path(tmp_path, 0, "like_count", "bot_farm")
    t0 = json.loads((tmp_path / "recipes.json").read_text())["manifest"]["t0"]
    exported = read_traffic(path)
    log = read_log(path)
    order = np.argsort(exported["time"], kind="stable")
    np.testing.assert_allclose(log.t + log.origin, exported["time"][order], rtol=0, atol=1e-9)
    assert log.unknown == {"quality", "creators", "devices", "ages", "topics"}
    np.testing.assert_array_equal(log.account_ids[log.account], exported["account"][order])
    np.testing.assert_array_equal(log.item_ids[log.item], exported["item"][order])
    np.testing.assert_array_equal(log.kind, exported["kind"][order])
    capsys.readouterr()
    out = tmp_path / "again.json"
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--rankers", "like_count",
                     "--attacks", "task_crowd", "--log", str(path), "--window-start", str(t0),
                     "--quiet", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "your log" in text and "not available on this log" in text
    result = json.loads(out.read_text())
    assert result["manifest"]["world"]["recorded_log"]["sha256"]
    assert result["manifest"]["mode"] == "replay"
    assert result["records"][0]["attack"] == "task_crowd"


def test_cli_own_log_with_its_own_columns_and_errors(tmp_path, capsys):
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "2", "--log", str(OWN),
                     "--columns", FULL, "--rankers", "like_count,oracle_quality",
                     "--attacks", "bot_farm,mutual_like_ring", "--quiet", "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert "low-quality by your quality column" in out.err
    assert "like_count,mutual_like_ring" in out.out
    bad = [(["--mode", "closed"], "replay"), (["--size", "tiny"], "--size"),
           (["--world", "fan_share=0.1"], "--world does not go with --log"),
           (["--targets", "v9999"], "--targets"), (["--metrics", "feed_quality"], "quality"),
           (["--columns", "when=ts"], "--columns"), (["--window-start", "2030-01-01"], "window")]
    for extra, word in bad:
        cols = [] if "--columns" in extra else ["--columns", MINIMAL]
        code = cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--log", str(OWN),
                         *cols, "--quiet", *extra])
        err = capsys.readouterr().err
        assert code == 2 and word in err, (extra, err)
    assert cli.main(["run", "--scenario", "tiny", "--targets", "v1"]) == 2
    assert "--targets goes with --log" in capsys.readouterr().err


def test_parquet_log_reads_like_its_csv(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    csv_log = read_log(OWN, MINIMAL)
    import csv
    with open(OWN, newline="") as f:
        rows = list(csv.DictReader(f))
    table = pa.table({
        "ts": pa.array(np.array([r["ts"] for r in rows], "datetime64[ms]")),
        "user_id": [r["user_id"] for r in rows], "video_id": [r["video_id"] for r in rows],
        "action": [r["action"] for r in rows],
        "watch_ratio": np.array([float(r["watch_ratio"]) for r in rows])})
    pq.write_table(table, tmp_path / "own.parquet")
    pq_log = read_log(tmp_path / "own.parquet", MINIMAL)
    np.testing.assert_allclose(pq_log.t, csv_log.t, atol=1e-6)
    np.testing.assert_array_equal(pq_log.account_ids[pq_log.account],
                                  csv_log.account_ids[csv_log.account])
    np.testing.assert_array_equal(pq_log.kind, csv_log.kind)
    np.testing.assert_array_equal(pq_log.value, csv_log.value)


def test_kind_names_are_the_traffic_kinds():
    assert set(parse_columns(None)) == {"time", "account", "item", "kind", "value"}
    assert KINDS == ("impression", "view", "like", "comment", "share", "report",
                     "not_interested", "follow")


def test_excel_bom_spaced_headers_and_equal_times_in_any_row_order(tmp_path):
    rows = []
    for a in range(12):                      # a like logged before its view, same second
        rows += [(100 * a, f"a{a}", "x", "like", ""), (100 * a, f"a{a}", "x", "view", 0.5)]
    text = "\ufeff" + " time, account , item,kind, value\r\n" + "\r\n".join(
        ",".join(map(str, r)) for r in rows) + "\r\n"
    path = tmp_path / "excel.csv"
    path.write_text(text, encoding="utf-8")
    log = read_log(path)
    assert log.source["events"] == 24
    first = log.kind[log.account == log.account[0]]
    assert list(first) == [K.VIEW, K.LIKE]       # at equal times, the view comes first


def test_empty_ids_and_nested_or_null_parquet_columns_are_refused(tmp_path):
    head = ("time", "account", "item", "kind", "value")
    rows = [(60 * i, f"a{i}" if i != 3 else "", "x", "like", 0) for i in range(12)]
    with pytest.raises(InvalidParameter, match="empty on 1 rows"):
        read_log(write(tmp_path / "e.csv", head, rows))
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq
    base = {"time": [60.0 * i for i in range(12)], "account": [f"a{i}" for i in range(12)],
            "item": ["x"] * 12, "kind": ["like"] * 12, "value": [0.0] * 12}
    pq.write_table(pa.table({**base, "account": [[i] for i in range(12)]}), tmp_path / "n.pq")
    with pytest.raises(InvalidParameter, match="of type list"):
        read_log(tmp_path / "n.pq")
    pq.write_table(pa.table({**base, "account": [None] + base["account"][1:]}), tmp_path / "z.pq")
    with pytest.raises(InvalidParameter, match="1 empty cells"):
        read_log(tmp_path / "z.pq")
    # dates are days, not seconds; dictionary (categorical) strings are strings
    days = pa.array(np.array(["2026-01-01"] * 6 + ["2026-01-03"] * 6, "datetime64[D]"))
    pq.write_table(pa.table({**base, "time": days,
                             "kind": pa.array(base["kind"]).dictionary_encode()}), tmp_path / "d.pq")
    log = read_log(tmp_path / "d.pq")
    assert log.span_hours == pytest.approx(48.0)


def test_a_ranker_cannot_tell_log_accounts_or_devices_from_reserved_ones():
    log = read_log(OWN, FULL)
    a, b = (recorded_world(log, horizon_hours=24, seed=s) for s in (0, 1))
    rows_a = np.flatnonzero(a.truth.account_origin == Origin.ORGANIC)
    rows_b = np.flatnonzero(b.truth.account_origin == Origin.ORGANIC)
    assert not np.array_equal(rows_a, rows_b)              # the layout is the seed's
    n = len(a.accounts)
    assert not np.array_equal(np.sort(np.random.default_rng(0).permutation(n)[:rows_a.size]),
                              rows_a)
    organic_dev = a.accounts.device[rows_a]
    reserved = a.truth.reserved_devices
    assert reserved.min() < organic_dev.max() and organic_dev.min() < reserved.max()
    assert not np.intersect1d(organic_dev, reserved).size


def test_defences_and_rankers_that_read_what_a_log_lacks_are_refused_or_left_out(capsys):
    minimal = read_log(OWN, MINIMAL)
    for ranker, word in (("like_count+account_trust", "creation times"),
                         ("like_count+device_dedup", "devices"),
                         ("like_count+audience_diversity", "topics"),
                         ("real_interaction", "impressions"), ("twitter_heavy", "impressions")):
        spec = build_spec(scenario="tiny", rankers=[ranker], attacks=["bot_farm"], seeds=[0],
                          mode="replay")
        with pytest.raises(InvalidParameter, match=word):
            replace(spec, log=minimal)
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--log", str(OWN),
                     "--columns", MINIMAL, "--quiet", "--format", "csv"]) == 0
    out = capsys.readouterr()
    assert "left out" in out.err and "real_interaction+device_dedup+lockstep" in out.err
    assert "engagement_depth,bot_farm" in out.out and "real_interaction," not in out.out


def test_targets_must_be_ranked_during_the_window_and_k_fit_the_log(capsys):
    log = read_log(OWN, MINIMAL)
    w = recorded_world(log, horizon_hours=24)
    late = w.recorded.item_ids[np.flatnonzero(w.items.created_at >= w.t0 + 13 * 3600)[0]]
    base = ["run", "--scenario", "tiny", "--seeds", "1", "--log", str(OWN), "--columns",
            MINIMAL, "--rankers", "like_count", "--attacks", "bot_farm", "--quiet"]
    assert cli.main([*base, "--targets", str(late)]) == 2
    assert "not ranked during the attack window" in capsys.readouterr().err
    assert cli.main([*base, "--k", "500"]) == 2
    assert "--k" in capsys.readouterr().err
    early = w.recorded.item_ids[np.flatnonzero(w.items.created_at >= w.t0)[0]]
    assert cli.main([*base, "--targets", str(early), "--format", "csv"]) == 0
    assert f"given: {early}" in capsys.readouterr().err


def test_public_rule_needs_likes(tmp_path):
    rows = [(3600 * h + a, f"a{a}", f"i{h}", "view", 0.5) for h in range(40) for a in range(12)]
    log = read_log(write(tmp_path / "nolike.csv", ("time", "account", "item", "kind", "value"),
                         rows))
    with pytest.raises(InvalidParameter, match="no likes"):
        get_scenario("tiny").run_base(recorded_world(log, horizon_hours=24), 0)


def test_log_run_exports_in_the_logs_own_ids_and_merges(tmp_path, capsys):
    base = ["run", "--scenario", "tiny", "--log", str(OWN), "--columns", MINIMAL,
            "--rankers", "like_count", "--attacks", "bot_farm", "--quiet"]
    assert cli.main([*base, "--seeds", "1", "--export-traffic", str(tmp_path)]) == 0
    path = traffic_path(tmp_path, 0, "like_count", "bot_farm")
    rows = path.read_text().splitlines()
    organic = [r for r in rows[1:] if r.endswith(",0,,")]
    fake = [r for r in rows[1:] if not r.endswith(",0,,")]
    assert organic[0].split(",")[1].startswith("u") and organic[0].split(",")[2].startswith("v")
    assert fake[0].split(",")[1].startswith("campaign-")
    log = read_log(OWN, MINIMAL)
    assert float(organic[0].split(",")[0]) == pytest.approx(log.origin)
    for seeds, name in (("1", "a.json"), ("1,2", "b.json")):   # seeds 0 | 1, 2
        assert cli.main([*base, "--seeds", seeds, "--json", str(tmp_path / name)]) == 0
    assert cli.main(["merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--out",
                     str(tmp_path / "m.json")]) == 0
    merged = json.loads((tmp_path / "m.json").read_text())
    assert len(merged["records"]) == 3 and "feed_quality" not in merged["summary"][0]
