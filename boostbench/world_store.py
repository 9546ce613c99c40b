"""Drawn worlds kept on disk between processes, when ``BOOSTBENCH_WORLD_CACHE`` names a folder.

A world is a function of its config and seed under one version of boostbench's code and of
numpy (:func:`boostbench.runner.drawn_world`), so a world drawn once can be read back by every
later process instead of being drawn again: a ``default`` world takes ~10 s to draw (three
history draws) and under 0.1 s to read. Entries are keyed by the config, the seed, a digest of
every source file of the installed package and the numpy and Python versions, so a changed
model never reads an old world. They are pickles: point the variable only at a folder you
trust (boostbench writes only its own entries there). Off when the variable is unset or empty.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import platform
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import InvalidParameter

__all__ = ["ENV", "directory", "load", "save"]

#: The environment variable naming the folder.
ENV = "BOOSTBENCH_WORLD_CACHE"


def directory() -> Path | None:
    """The folder worlds are kept in (created if missing), or None when ``ENV`` is unset.

    Raises
    ------
    InvalidParameter
        When the variable names something that is not a folder and cannot be made one.
    """
    value = os.environ.get(ENV, "")
    if not value:
        return None
    path = Path(value).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InvalidParameter(f"The environment variable {ENV} must name a folder boostbench "
                               f"can create and write to (or be unset). Got {value!r}: {e}.",
                               name=ENV) from None
    return path


@lru_cache(maxsize=1)
def _code_digest() -> str:
    h = hashlib.sha256(f"{np.__version__} {platform.python_version()}".encode())
    root = Path(__file__).resolve().parent
    for f in sorted(root.rglob("*.py")):
        h.update(str(f.relative_to(root)).encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def _path(folder: Path, config, seed: int) -> Path:
    key = hashlib.sha256(f"{_code_digest()}\n{config!r}\n{int(seed)}".encode()).hexdigest()
    return folder / f"world-{key[:32]}.pkl"


def load(config, seed: int):
    """The kept world of ``config`` and ``seed``, or None (off, not kept, or unreadable)."""
    folder = directory()
    if folder is None:
        return None
    try:
        with open(_path(folder, config, seed), "rb") as f:
            world = pickle.load(f)
    except Exception:                 # none kept, or a truncated or foreign file: draw again
        return None
    return world if world.config == config else None


def save(config, seed: int, world) -> None:
    """Keep ``world`` (written to a temporary file, then renamed: never half a file). A
    failed write warns and leaves the run alone."""
    folder = directory()
    if folder is None:
        return
    target = _path(folder, config, seed)
    try:
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as f:
            pickle.dump(world, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(f.name, target)
    except OSError as e:
        try:
            os.unlink(f.name)
        except (OSError, NameError):
            pass
        warnings.warn(f"{ENV}: could not keep a world in {folder} ({e}); it is drawn again "
                      "next time.", RuntimeWarning, stacklevel=2)
