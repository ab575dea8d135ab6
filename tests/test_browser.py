"""The web page in a real browser: Debian's headless Chromium driven by selenium uploads a photo, runs the
fast method and sees the result image, and streams Chromium's fake camera through the webcam tab (the
frames/s it reaches are printed). Skipped when chromium/chromedriver or selenium are not installed
(`.ci/run` installs them); nothing is downloaded and the browser is kept off the network.

With PAINTERLY_SCREENSHOTS=DIR the tests also save the page as PNGs there (the README's docs/web-*.png)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLES, free_port, smooth_image

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")
pytest.importorskip("gradio")

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from painterly import web

WAIT_S = 30
SHOTS = os.environ.get("PAINTERLY_SCREENSHOTS")
FPS_WINDOW_S = 10.0


def photo_for(tmp_path: Path, size: tuple[int, int], seed: int) -> tuple[Path, str]:
    """(photo, its size as the page writes it): a small synthetic one, or for screenshots the example cat."""
    from PIL import Image

    photo = EXAMPLES / "chelsea.jpg" if SHOTS else smooth_image(tmp_path / "photo.png", size, seed)
    w, h = Image.open(photo).size
    return photo, f"{w}×{h}"


def screenshot(browser: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(Path(SHOTS) / name))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PAINTERLY_HOME", str(tmp_path_factory.mktemp("browser_home")))
        cfg = web.ServeConfig(port=free_port(), max_size=256)
        demo = web.launch(cfg, block=False)
        try:
            yield f"http://127.0.0.1:{cfg.port}/"
        finally:
            demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="painterly-chromium-")
    opts = Options()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1400,1800", f"--user-data-dir={profile}",
                 # a generated test picture instead of a camera, and camera access granted without asking
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"):
        opts.add_argument(flag)
    # selenium-manager would try to download a driver: give it Debian's explicitly
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_upload_photo_run_fast_and_see_result(url: str, browser: Any, tmp_path: Path) -> None:
    photo, shown = photo_for(tmp_path, (120, 80), 3)
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(url)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#content-image input[type=file]")))
    assert "painterly" in browser.title
    # the built-in gallery is there and fast is the selected method
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#builtin-gallery img")))
    upload.send_keys(str(photo))
    # the upload is shown and checked on the server before we run
    wait.until(ec.text_to_be_present_in_element((By.ID, "upload-info"), shown))
    wait.until(ec.element_to_be_clickable((By.ID, "run"))).click()
    img = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#result img")))
    wait.until(lambda d: img.get_attribute("src") and img.get_attribute("naturalWidth") not in (None, "0"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "painterly-report"), "fast"))
    report = browser.find_element(By.ID, "painterly-report").text
    width = int(img.get_attribute("naturalWidth"))
    assert f"{width}×" in report    # the image shown is the result the server reported
    assert "Traceback" not in browser.page_source
    screenshot(browser, "web-main.png")


def _tab(browser: Any, wait: Any, name: str) -> None:
    tabs = wait.until(lambda d: [t for t in d.find_elements(By.CSS_SELECTOR, "button[role=tab]") if t.text.strip() == name])
    tabs[0].click()


def _set_number(browser: Any, elem_id: str, value: int) -> None:
    box = browser.find_element(By.CSS_SELECTOR, f"#{elem_id} input[type=number]")
    box.clear()
    box.send_keys(str(value), Keys.TAB)


def test_builtin_picker_hides_for_other_methods(url: str, browser: Any) -> None:
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(url)
    picker = wait.until(ec.visibility_of_element_located((By.ID, "builtin-style-0")))
    assert picker.is_displayed()
    method = browser.find_element(By.CSS_SELECTOR, "#method input")
    method.click()
    method.send_keys(Keys.CONTROL, "a")
    method.send_keys("adain", Keys.ENTER)
    wait.until(ec.invisibility_of_element_located((By.ID, "builtin-style-0")))
    wait.until(ec.invisibility_of_element_located((By.ID, "builtin-gallery")))
    assert browser.find_element(By.CSS_SELECTOR, "#style-image-0").is_displayed()
    assert wait.until(ec.visibility_of_element_located((By.ID, "method-hint"))).text   # its weights are missing


def test_painting_regions_starts_from_the_photo(url: str, browser: Any, tmp_path: Path) -> None:
    photo, shown = photo_for(tmp_path, (120, 80), 5)
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(url)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#content-image input[type=file]"))
               ).send_keys(str(photo))
    wait.until(ec.text_to_be_present_in_element((By.ID, "upload-info"), shown))
    browser.find_element(By.CSS_SELECTOR, "#regions-box button").click()
    # the editor shows the photo as its background, ready to be painted on
    wait.until(lambda d: d.execute_script(
        "const c = document.querySelector('#regions canvas'); return c && c.width > 0;"))
    screenshot(browser, "web-regions.png")


def test_webcam_streams_stylised_frames(url: str, browser: Any) -> None:
    wait = WebDriverWait(browser, 60)
    browser.get(url)
    wait.until(ec.presence_of_element_located((By.ID, "size")))
    _set_number(browser, "size", 128)        # small frames: the stream is about throughput, not detail
    _tab(browser, wait, "Webcam")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#webcam div[title='grant webcam access'] button"))
               ).click()
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#webcam button.capture-button"))).click()
    # count the distinct frames the page shows (each stylised frame arrives as a new image URL)
    browser.execute_script("""
        window.__frames = new Set();
        const note = () => document.querySelectorAll('#webcam-result img').forEach(
            i => { if (i.src) window.__frames.add(i.src); });
        new MutationObserver(note).observe(document.querySelector('#webcam-result'),
            {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});""")
    wait.until(lambda d: d.execute_script("return window.__frames.size") >= 3)
    n0, t0 = browser.execute_script("return window.__frames.size"), time.perf_counter()
    time.sleep(FPS_WINDOW_S)
    n1, t1 = browser.execute_script("return window.__frames.size"), time.perf_counter()
    fps = (n1 - n0) / (t1 - t0)
    # the newest frame may still be decoding when it is swapped in, and the first frames of a stream may
    # predate the size setting: wait (bounded) for a decoded frame at the requested size
    # (the size is read in the same script that checks it: the element is replaced at every frame)
    width, height = wait.until(lambda d: d.execute_script(
        "const i = document.querySelector('#webcam-result img');"
        "return i && i.naturalHeight > 0 && Math.max(i.naturalWidth, i.naturalHeight) === 128"
        " ? [i.naturalWidth, i.naturalHeight] : null;"))
    server = browser.find_element(By.ID, "webcam-fps").text
    print(f"\nwebcam: {fps:.1f} frames/s in the browser over {t1 - t0:.0f} s ({width}x{height} px); "
          f"server says {server!r}")
    screenshot(browser, "web-webcam.png")
    assert n1 > n0 and fps > 0.5
    assert max(width, height) == 128           # the size setting reached the stream
    assert "frames/s" in server and f"{width}×{height}" in server
    assert "Traceback" not in browser.page_source
