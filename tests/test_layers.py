"""The house's import rules, read from the AST of every module (nothing is imported).

Layers, bottom up: the ground floor (``_core``: units, random numbers, arrays,
parameters; ``errors``; ``stats``, pure seed-level statistics; ``progress``), the core
(events, world, observation, behaviour, feed, simulate), the three plug-in families
(rankers, attacks, metrics), the harness (scenario, runner, validate, executors) and the
face (cli, report, gate, plot). The rules keep data
flowing one way (DESIGN §2):

- the ground floor imports nothing of boostbench above it;
- the core never imports the harness or the face, and reaches the families only
  through their contracts (``rankers.base``, ``attacks.base``);
- rankers never import attacks or metrics; metrics never import rankers or
  attacks; attacks never import rankers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "boostbench"

GROUND = ("_core", "errors", "stats", "progress")
CORE = ("events", "world", "population", "history", "observation", "behaviour", "feed",
        "simulate")
HARNESS = ("scenario", "runner", "validate", "executors")
FACE = ("cli", "report", "gate", "plot")
CONTRACTS = ("boostbench.rankers.base", "boostbench.attacks.base")


def layer(module: str) -> str | None:
    """The layer of a ``boostbench.*`` module name (None: not a layer the rules name)."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "boostbench":
        return None
    top = parts[1]
    for name, members in (("ground", GROUND), ("core", CORE), ("harness", HARNESS),
                          ("face", FACE)):
        if top in members:
            return name
    if top in ("rankers", "attacks", "metrics"):
        return top
    return None


def module_name(path: Path, root: Path) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported(path: Path, root: Path) -> set[str]:
    """Every ``boostbench.*`` module a file imports (relative imports resolved): one name
    per import statement, or per name where ``from package import name`` names modules."""
    mod = module_name(path, root)
    package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if node.module is None or target == "boostbench":  # the names may be modules
                out |= {f"{target}.{a.name}" for a in node.names}
            else:
                out.add(target)
    return {m for m in out if m.split(".")[0] == "boostbench"}


FORBIDDEN = {
    "ground": {"core", "rankers", "attacks", "metrics", "harness", "face"},
    "core": {"harness", "face", "metrics"},
    "rankers": {"attacks", "metrics", "harness", "face"},
    "metrics": {"rankers", "attacks", "harness", "face"},
    "attacks": {"rankers", "metrics", "harness", "face"},
}


def violations(root: Path = ROOT) -> list[str]:
    """One line per import that breaks a rule."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        src = layer(module_name(path, root))
        if src not in FORBIDDEN:
            continue
        for target in sorted(imported(path, root)):
            dst = layer(target)
            if dst is None or dst == src:
                continue
            if dst in FORBIDDEN[src]:
                bad.append(f"{module_name(path, root)} ({src}) imports {target} ({dst})")
            elif src == "core" and dst in ("rankers", "attacks") and not any(
                    target == c or target.startswith(c + ".") for c in CONTRACTS):
                bad.append(f"{module_name(path, root)} (core) imports {target}: the core "
                           f"reaches {dst} only through {', '.join(CONTRACTS)}")
    return bad


def test_the_house_keeps_its_import_rules():
    assert violations() == []


@pytest.mark.parametrize("where, line", [
    ("rankers/extra.py", "from ..attacks.compose import Recipe"),
    ("rankers/extra.py", "from ..metrics import rise"),
    ("metrics/extra.py", "from ..rankers.likes import LikeCount"),
    ("metrics/extra.py", "import boostbench.attacks.bots"),
    ("attacks/extra.py", "from ..rankers.base import rank_items"),
    ("simulate/extra.py", "from ..scenario import Scenario"),
    ("simulate/extra.py", "from ..runner import run_matrix"),
    ("world.py", "from .cli import main"),
    ("observation.py", "from .report import summarize"),
    ("feed.py", "from .rankers.pipeline import Pipeline"),
    ("_core/extra.py", "from ..world import World"),
    ("_core/extra.py", "from boostbench.events import EventLog"),
])
def test_a_forbidden_import_is_caught(tmp_path, where, line):
    """The checker itself: copy the package, add one forbidden import, expect one violation."""
    import shutil
    root = tmp_path / "boostbench"
    shutil.copytree(ROOT, root, ignore=shutil.ignore_patterns("__pycache__"))
    target = root / where
    text = target.read_text() if target.exists() else '"""An added module."""\n'
    target.write_text(text + f"\n{line}\n")
    bad = violations(root)
    assert len(bad) == 1, bad
    assert module_name(target, root) in bad[0]


def test_the_checker_reads_every_family():
    """Each layer the rules name holds at least one module (a rename would silently empty it)."""
    layers = {layer(module_name(p, ROOT)) for p in ROOT.rglob("*.py")}
    assert {"ground", "core", "rankers", "attacks", "metrics", "harness", "face"} <= layers
