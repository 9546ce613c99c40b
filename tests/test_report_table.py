"""The run table: mean ± t half-width per cell, and a footer that says how many seeds each
interval used."""

import math

import pytest
from scipy import stats

from boostbench.report import format_table, summarize


def _records(values_by_seed):
    return [{"ranker": "r", "attack": "a", "seed": s, "spend": 1.0,
             "detection_precision": v, "feed_quality": 0.5 + s / 10}
            for s, v in enumerate(values_by_seed)]


def test_cells_are_the_t_interval_of_the_seeds():
    rows = summarize(_records([0.2, 0.4, 0.9]), ["detection_precision", "feed_quality"])
    iv = rows[0]["feed_quality"]
    low, high = stats.t.interval(0.95, 2, loc=0.6, scale=stats.sem([0.5, 0.6, 0.7]))
    assert (iv["mean"], iv["n"]) == (pytest.approx(0.6), 3)
    assert (iv["low"], iv["high"]) == (pytest.approx(low), pytest.approx(high))
    text = format_table(rows, ["detection_precision", "feed_quality"])
    assert f"0.600 ±{(high - low) / 2:.3f}" in text
    assert "over 3 seeds" in text and "[" not in text


def test_nan_seeds_are_counted_in_the_cell_and_the_footer():
    rows = summarize(_records([0.2, math.nan, 0.6]), ["detection_precision", "feed_quality"])
    assert rows[0]["detection_precision"]["n"] == 2
    assert rows[0]["detection_precision"]["mean"] == pytest.approx(0.4)
    text = format_table(rows, ["detection_precision", "feed_quality"])
    assert "0.400 ±" in text and "[2/3]" in text
    assert "uses n of the row's N seeds" in text
    # a metric undefined in every seed is 'nan', not a count
    rows = summarize(_records([math.nan] * 3), ["detection_precision"])
    text = format_table(rows, ["detection_precision"])
    assert "nan ±nan" in text and "[0/3]" not in text


def test_rows_with_different_seed_counts_say_so():
    recs = _records([0.1, 0.2, 0.3]) + [{**r, "ranker": "q"} for r in _records([0.1, 0.2])]
    text = format_table(summarize(recs, ["feed_quality"]), ["feed_quality"])
    assert "over 2/3 seeds" in text


def test_one_seed_says_so_instead_of_a_nan_interval():
    rows = summarize(_records([0.2]), ["detection_precision", "feed_quality"])
    text = format_table(rows, ["detection_precision", "feed_quality"])
    assert "0.200 (1 seed)" in text and "±nan" not in text
