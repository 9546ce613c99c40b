"""The red team, replayed: every class of abuse that once broke boostbench, counted.

Each attempt runs the CLI in-process in its own folder and is scored on what a user would
suffer: a raw traceback, a failure that exits 0 silently, a partial or orphan file left
behind, or a world built for a run that had to be refused (unbounded work before a clean
refusal). The totals must all be 0.
"""

import json
import textwrap
from pathlib import Path

import boostbench.recorded as recorded
import boostbench.runner as runner
from boostbench import cli

from helpers import USER_PLUGINS

PLUGIN = USER_PLUGINS

# one seed: every run stays in this process, where world builds are counted
TINY = ["--scenario", "tiny", "--seeds", "1", "--attacks", "bot_farm", "--quiet"]
OWN = Path(__file__).parent / "data" / "own_log.csv"
LOG = [*TINY, "--log", str(OWN), "--columns",
       "time=ts,account=user_id,item=video_id,kind=action,value=watch_ratio"]


def _baseline(tmp, **options):
    """A baseline file (format 1) whose options are ``options`` over valid defaults."""
    opts = {"scenario": "tiny", "rankers": "like_count", "attacks": "bot_farm", "budget": 2.0,
            "k": 10, "size": "tiny", "mode": "closed", **options}
    path = tmp / "b.json"
    path.write_text(json.dumps({"format": "boostbench-baseline", "format_version": 1,
                                "manifest": {}, "metrics": {}, "gate": {},
                                "runs": [{"options": opts, "manifest": {"seeds": [0, 1]},
                                          "records": []}]}))
    return str(path)


# (name, argv builder, exit codes that are right, must build no world)
ATTEMPTS = [
    ("huge budget", lambda t: ["run", *TINY, "--budget", "1e9"], {2}, True),
    ("huge sweep", lambda t: ["sweep", *TINY, "--budgets", "0,1e12"], {2}, True),
    ("huge cap", lambda t: ["cost", *TINY, "--cap", "1e300"], {2}, True),
    ("too much memory", lambda t: ["run", *TINY, "--max-memory", "0.1"], {2}, True),
    ("empty rankers", lambda t: ["run", *TINY, "--rankers", ""], {2}, True),
    ("k beyond items", lambda t: ["run", *TINY, "--k", "1000000000"], {2}, True),
    ("jobs out of range", lambda t: ["sweep", *TINY, "--jobs", "65"], {2}, True),
    ("negative seed", lambda t: ["run", "--scenario", "tiny", "--seeds", "-1"], {2}, True),
    ("json into /proc", lambda t: ["run", *TINY, "--json", "/proc/boostbench.json"], {2}, True),
    ("trace into a missing folder", lambda t: ["run", *TINY, "--json", str(t / "r.json"),
                                               "--trace", str(t / "no" / "t.csv")], {2}, True),
    ("json and trace the same file", lambda t: ["run", *TINY, "--json", str(t / "x"),
                                                "--trace", str(t / "x")], {2}, True),
    ("duplicate experiments", lambda t: ["validate", "--experiments", "herding,herding"], {2},
     True),
    ("baseline names code", lambda t: ["check", "--baseline", _baseline(t, rankers="sys:exit")],
     {2}, True),
    ("baseline with os:abort", lambda t: ["check", "--baseline", _baseline(t, attacks="os:abort")],
     {2}, True),
    ("baseline not JSON", lambda t: ["check", "--baseline", str(_write(t, "x.json", "{nope"))],
     {2}, True),
    ("deeply nested baseline", lambda t: ["check", "--baseline",
                                          str(_write(t, "d.json", "[" * 100_000 + "]" * 100_000))],
     {2}, True),
    ("ranker raises", lambda t: ["run", *TINY, "--rankers", "rt_plugins:Raises", "--json",
                                 str(t / "r.json")], {3}, False),
    ("ranker exits 0", lambda t: ["run", *TINY, "--rankers", "rt_plugins:Exits"], {3}, False),
    ("complex scores", lambda t: ["run", *TINY, "--rankers", "rt_plugins:Complex"], {2, 3},
     False),
    ("unpicklable ranker, 2 jobs", lambda t: ["run", *TINY, "--rankers",
                                              "rt_plugins:Unpicklable", "--jobs", "2",
                                              "--seeds", "2"], {0},
     False),
    ("unknown ranker", lambda t: ["run", *TINY, "--rankers", "no_such_ranker"], {2}, True),
    ("log: json into /proc", lambda t: ["run", *LOG, "--json", "/proc/boostbench.json"], {2},
     True),
    ("log: closed loop", lambda t: ["run", *LOG, "--mode", "closed"], {2}, True),
    ("log: missing file", lambda t: ["run", *TINY, "--log", str(t / "none.csv")], {2}, True),
    ("log: binary garbage", lambda t: ["run", *TINY, "--log",
                                       str(_write_bytes(t, "g.csv", bytes(range(256)) * 64))],
     {2}, True),
    ("log: unknown kind", lambda t: ["run", *TINY, "--log", str(_write(
        t, "k.csv", "time,account,item,kind,value\n" + "".join(
            f"{i},a{i},x,{'poke' if i == 5 else 'like'},0\n" for i in range(20))))], {2}, True),
    ("log: a ranker it cannot serve", lambda t: ["run", *LOG, "--rankers", "real_interaction"],
     {2}, True),
    ("log: target not in the window", lambda t: ["run", *LOG, "--targets", "v0179"], {2}, True),
]


def _write(tmp, name, text):
    p = tmp / name
    p.write_text(text)
    return p


def _write_bytes(tmp, name, data):
    p = tmp / name
    p.write_bytes(data)
    return p


def test_the_red_team_finds_nothing(tmp_path, monkeypatch, capsys):
    (tmp_path / "rt_plugins.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    built = []
    real = runner.drawn_world

    def counting(*a, **k):                  # a world drawn, or kept from an earlier run
        built.append(1)
        return real(*a, **k)
    monkeypatch.setattr(runner, "drawn_world", counting)
    real_recorded = recorded.recorded_world

    def counting_recorded(*a, **k):         # the world of a --log run, in the run itself
        built.append(1)
        return real_recorded(*a, **k)
    monkeypatch.setattr(runner, "recorded_world", counting_recorded)
    counts = {"tracebacks": [], "silent exit 0": [], "files left": [], "worlds before refusal": []}
    for i, (name, argv, ok_codes, no_world) in enumerate(ATTEMPTS):
        work = tmp_path / f"a{i}"
        work.mkdir()
        built.clear()
        code = cli.main(argv(work))
        cap = capsys.readouterr()
        inputs = {"b.json", "x.json", "d.json", "g.csv", "k.csv"}
        left = [p.name for p in work.iterdir() if p.name not in inputs]
        if "Traceback" in cap.err or "Traceback" in cap.out:
            counts["tracebacks"].append(name)
        if code not in ok_codes:
            counts["silent exit 0" if code == 0 else "tracebacks"].append(f"{name}: {code}")
        if code != 0 and left:
            counts["files left"].append(f"{name}: {left}")
        if code != 0 and (not cap.err.strip() or "\n" in cap.err.strip()):
            counts["tracebacks"].append(f"{name}: not one line: {cap.err!r:.200}")
        if no_world and built:
            counts["worlds before refusal"].append(name)
    assert counts == {k: [] for k in counts}
