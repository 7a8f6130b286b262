"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) under Selenium.

Selenium is synchronous: tests call :class:`Browser`'s methods through ``asyncio.to_thread`` so
the event loop (Synapse clients, the simulator's admin calls) keeps running meanwhile. The
browser and its driver are the system's; nothing is downloaded.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import zxingcpp
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 60.0


def require_chromium() -> None:
    """Fail (never skip) when the browser or its driver is missing: ``.ci/run`` installs them."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists() and shutil.which(Path(path).name) is None:
            raise AssertionError(
                f"{path} is missing: apt-get install -y chromium chromium-driver (.ci/run does)"
            )


class Browser:
    """One headless Chromium window."""

    def __init__(self, screenshots: Path) -> None:
        require_chromium()
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--window-size=900,1100",
            "--no-first-run",
            "--disable-extensions",
        ):
            options.add_argument(arg)
        self.driver = webdriver.Chrome(
            service=Service(executable_path=CHROMEDRIVER), options=options
        )
        self.screenshots = screenshots
        screenshots.mkdir(parents=True, exist_ok=True)

    def close(self) -> None:
        self.driver.quit()

    def open(self, url: str) -> None:
        self.driver.get(url)

    def element(self, element_id: str) -> WebElement:
        return self.driver.find_element(By.ID, element_id)

    def wait_visible(self, element_id: str, timeout: float = WAIT) -> WebElement:
        def visible(driver: webdriver.Chrome) -> WebElement | bool:
            found = driver.find_element(By.ID, element_id)
            return found if found.is_displayed() else False

        result = self._until(visible, f"#{element_id} never became visible", timeout)
        assert isinstance(result, WebElement)
        return result

    def wait_text(self, element_id: str, needle: str, timeout: float = WAIT) -> str:
        def has(driver: webdriver.Chrome) -> str | bool:
            found = driver.find_element(By.ID, element_id)
            text = str(found.text)
            return text if found.is_displayed() and needle in text else False

        result = self._until(has, f"#{element_id} never said {needle!r}", timeout)
        assert isinstance(result, str)
        return result

    def _until(
        self, condition: Callable[[webdriver.Chrome], object], what: str, timeout: float
    ) -> object:
        """``condition``'s first truthy answer; on timeout, fails saying what the page shows."""
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(condition)
        except TimeoutException:
            raise AssertionError(f"{what} within {timeout}s; page: {self.page_text()}") from None

    def click(self, element_id: str) -> None:
        self.wait_visible(element_id).click()

    def type(self, element_id: str, text: str) -> None:
        field = self.wait_visible(element_id)
        field.clear()
        field.send_keys(text)

    def page_text(self) -> str:
        try:
            return str(self.driver.find_element(By.TAG_NAME, "body").text)
        except Exception as e:  # the page may be gone; the message is only for a failure
            return f"<unreadable: {e}>"

    def qr_code(self, timeout: float = WAIT, other_than: str | None = None) -> str:
        """Decode the QR code the page shows (from a screenshot of its image), waiting until
        one (different from ``other_than``) is there."""

        def decoded(driver: webdriver.Chrome) -> str | bool:
            image = driver.find_element(By.ID, "qr-image")
            loaded = driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth > 0", image
            )
            if not image.is_displayed() or not loaded:
                return False
            text = read_qr(image.screenshot_as_png)
            return text if text and text != other_than else False

        result = self._until(decoded, "no (new) QR code on the page", timeout)
        assert isinstance(result, str)
        return result

    def screenshot(self, name: str) -> bytes:
        png: bytes = self.driver.get_screenshot_as_png()
        (self.screenshots / f"{name}.png").write_bytes(png)
        return png


def read_qr(png: bytes) -> str | None:
    """The text of the one QR code in a screenshot (None if there is none)."""
    image = Image.open(io.BytesIO(png))
    results = zxingcpp.read_barcodes(
        image, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)
    )
    if len(results) != 1:
        return None
    return str(results[0].text)


def assert_not_blank(png: bytes) -> None:
    """A real rendering: a PNG of some size, with more than one colour and dark text on it."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    assert width >= 300 and height >= 300, image.size
    histogram = image.histogram()
    total = width * height
    assert max(histogram) / total < 0.97, "the screenshot is (nearly) one colour"
    dark = sum(histogram[:100])
    assert dark / total > 0.001, "nothing dark (no text) in the screenshot"
