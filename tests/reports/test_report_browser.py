"""The page in a real browser: headless Chromium renders the verdict and every plot.

Debian's ``chromium`` package must be installed (``.ci/run`` installs it when
it is missing). These tests never skip: without Chromium they fail and say
how to install it. Each page is opened twice: ``--dump-dom`` on a copy with a
short script appended that records the rendered size of the banner, every
verdict box and every plot (and each plot's drawn content, ``getBBox``); and
``--screenshot`` of the page as written, read back with matplotlib.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from report_pages import PLANTED, Written, parse_html

MEASURE = """<script>
document.querySelectorAll("header.banner, div.box, svg.plot").forEach(function (e) {
  var r = e.getBoundingClientRect(), b = e.tagName.toLowerCase() === "svg" ? e.getBBox() : r;
  e.setAttribute("data-rendered", [r.width, r.height, b.width, b.height].map(Math.round).join(" "));
});
</script>"""
#: The banner's colours (CSS --pass and --fail).
BANNER = {"pass": (0x1B, 0x7F, 0x3B), "fail": (0xB3, 0x26, 0x1E)}
WIDTH, HEIGHT = 1280, 4000


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("headless Chromium is needed to check the report in a real browser and was not found on PATH: "
                "install Debian's package with 'apt-get update && apt-get install -y chromium' (.ci/run does this)")


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    command = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               "--disable-extensions", f"--user-data-dir={profile}", f"--window-size={WIDTH},{HEIGHT}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done


def check_in_chromium(page: Path, verdict: str, work: Path) -> None:
    """Open ``page`` in Chromium: the verdict, every box and every plot render with a non-zero size."""
    html = page.read_text(encoding="utf-8")
    written = parse_html(html)
    plots = [svg.attrs["data-plot"] for svg in written.find_all("svg", class_="plot")]
    assert plots, "the page has no plot"
    work.mkdir(parents=True, exist_ok=True)
    measured = work / "measured.html"
    measured.write_text(html.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = parse_html(_chromium(["--dump-dom", measured.as_uri()], work / "profile-dom").stdout)

    banner = dom.find_all("header", class_="banner")
    assert len(banner) == 1 and banner[0].attrs["data-verdict"] == verdict
    assert verdict.upper() in banner[0].all_text()
    for node in banner + dom.find_all("div", class_="box") + dom.find_all("svg", class_="plot"):
        sizes = [int(v) for v in node.attrs["data-rendered"].split()]
        assert all(v > 0 for v in sizes), (node.tag, node.attrs.get("data-plot"), sizes)
    assert [svg.attrs["data-plot"] for svg in dom.find_all("svg", class_="plot")] == plots
    boxes = {b.attrs["data-category"]: b.attrs["data-verdict"] for b in dom.find_all("div", class_="box")}
    assert boxes == {b.attrs["data-category"]: b.attrs["data-verdict"] for b in written.find_all("div", class_="box")}

    shot = work / "screenshot.png"
    _chromium([f"--screenshot={shot}", page.as_uri()], work / "profile-shot")
    pixels = image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (HEIGHT, WIDTH)
    corner = np.round(pixels[12, 12] * 255).astype(int)
    assert np.abs(corner - np.array(BANNER[verdict])).max() <= 3, corner  # the verdict colours the top
    ink = (pixels < 0.9).any(axis=2)  # anything darker than the near-white background
    bands = ink.reshape(40, HEIGHT // 40, WIDTH).any(axis=(1, 2))
    assert bands.mean() > 0.8, "large blank stretches: something did not render"
    assert pixels.std() > 0.1


def test_quick_failing_report_renders_in_chromium(failing: Written, tmp_path: Path) -> None:
    check_in_chromium(failing.directory / "index.html", "fail", tmp_path)


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "pcg_verify", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False, env=env)


@pytest.mark.slow(seconds=150)
def test_standard_budget_reports_of_the_reference_and_a_planted_bug_render_in_chromium(tmp_path: Path) -> None:
    """README's main job (the reference at the standard budget) and one planted bug, each opened in Chromium."""
    reference = _cli(["check", "--report", "reports/reference"], tmp_path)
    assert reference.returncode == 0, reference.stdout + reference.stderr
    assert reference.stdout.rstrip().splitlines()[-1] == "report page: reports/reference/index.html"
    check_in_chromium(tmp_path / "reports" / "reference" / "index.html", "pass", tmp_path / "reference")

    planted = _cli(["check", PLANTED, "--report", "reports/planted"], tmp_path)
    assert planted.returncode == 1, planted.stdout + planted.stderr
    page = tmp_path / "reports" / "planted" / "index.html"
    check_in_chromium(page, "fail", tmp_path / "planted")
    replays = {n.all_text() for n in parse_html(page.read_text(encoding="utf-8")).find_all("pre", class_="replay")}
    assert f"pcg-verify check {PLANTED} --budget standard --seed 0 --case 6" in replays
