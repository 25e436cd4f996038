"""The page in a real browser: headless Chromium from the system's packages, driven by
Selenium (nothing downloads a browser or a driver). Skipped, with the reason, where
Chromium or its driver is not installed (``.ci/run`` installs them)."""

from __future__ import annotations

import io
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
webdriver = pytest.importorskip("selenium.webdriver")

from PIL import Image  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

try:
    import _images as T
except ImportError:
    from tests import _images as T  # type: ignore[no-redef]

from sknn_mnist.serve import ServerThread, load_served_models  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="headless Chromium and chromedriver are not installed "
           "(apt-get install chromium chromium-driver)")


@pytest.fixture(scope="module")
def server():
    with ServerThread(load_served_models(["mnist-mlp", "mnist-cnn"])) as running:
        yield running


@pytest.fixture(scope="module")
def browser():
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager never downloads
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,800", "--force-device-scale-factor=1"):
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


@pytest.fixture
def page(server, browser):
    browser.get(server.url + "/")
    _wait(lambda: browser.find_element(By.TAG_NAME, "body").get_attribute("data-ready"))
    return browser


def _wait(condition, timeout: float = 15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("the page did not get there in time")


def _answers(driver) -> int:
    return int(driver.find_element(By.TAG_NAME, "body").get_attribute("data-answers"))


def _settled(driver, after: int) -> None:
    """Wait for an answer after the ``after``-th, with no request in flight."""
    body = driver.find_element(By.TAG_NAME, "body")
    _wait(lambda: _answers(driver) > after and body.get_attribute("data-busy") is None)


def _labels(driver) -> dict[str, str]:
    return {card.get_attribute("data-model"): card.find_element(By.CLASS_NAME, "label").text
            for card in driver.find_elements(By.CLASS_NAME, "answer")}


def _stroke(driver, points: list[tuple[float, float]], step_ms: int = 5) -> None:
    """Drag the pointer through ``points`` (fractions of the pad) with the button down,
    in small steps: a pointermove event every few pixels, as a hand makes."""
    pad = driver.find_element(By.ID, "pad")
    size = pad.size["width"]
    path = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        path += [(x0 + t * (x1 - x0), y0 + t * (y1 - y0)) for t in np.linspace(0.1, 1, 10)]
    pixels = [(round((x - 0.5) * size), round((y - 0.5) * size)) for x, y in path]
    actions = ActionChains(driver, duration=step_ms)
    actions.move_to_element_with_offset(pad, *pixels[0]).click_and_hold()
    for (x0, y0), (x1, y1) in zip(pixels, pixels[1:], strict=False):
        actions.move_by_offset(x1 - x0, y1 - y0)
    actions.release().perform()


def _clear(driver) -> None:
    driver.find_element(By.ID, "clear").click()
    _wait(lambda: set(_labels(driver).values()) == {"–"})


def test_drawing_a_digit_shows_every_model_s_answer(page):
    assert set(_labels(page)) == {"mnist-mlp", "mnist-cnn"}
    before = _answers(page)
    _stroke(page, [(0.5, 0.15), (0.5, 0.85)])  # a 1
    _settled(page, before)
    assert _labels(page) == {"mnist-mlp": "1", "mnist-cnn": "1"}
    # The ten probabilities and the normalised input are shown beside the answer.
    card = page.find_element(By.CSS_SELECTOR, '.answer[data-model="mnist-cnn"]')
    best = card.find_element(By.CSS_SELECTOR, ".pct.best")
    assert best.get_attribute("data-label") == "1" and best.text.endswith("%")
    assert len(card.find_elements(By.CSS_SELECTOR, ".pct")) == 10
    assert card.find_element(By.CSS_SELECTOR, ".inputs img").get_attribute(
        "src").startswith("data:image/png;base64,")

    _clear(page)
    before = _answers(page)
    # A 7 drawn over about a second: the answers update while it is drawn, not only at
    # the end of the stroke.
    _stroke(page, [(0.25, 0.2), (0.75, 0.2), (0.42, 0.85)], step_ms=50)
    _settled(page, before)
    assert _answers(page) - before >= 3
    assert _labels(page) == {"mnist-mlp": "7", "mnist-cnn": "7"}


def test_uploading_a_photo(page, tmp_path):
    path = tmp_path / "four.jpg"
    path.write_bytes(T.encode(T.photo("4"), "JPEG", quality=90))
    before = _answers(page)
    page.find_element(By.ID, "file").send_keys(str(path))
    _settled(page, before)
    assert _labels(page) == {"mnist-mlp": "4", "mnist-cnn": "4"}


def test_a_bad_upload_shows_the_message(page, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    before = _answers(page)
    page.find_element(By.ID, "file").send_keys(str(path))
    _settled(page, before)
    assert "not a readable image" in page.find_element(By.ID, "status").text


def test_screenshot_is_not_blank(page, tmp_path):
    before = _answers(page)
    _stroke(page, [(0.3, 0.3), (0.5, 0.15), (0.7, 0.3), (0.3, 0.85), (0.75, 0.85)])  # a 2
    _settled(page, before)
    shot = Image.open(io.BytesIO(page.get_screenshot_as_png())).convert("RGB")
    pixels = np.asarray(shot, np.float64)
    assert shot.size[0] >= 800 and pixels.std() > 20
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # text, bars, the drawing
    target = os.environ.get("SKNN_MNIST_SCREENSHOT")  # the README's, made on request
    shot.save(Path(target) if target else tmp_path / "page.png")
