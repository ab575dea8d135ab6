"""The web page in a real browser: Debian's headless Chromium driven by selenium uploads a photo, runs the
fast method and sees the result image. Skipped when chromium/chromedriver or selenium are not installed
(`.ci/run` installs them); nothing is downloaded and the browser is kept off the network."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import free_port, smooth_image

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver")
pytest.importorskip("gradio")

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from painterly import web

WAIT_S = 30


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
                 "--disable-dev-shm-usage", "--window-size=1400,1800", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    # selenium-manager would try to download a driver: give it Debian's explicitly
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_upload_photo_run_fast_and_see_result(url: str, browser: Any, tmp_path: Path) -> None:
    photo = smooth_image(tmp_path / "photo.png", (120, 80), 3)
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(url)
    upload = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#content-image input[type=file]")))
    assert "painterly" in browser.title
    # the built-in gallery is there and fast is the selected method
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#builtin-gallery img")))
    upload.send_keys(str(photo))
    # the upload is shown and checked on the server before we run
    wait.until(ec.text_to_be_present_in_element((By.ID, "upload-info"), "120×80"))
    wait.until(ec.element_to_be_clickable((By.ID, "run"))).click()
    img = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "#result img")))
    wait.until(lambda d: img.get_attribute("src") and img.get_attribute("naturalWidth") not in (None, "0"))
    wait.until(ec.text_to_be_present_in_element((By.ID, "painterly-report"), "fast"))
    report = browser.find_element(By.ID, "painterly-report").text
    width = int(img.get_attribute("naturalWidth"))
    assert f"{width}×" in report    # the image shown is the result the server reported
    assert "Traceback" not in browser.page_source
