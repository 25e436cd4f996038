"""The HTML comparison report in a real browser: headless Chromium from the system's
packages, driven by Selenium (nothing downloads a browser or a driver), in a window
1280 px wide. Skipped, with the reason, where Chromium or its driver is not installed
(``.ci/run`` installs them)."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil

import numpy as np
import pytest

webdriver = pytest.importorskip("selenium.webdriver")

from PIL import Image  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from sknn_mnist.compare import compare  # noqa: E402
from sknn_mnist.datasets import load_dataset  # noqa: E402
from sknn_mnist.reports import comparison_report  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
WIDTH, HEIGHT = 1280, 900

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="headless Chromium and chromedriver are not installed "
           "(apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    """A comparison report with MNIST's widest cells: its grid's longest parameters, and
    the wall times of a full MNIST run (thousands of seconds)."""
    X, y = load_dataset("digits", subset="train", return_X_y=True)
    X_test, y_test = load_dataset("digits", subset="test", return_X_y=True)
    grids = {"mlp": {"clf__hidden_layer_sizes": [(256, 128)], "clf__learning_rate_init": [0.01],
                     "clf__alpha": [0.0001], "clf__max_iter": [2]},
             "svm": {"clf__C": [10.0], "clf__gamma": ["scale"]},
             "rf": {"clf__n_estimators": [5], "clf__max_features": ["sqrt"],
                    "clf__min_samples_leaf": [1]}}
    result = compare(X[:300], y[:300], X_test[:100], y_test[:100], models=list(grids),
                     param_grids=grids, subsamples={"svm": 150}, cv=2, device="cpu",
                     dataset="digits")
    slow = {name: dataclasses.replace(r, fit_seconds=1234.5678, predict_seconds=12.3456,
                                      search_seconds=12345.6789, n_search_samples=60000)
            for name, r in result.results.items()}
    result = dataclasses.replace(result, results=slow)
    out = tmp_path_factory.mktemp("report")
    return comparison_report(result, out).write(out, stem="compare")["html"], result


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WIDTH},{HEIGHT}", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    except WebDriverException as exc:
        pytest.skip(f"Chromium would not start: {exc.msg}")
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _rect(driver, element) -> dict[str, float]:
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};", element)


def test_report_fits_1280_px_and_shows_the_whole_table(browser, report_file, tmp_path):
    path, result = report_file
    browser.set_window_size(WIDTH, HEIGHT)
    browser.get(path.as_uri())
    viewport = browser.execute_script("return document.documentElement.clientWidth")
    assert viewport >= WIDTH - 20  # the window's width, less a scrollbar at most
    # No horizontal scrollbar on the page...
    assert browser.execute_script("return document.documentElement.scrollWidth") <= viewport
    # ... nor inside any table's box: every table entirely within the viewport.
    for wrap in browser.find_elements(By.CLASS_NAME, "table-wrap"):
        assert browser.execute_script(
            "return arguments[0].scrollWidth <= arguments[0].clientWidth", wrap)
        table = _rect(browser, wrap.find_element(By.TAG_NAME, "table"))
        assert 0 <= table["left"] and table["right"] <= viewport
    main = browser.find_element(By.TAG_NAME, "table")
    headers = [th.text.replace("\n", "") for th in main.find_elements(By.TAG_NAME, "th")]
    assert headers[0] == "model" and headers[-1] == "device"  # the last column is shown
    for th in main.find_elements(By.TAG_NAME, "th"):
        assert _rect(browser, th)["right"] <= viewport
    # best_params: one key=value a line, none broken inside.
    parts = main.find_elements(By.CSS_SELECTOR, "td .part")
    assert "hidden_layer_sizes=(256, 128)" in [p.text for p in parts]
    for part in parts:
        assert browser.execute_script("return arguments[0].getClientRects().length", part) == 1
        assert part.size["height"] < 30  # one line
    # The best model's row is marked, in words.
    marked = main.find_elements(By.CSS_SELECTOR, "tr.marked")
    assert len(marked) == 1
    assert marked[0].find_element(By.TAG_NAME, "td").text.split() == [result.best.name, "best"]
    assert [td.text for td in main.find_elements(By.CSS_SELECTOR, "tbody td:last-child")] == [
        "cpu"] * 3
    # The explanation of the CV columns right under the table.
    notes = browser.find_element(By.CSS_SELECTOR, ".table-wrap + ul.table-notes")
    assert "selection_cv_accuracy" in notes.text and "150 training rows" in notes.text
    assert _rect(browser, notes)["top"] >= _rect(browser, main)["bottom"]

    # A screenshot of the whole page at this width: not blank, and as wide as the window.
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(WIDTH, min(height + 200, 12000))
    shot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("RGB")
    target = tmp_path / "report.png"
    shot.save(target)
    assert target.stat().st_size > 50_000
    assert shot.size[0] == WIDTH and shot.size[1] >= min(height, 12000) - 100
    pixels = np.asarray(shot, np.int64)
    colours = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert pixels.std() > 20 and len(np.unique(colours)) > 100  # text, tables and plots
    # Every plot is drawn and fits the width too.
    for image in browser.find_elements(By.CSS_SELECTOR, "figure img"):
        assert browser.execute_script("return arguments[0].naturalWidth", image) > 0
        assert _rect(browser, image)["right"] <= viewport
