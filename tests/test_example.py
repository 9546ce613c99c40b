"""The worked example in ``examples/custom_ranker``, installed and run as its README says.

The example is a user package (``myranker``) whose rankers reach boostbench only through the
``boostbench.rankers`` entry point. Each test copies it to a temporary directory (so nothing is
written into the repository: Hypothesis' database, caches) and installs the copy, editable and
without network, into a fresh virtual environment that sees this interpreter's packages
(boostbench, numpy, pytest, Hypothesis) but whose own site-packages holds ``myranker``: the
plug-in exists in the subprocesses only, never in this test session's registries.

Installing without network: when hatchling (the example's build backend) is importable,
``pip install --no-deps --no-build-isolation --no-index -e``; otherwise the two files that
editable install writes (the example sets ``dev-mode-dirs = ["src"]``, so hatchling's editable
wheel is a plain ``.pth``) are written from the example's ``pyproject.toml``: a ``.pth`` adding
``src/`` to ``sys.path`` and a ``myranker-0.1.0.dist-info`` with ``METADATA`` and the
``entry_points.txt`` of its ``[project.entry-points]`` tables.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import site
import subprocess
import sysconfig
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_ranker"
_IGNORE = shutil.ignore_patterns(".hypothesis", ".pytest_cache", ".benchmarks", "__pycache__",
                                 "*.egg-info", "build", "dist")
_TIMEOUT = 600


@dataclass(frozen=True)
class Installed:
    python: Path      # the virtual environment's interpreter
    root: Path        # the installed copy of the example
    how: str          # "pip" or "dist-info"

    def run(self, *args, check_rc: int | None = 0) -> subprocess.CompletedProcess:
        p = subprocess.run([str(self.python), *map(str, args)], cwd=self.root, text=True,
                           capture_output=True, timeout=_TIMEOUT)
        if check_rc is not None:
            assert p.returncode == check_rc, (f"{args} exited {p.returncode} (expected "
                                              f"{check_rc}; installed by {self.how})\n"
                                              f"{p.stdout}\n{p.stderr}")
        return p


def _make_venv(where: Path) -> Path:
    """A venv without pip that sees every site directory of this interpreter (after its own).

    ``--system-site-packages`` alone is not enough when the tests themselves run in a venv
    (the README's set-up): it exposes the *base* interpreter's packages, not this venv's. A
    ``.pth`` calling ``site.addsitedir`` on this interpreter's site directories covers both
    cases and also processes their ``.pth`` files (boostbench's own editable install).
    """
    venv.create(where, system_site_packages=True, with_pip=False, symlinks=os.name != "nt")
    python = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    parents = [p for p in [*site.getsitepackages(), site.getusersitepackages(),
                           sysconfig.get_paths()["purelib"]] if Path(p).is_dir()]
    (_purelib(python) / "_boostbench_parent_site.pth").write_text(
        f"import site; list(map(site.addsitedir, {list(dict.fromkeys(parents))!r}))\n")
    return python


def _purelib(python: Path) -> Path:
    return Path(subprocess.run([str(python), "-c", "import sysconfig; "
                                "print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())


def _install(root: Path, python: Path) -> str:
    """Install the example at ``root`` (editable) into ``python``'s venv, offline."""
    if importlib.util.find_spec("hatchling") is not None and importlib.util.find_spec("pip"):
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps",
                        "--no-build-isolation", "--no-index", "-e", str(root)],
                       check=True, capture_output=True, text=True, timeout=_TIMEOUT)
        return "pip"
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    project = pyproject["project"]
    dirs = pyproject["tool"]["hatch"]["build"]["dev-mode-dirs"]
    purelib = _purelib(python)
    name = re.sub(r"[-_.]+", "_", project["name"]).lower()
    (purelib / f"_{name}.pth").write_text("".join(f"{root / d}\n" for d in dirs))
    info = purelib / f"{name}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {project['name']}\n"
                                   f"Version: {project['version']}\n")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        for group, eps in project.get("entry-points", {}).items()))
    (info / "INSTALLER").write_text("boostbench-tests\n")
    return "dist-info"


def _setup(tmp: Path, patch: str = "") -> Installed:
    root = tmp / "custom_ranker"
    shutil.copytree(EXAMPLE, root, ignore=_IGNORE)
    if patch:
        with open(root / "src" / "myranker" / "ranking.py", "a") as f:
            f.write(patch)
    python = _make_venv(tmp / "venv")
    return Installed(python, root, _install(root, python))


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Installed:
    return _setup(tmp_path_factory.mktemp("example"))


def test_the_entry_point_resolves_in_the_venv_only(example):
    out = example.run("-c", "from boostbench.plugins import RANKERS; "
                      "print(RANKERS.source('my_likes')); print(RANKERS.get('my_defended')().name)")
    assert "entry point 'my_likes = myranker.ranking:MyLikes'" in out.stdout
    assert "distribution myranker 0.1.0" in out.stdout and out.stdout.split()[-1] == "my_defended"
    assert importlib.util.find_spec("myranker") is None  # this session never sees the plug-in


