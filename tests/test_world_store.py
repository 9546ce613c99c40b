"""Worlds kept on disk between processes (BOOSTBENCH_WORLD_CACHE)."""

import numpy as np
import pytest

from boostbench import cli, runner, world_store
from boostbench.world import make_world, world_config


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv(world_store.ENV, str(tmp_path / "worlds"))
    monkeypatch.setattr(runner, "_WORLDS", type(runner._WORLDS)())
    return tmp_path / "worlds"


def _no_drawing(*a, **k):
    raise AssertionError("a kept world was drawn again")


def test_a_kept_world_is_read_back_as_drawn_and_read_only(store, monkeypatch):
    c = world_config("tiny")
    drawn = runner.drawn_world(c, 3)
    assert len(list(store.glob("world-*.pkl"))) == 1
    monkeypatch.setattr(runner, "_WORLDS", type(runner._WORLDS)())      # a later process
    monkeypatch.setattr(runner, "make_world", _no_drawing)
    back = runner.drawn_world(c, 3)
    assert back is not drawn
    for x, y in zip(back.history.columns(), drawn.history.columns()):
        np.testing.assert_array_equal(x, y)
        assert not x.flags.writeable
    np.testing.assert_array_equal(back.truth.quality, drawn.truth.quality)
    assert back.behaviour.intercepts == drawn.behaviour.intercepts and back.seed == drawn.seed
    assert not back.truth.reserved_devices.flags.writeable
    with pytest.raises(Exception, match="frozen"):
        back.history.append([1e9], [0], [0], [1], [0.0])
    # the same world as drawing it afresh
    fresh = make_world(c, runner.seed_streams(3)[0])
    np.testing.assert_array_equal(back.history.columns()[2], fresh.history.columns()[2])


def test_another_config_seed_or_code_is_another_entry(store, monkeypatch):
    c = world_config("tiny")
    w = make_world(c, runner.seed_streams(0)[0])
    world_store.save(c, 0, w)
    assert world_store.load(c, 0) is not None
    assert world_store.load(c, 1) is None
    assert world_store.load(world_config("tiny", circle_share=0.2), 0) is None
    monkeypatch.setattr(world_store, "_code_digest", lambda: "another version of the model")
    assert world_store.load(c, 0) is None


def test_an_unreadable_entry_is_drawn_again_and_replaced(store):
    c = world_config("tiny")
    w = make_world(c, runner.seed_streams(0)[0])
    world_store.save(c, 0, w)
    (path,) = store.glob("world-*.pkl")
    path.write_bytes(path.read_bytes()[:1000])                 # truncated
    assert world_store.load(c, 0) is None
    again = runner.drawn_world(c, 0)
    np.testing.assert_array_equal(again.history.columns()[0], w.history.columns()[0])
    assert world_store.load(c, 0) is not None


def test_off_when_unset(tmp_path, monkeypatch):
    monkeypatch.delenv(world_store.ENV, raising=False)
    assert world_store.directory() is None
    c = world_config("tiny")
    world_store.save(c, 0, None)                                # nothing is written
    assert world_store.load(c, 0) is None


def test_a_failed_write_warns_and_leaves_no_file(store, monkeypatch):
    c = world_config("tiny")
    w = make_world(c, runner.seed_streams(0)[0])

    def full(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(world_store.pickle, "dump", full)
    with pytest.warns(RuntimeWarning, match="BOOSTBENCH_WORLD_CACHE"):
        world_store.save(c, 0, w)
    assert list(store.iterdir()) == []


def test_a_folder_that_cannot_be_made_is_refused_before_any_work(tmp_path, monkeypatch, capsys):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv(world_store.ENV, str(not_a_folder))
    monkeypatch.setattr(runner, "drawn_world", _no_drawing)
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "BOOSTBENCH_WORLD_CACHE" in err and str(not_a_folder) in err
