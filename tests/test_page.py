"""The shareable report: one valid, self-contained HTML page (or Markdown) with every ranker."""

from html.parser import HTMLParser

import pytest

from boostbench import cli
from boostbench.page import leaderboard

VOID = {"meta", "img", "br", "hr", "link", "input"}


class _Checker(HTMLParser):
    """Tags must nest and close; collects text, image sources and links."""

    def __init__(self):
        super().__init__()
        self.stack, self.errors, self.text, self.srcs, self.hrefs = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "src" in a:
            self.srcs.append(a["src"])
        if "href" in a:
            self.hrefs.append(a["href"])
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.errors.append(tag)

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    d = tmp_path_factory.mktemp("rep")
    assert cli.main(["run", "--scenario", "tiny", "--seeds", "2", "--quiet", "--rankers",
                     "like_count,real_interaction+device_dedup+lockstep", "--attacks",
                     "bot_farm", "--json", str(d / "run.json"), "--trace",
                     str(d / "t.csv")]) == 0
    assert cli.main(["cost", "--scenario", "tiny", "--seeds", "1,", "--quiet", "--cap", "1",
                     "--rankers", "like_count,real_interaction", "--attacks", "bot_farm",
                     "--json", str(d / "cost.json")]) == 0
    return d


def test_the_html_report_is_valid_self_contained_and_names_every_ranker(results, capsys):
    import json
    out = results / "report.html"
    assert cli.main(["report", str(results / "run.json"), str(results / "cost.json"),
                     "--trace", str(results / "t.csv"), "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    p = _Checker()
    p.feed(page)
    p.close()
    assert p.errors == [] and p.stack == []
    text = " ".join(p.text)
    rankers = {s["ranker"] for s in json.loads((results / "run.json").read_text())["summary"]}
    assert rankers and all(r in text for r in rankers)
    assert "Leaderboard" in text and "Manifest" in text and "numpy" in text
    assert p.hrefs == [] and "http" not in page            # no network
    if pytest.importorskip("matplotlib"):
        assert len(p.srcs) >= 3 and all(s.startswith("data:image/png;base64,") for s in p.srcs)
    # deterministic: the same inputs give the same page
    again = results / "again.html"
    cli.main(["report", str(results / "run.json"), str(results / "cost.json"), "--trace",
              str(results / "t.csv"), "--out", str(again)])
    assert again.read_bytes() == out.read_bytes()


def test_the_markdown_report_writes_its_figures_beside_it(results):
    out = results / "report.md"
    assert cli.main(["report", str(results / "run.json"), "--out", str(out)]) == 0
    md = out.read_text(encoding="utf-8")
    assert md.startswith("# boostbench report") and "| ranker / pipeline |" in md
    pytest.importorskip("matplotlib")
    figs = list((results / "report_figures").iterdir())
    assert figs and all(f"report_figures/{f.name}" in md for f in figs)


def test_the_leaderboard_puts_the_unreached_first_and_the_cheapest_last():
    runs = [{"summary": [
        {"ranker": r, "attack": "a", "reached_top_k": {"mean": x},
         "extra_organic_impressions": {"mean": e}, "clean_feed_quality": {"mean": 0.6}}
        for r, x, e in (("cheap", 1.0, 500.0), ("robust", 0.0, 3.0), ("dear", 0.5, 80.0))]}]
    costs = [{"manifest": {"budgets": [0.25, 1.0, 4.0]}, "records": [
        {"ranker": "cheap", "attack": "a", "cost_to_top_k": 0.25},
        {"ranker": "cheap", "attack": "b", "cost_to_top_k": 1.0},
        {"ranker": "dear", "attack": "a", "cost_to_top_k": 4.0},
        {"ranker": "robust", "attack": "a", "cost_to_top_k": None}]}]
    board = leaderboard(runs, costs)
    assert [r["ranker"] for r in board] == ["robust", "dear", "cheap"]
    assert board[2]["cost"] == (0.25, "a") and board[0]["cost"][0] is None
    assert board[2]["worst_extra"] == (500.0, "a")


def test_a_report_refuses_what_it_cannot_read(tmp_path, capsys):
    bad = tmp_path / "x.json"
    bad.write_text("{}")
    assert cli.main(["report", str(bad), "--out", str(tmp_path / "r.html")]) == 2
    assert "not a boostbench result file" in capsys.readouterr().err
    assert cli.main(["report", str(bad), "--out", str(tmp_path / "r.pdf")]) == 2