@pytest.mark.slow
def test_the_example_suite_passes_with_the_gameable_ranker_a_strict_xfail(example):
    """Both rankers pass the conformance suite; the property holds for my_defended and fails
    for my_likes (a strict xfail, so the suite passes); with --runxfail the failure shows
    Hypothesis' minimal campaign: a few cents of bot likes from a handful of accounts.

    Slow (27 s: the example's whole suite twice, in subprocesses), so it is opt-in to keep
    the default run under five minutes; the same strategies, property and failure report
    are tested in-process by tests/test_testing.py."""
    out = example.run("-m", "pytest", "-p", "no:cacheprovider", "-v").stdout
    assert re.search(r"\b4 passed, 1 xfailed\b", out), out
    for name in ("my_likes", "my_defended"):
        assert f"test_conformance.py::test_conformance[ranker:{name}-check_ranker] PASSED" in out
    assert "XFAIL tests/test_robustness.py::test_my_likes_keeps_bought_likes_out_of_the_top_10" \
        in out
    # the second run replays the shrunk failure from Hypothesis' database: fast
    out = example.run("-m", "pytest", "-p", "no:cacheprovider", "--runxfail", "-k", "my_likes",
                      check_rc=1).stdout
    m = re.search(r"my_likes let the target rise .*, into the top 10 .*, at a spend of "
                  r"\$(\d+\.\d\d) \(budget \$(\d+\.\d\d); (\d+) accounts, (\d+) actions\) with "
                  r"campaign (\w+)\[", out)
    assert m, out
    spend, budget, accounts, actions, attack = m.groups()
    assert float(budget) <= 1.0 and int(accounts) <= 25, m.group(0)
    # Hypothesis reports the shrunk example (its header wording changes across versions)
    assert f"campaign=AttackPlan({attack}[" in out


def test_the_committed_baseline_passes_check(example, tmp_path):
    """`boostbench check --baseline baseline.json` exits 0 for the unchanged ranker. Stored
    numbers are only comparable on the numpy build that recorded them: elsewhere the test
    records a baseline with the same options first (what the example's README says to do)."""
    baseline = example.root / "baseline.json"
    data = json.loads(baseline.read_text())
    import numpy as np
    if data["manifest"]["numpy"] != np.__version__:
        (o,) = (r["options"] for r in data["runs"])
        baseline = tmp_path / "baseline.json"
        example.run("-m", "boostbench", "baseline", "--out", baseline, "--scenario",
                    o["scenario"], "--rankers", o["rankers"], "--attacks", o["attacks"],
                    "--seeds", ",".join(map(str, data["runs"][0]["manifest"]["seeds"])),
                    "--mode", o["mode"], "--budget", repr(o["budget"]), "--k", str(o["k"]))
    out = example.run("-m", "boostbench", "check", "--baseline", baseline).stdout
    assert "PASS: none of" in out and "my_defended" in out
    assert not re.search(r"\bREGRESSION$", out, re.M)


def test_run_uses_the_plugin_rankers_by_name(example, tmp_path):
    out_json = tmp_path / "run.json"
    out = example.run("-m", "boostbench", "run", "--scenario", "tiny", "--rankers",
                      "my_likes,my_defended", "--attacks", "bot_farm", "--seeds", "2", "--mode",
                      "replay", "--json", out_json).stdout
    assert "my_likes" in out and "my_defended" in out
    records = json.loads(out_json.read_text())["records"]
    hit = {name: [r["hit_rate_at_k"] for r in records if r["ranker"] == name]
           for name in ("my_likes", "my_defended")}
    assert len(hit["my_likes"]) == len(hit["my_defended"]) == 2
    assert min(hit["my_likes"]) == 1.0 and max(hit["my_defended"]) == 0.0  # $2 of bot likes


@pytest.mark.slow
def test_check_fails_when_the_defences_are_removed(tmp_path):
    """The committed baseline catches a real regression: my_defended replaced by a raw like
    count (same name) makes `check` exit 1; the unchanged ranker against the bare scorer
    re-run as the reference (--reference) exits 0."""
    broken = _setup(tmp_path / "broken", patch=(
        "\n\ndef my_defended():  # a regression: defences and rate scorer removed\n"
        "    return MyLikes(name='my_defended')\n"))
    import numpy as np
    if json.loads((broken.root / "baseline.json").read_text())["manifest"]["numpy"] \
            != np.__version__:
        pytest.skip("the committed baseline was recorded with another numpy build")
    out = broken.run("-m", "boostbench", "check", "--baseline", "baseline.json",
                     check_rc=1).stdout
    assert re.search(r"\bREGRESSION$", out, re.M) and "\nFAIL: " in out
    fine = _setup(tmp_path / "fine")
    out = fine.run("-m", "boostbench", "check", "--baseline", "baseline.json", "--reference",
                   "real_interaction").stdout
    assert "against reference 'real_interaction'" in out and "PASS: none of" in out
