"""The exercise lab widget in a real browser: JupyterLab + headless Debian chromium + Playwright.

Opens a fresh, output-free copy of notebooks/06-leak-hunting-exercises.ipynb on a fresh kernel,
runs all cells, then drives the exercise lab as a student does: pick an exercise and a seed,
Generate, type a wrong answer and Check (the verdicts say which fields are wrong), ask for a
hint, type the right answer and Check again ("solved").  The right answer is worked out in the
test process by the reference solver from a hand-out of the same exercise and seed, made here:
the same name and seed give the same hand-out.  Screenshots land in build/test-output/browser/.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
NOTEBOOK = REPO / "notebooks" / "06-leak-hunting-exercises.ipynb"
NAME, SEED = "kernel-thread-leak", 3
STEP_TIMEOUT_MS = 60_000


def _text(page, css: str) -> str:
    return page.evaluate("(c) => { const el = document.querySelector(c); "
                         "return el ? el.innerText : ''; }", css)


def _wait_text(page, css: str, needle: str, what: str) -> str:
    from playwright.sync_api import TimeoutError as PWTimeout
    try:
        page.wait_for_function(
            "([c, n]) => { const el = document.querySelector(c); "
            "return !!el && el.innerText.includes(n); }",
            arg=[css, needle], timeout=STEP_TIMEOUT_MS, polling=100)
    except PWTimeout as e:
        raise AssertionError(f"timed out waiting for {what}: {css} shows {_text(page, css)!r}") from e
    return _text(page, css)


def _type(page, css: str, value: str) -> None:
    box = page.locator(f"{css} input").first
    box.fill(value)
    box.press("Tab")                  # ipywidgets Text syncs its value on change


def test_exercise_lab_in_browser(lab_page, tmp_path):
    from pextlab import exercises as ex
    from pextlab.exercises.solve import reference_answer

    right = reference_answer(ex.make(NAME, seed=SEED, folder=tmp_path / "h").files)
    page = lab_page.page
    lab_page.open_fresh(NOTEBOOK, "06-leak-hunting-exercises.browser.ipynb")
    t0 = time.monotonic()
    lab_page.run_all()
    page.locator(".pextlab-generate").first.wait_for(state="attached", timeout=120_000)
    cell = page.locator(".jp-Cell", has=page.locator(".pextlab-generate")).first
    cell.scroll_into_view_if_needed()
    _wait_text(page, ".pextlab-question", "press Generate", "the lab's first text")
    lab_page.shot("1-loaded", cell.locator(".jp-Cell-outputArea"))

    # ipywidgets' Dropdown puts the option labels in the <option> elements
    page.locator(".pextlab-exercise-name select").first.select_option(label=f"{NAME} (level 2)")
    seed = page.locator(".pextlab-exercise-seed input").first
    seed.fill(str(SEED))
    seed.press("Enter")
    time.sleep(0.5)
    page.locator(".pextlab-generate").first.click()
    q = _wait_text(page, ".pextlab-question", f"{NAME} (seed {SEED}, level 2)", "Generate")
    page.locator(".pextlab-answer-top-frame input").first.wait_for(state="attached")
    lab_page.shot("2-generated", cell.locator(".jp-Cell-outputArea"))

    _type(page, ".pextlab-answer-comm", right["comm"])
    _type(page, ".pextlab-answer-top-frame", "get_page_from_freelist")
    _type(page, ".pextlab-answer-pages", "1")
    page.locator(".pextlab-check").first.click()
    verdict = _wait_text(page, ".pextlab-result", "1 of 3 right", "the first Check")
    assert "wrong" in verdict
    page.locator(".pextlab-hint").first.click()
    _wait_text(page, ".pextlab-hints", "hint 1/", "a hint")
    lab_page.shot("3-wrong", cell.locator(".jp-Cell-outputArea"))

    _type(page, ".pextlab-answer-top-frame", right["top_frame"])
    _type(page, ".pextlab-answer-pages", str(right["pages"]))
    page.locator(".pextlab-check").first.click()
    _wait_text(page, ".pextlab-result", "solved", "the second Check")
    lab_page.shot("4-solved", cell.locator(".jp-Cell-outputArea"))
    lab_page.shot("5-window")

    body = page.locator("body").inner_text()
    for bad in ("Error displaying widget", "Failed to load model class", "Traceback"):
        assert bad not in body, f"{bad!r} on the page after the run"
    assert "kernel-thread-leak" in q
    with open(lab_page.shots / "timings.txt", "a") as f:
        f.write(f"{lab_page.prefix}: notebook open {lab_page.open_seconds:.1f}s; run all to solved "
                f"{time.monotonic() - t0:.1f}s\n")
