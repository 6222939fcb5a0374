"""The page against its results.json: every check row, every verdict, every replay line, inline images only."""

from __future__ import annotations

import re

import pytest
from report_pages import PLANTED, Node, Written, parse_html

CATEGORIES = ("guarantee", "conformance", "acceptance", "bonus", "batch_invariance", "structure", "determinism")


def _replays(run: dict[str, object]) -> set[str]:
    """The replay command of every failure in the JSON: the text after its last 'Reproduce: '."""
    out = set()
    for verdict in run["categories"].values():  # type: ignore[attr-defined]
        for failure in verdict["failures"]:
            assert "Reproduce: " in failure, failure
            out.add(failure.rpartition("Reproduce: ")[2].strip())
    return out


@pytest.fixture(params=["passing", "failing"])
def written(request: pytest.FixtureRequest) -> Written:
    report: Written = request.getfixturevalue(request.param)
    return report


def test_banner_and_category_boxes_match_the_json(written: Written) -> None:
    page = parse_html(written.html)
    banner = page.find_all("header", class_="banner")
    assert len(banner) == 1 and banner[0].attrs["data-verdict"] == written.results["verdict"]
    assert written.results["verdict"].upper() in banner[0].all_text()
    assert written.results["verdict"] == written.run["verdict"]
    boxes = {b.attrs["data-category"]: b for b in page.find_all("div", class_="box")}
    assert tuple(boxes) == CATEGORIES
    for name, verdict in written.run["categories"].items():
        box = boxes[name]
        assert box.attrs["data-verdict"] == verdict["verdict"]
        assert verdict["verdict"].upper() in box.all_text()
        assert verdict["message"] in box.all_text()
        assert "probability" in box.all_text() or "false-positive rate 0" in box.all_text()  # its error rate


def test_every_check_row_is_present_with_its_numbers(written: Written) -> None:
    tests = written.run["tests"]
    rows = [row for row in parse_html(written.html).iter() if row.tag == "tr" and "data-test" in row.attrs]
    assert sorted(int(r.attrs["data-test"]) for r in rows) == list(range(len(tests)))
    assert len(tests) > 0
    columns = ("category", "case_index", "row", "position", "law", "stage", "n_samples", "n_cells", "statistic",
               "pvalue", "adjusted_pvalue", "detectable_discrepancy", "rejected")
    pvalues = []
    for row in rows:
        test = tests[int(row.attrs["data-test"])]
        cells = [c for c in row.children if c.tag == "td"]
        assert len(cells) == len(columns)
        for cell, key in zip(cells, columns, strict=True):
            value = test[key]
            if key in ("category", "law"):
                assert cell.all_text() == value
            elif key == "rejected":
                assert cell.all_text() == ("yes" if value else "no")
                assert ("rejected" in row.attrs.get("class", "")) == value
            elif value is None:
                assert cell.all_text() == "—" and cell.attrs["data-v"] == "Infinity"
            else:
                assert float(cell.attrs["data-v"]) == float(value)  # the exact number, for sorting
                shown = str(value) if isinstance(value, int) else f"{value:.{4 if key == 'statistic' else 3}g}"
                assert cell.all_text() == shown
        pvalues.append(test["pvalue"])
    assert pvalues == sorted(pvalues)  # without JavaScript the table reads in p-value order


def test_every_failure_has_its_replay_line(written: Written) -> None:
    page = parse_html(written.html)
    shown = {node.all_text() for node in page.find_all("pre", class_="replay")}
    assert shown == _replays(written.run)
    if written.run["port"] == PLANTED:
        assert shown == {f"pcg-verify check {PLANTED} --budget quick --seed 0 --case 6"}
        failures = [li for li in page.find_all("li") if "data-category" in li.attrs]
        listed = sum(len(v["failures"]) for v in written.run["categories"].values())
        assert len(failures) == listed > 0


def test_images_are_inline_and_nothing_is_fetched(written: Written) -> None:
    page = parse_html(written.html)
    assert not page.find_all("img") and not page.find_all("link") and not page.find_all("iframe")
    assert all("src" not in node.attrs for node in page.iter())
    for node in page.iter():
        for key in ("href", "xlink:href"):
            assert node.attrs.get(key, "#").startswith("#"), (node.tag, node.attrs)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", written.html))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}  # XML namespaces, not fetches
    assert "@import" not in written.html and "url(http" not in written.html
    ids = [node.attrs["id"] for node in page.iter() if "id" in node.attrs]
    assert len(ids) == len(set(ids))  # several SVGs in one page never share an id


def test_the_plots_a_reader_needs_are_there(written: Written) -> None:
    plots = {svg.attrs["data-plot"] for svg in parse_html(written.html).find_all("svg", class_="plot")}
    worst = written.run["evidence"]["worst_tests"]
    cells = sum(t["category"] != "acceptance" for t in worst)
    lengths = len(worst) - cells
    assert cells > 0 and lengths >= 1
    expected = {f"r0-cells-{i}" for i in range(cells)} | {f"r0-length-{i}" for i in range(lengths)}
    expected |= {"r0-qq", "r0-pit"}
    if written.run["evidence"]["variability_by_case"]:
        expected.add("r0-variability")
    assert plots == expected
    for svg in parse_html(written.html).find_all("svg", class_="plot"):
        assert svg.attrs.get("role") == "img" and svg.attrs.get("aria-label")
        assert re.fullmatch(r"0 0 [\d.]+ [\d.]+", svg.attrs["viewbox"])  # html.parser lowercases names


def test_evidence_counts_add_up(written: Written) -> None:
    """The plotted cells of each worst test hold all its samples, with probabilities summing to one."""
    tests = written.run["tests"]
    worst = written.run["evidence"]["worst_tests"]
    smallest = sorted(t["pvalue"] for t in tests)[: min(8, len(tests))]
    assert sorted(t["pvalue"] for t in worst)[: len(smallest)] == smallest
    for entry in worst:
        test = tests[entry["test_index"]]
        assert {k: entry[k] for k in test} == test
        assert sum(c["observed"] for c in entry["cells"]) == test["n_samples"]
        assert sum(c["probability"] for c in entry["cells"]) == pytest.approx(1.0, abs=1e-9)
        assert len(entry["cells"]) <= 24
        assert (entry["pooled_cells"] > 0) == entry["cells"][-1]["label"].startswith("other")
    if written.run["port"] == PLANTED:
        assert written.run["verdict"] == "fail" and worst[0]["pvalue"] < 1e-6 and worst[0]["rejected"]


def test_the_footer_names_versions_and_command(written: Written) -> None:
    page: Node = parse_html(written.html)
    footer = page.find_all("footer")[0].all_text()
    for key in ("python", "torch", "numpy", "scipy", "pcg"):
        assert f"{key} {written.results['versions'][key]}" in footer
    assert written.results["command"] in footer
