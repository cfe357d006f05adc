"""The staff message browser in Debian's headless Chromium at 1366x768: sign in, find a
message by its control id, read its raw text and ACK, resubmit it corrected, discard
another; labelled fields and keyboard use; a screenshot in run/screenshots/."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from ensemble_devkit.browser import SCREENSHOTS, chromium, needs_browser, served_on_thread
from ensemble_devkit.testkit import token

from ..samples import adt
from ..support import FeedKit, feed_kit, receive, stored
from .test_practice_page import browsers

pytestmark = needs_browser()

__all__ = ["browsers", "pytestmark"]  # the practice page test's fixture and browser rule
KEY = "a-browser-test-search-key-32-characters"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FeedKit, str]]:
    """The app under uvicorn on a thread (no lifespan: no Kafka)."""
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}", message_search_key=KEY)
    try:
        with served_on_thread(kit.service.app) as base:
            yield kit, base
    finally:
        kit.dispose()


def unlabelled_fields(driver: WebDriver) -> list[str]:
    """Visible form fields without a <label for> naming them."""
    script = """
      return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
        .filter(f => !f.id || !document.querySelector('label[for="' + f.id + '"]'))
        .map(f => f.name);
    """
    return list(driver.execute_script(script))


def sideways_overflow(driver: WebDriver) -> int:
    return int(
        driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def test_staff_find_correct_and_discard_messages_in_the_browser(
    served: tuple[FeedKit, str], browsers: list[WebDriver], tmp_path: Path
) -> None:
    kit, base = served
    receive(kit, adt(control_id="OK-1"))
    receive(kit, adt(control_id="BAD-1", visit="V2", admit_at="2026-11-22 10:00"))
    receive(kit, adt(control_id="HELD-1", nhs="9999999999", visit="V3"))
    _accepted, refused, held = stored(kit)

    browsers.append(chromium(Path(tempfile.mkdtemp(dir=tmp_path))))
    driver = browsers[0]
    driver.get(f"{base}/staff/messages")
    assert unlabelled_fields(driver) == []
    driver.find_element(By.ID, "token").send_keys(token("staff", "staff") + Keys.ENTER)
    WebDriverWait(driver, 5).until(
        ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Stored messages")
    )
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert unlabelled_fields(driver) == []
    assert len(driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")) == 3
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = driver.switch_to.active_element
    assert skip.get_attribute("class") == "skip-link"
    assert skip.value_of_css_property("outline-style") == "solid"

    # One search by the sender's control id, from the keyboard.
    driver.find_element(By.ID, "control_id").send_keys("BAD-1" + Keys.ENTER)
    WebDriverWait(driver, 5).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#results tbody tr")) == 1
    )
    row = driver.find_element(By.CSS_SELECTOR, "#results tbody tr")
    assert row.get_attribute("data-message-id") == str(refused.id)
    assert "Rejected" in row.text and "AE" in row.text
    assert driver.find_element(By.ID, "control_id").get_attribute("value") == "BAD-1"
    assert "BAD-1" not in driver.current_url  # searches are POSTs
    assert sideways_overflow(driver) <= 0, "the search page scrolls sideways at 1366px"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.get_screenshot_as_file(str(SCREENSHOTS / "staff-messages-1366x768.png"))
    row.find_element(By.TAG_NAME, "a").click()
    WebDriverWait(driver, 5).until(ready.presence_of_element_located((By.ID, "raw")))
    assert "PV1|1|I|" in driver.find_element(By.ID, "raw").text
    assert "MSA|AE|BAD-1|" in driver.find_element(By.ID, "ack").text
    assert unlabelled_fields(driver) == []
    assert sideways_overflow(driver) <= 0, "the message page scrolls sideways at 1366px"
    shot = SCREENSHOTS / "staff-message-1366x768.png"
    driver.get_screenshot_as_file(str(shot))
    print(f"\nscreenshot: {shot}")

    # Correct the timestamp in the text and resubmit: received as a new, accepted message.
    text = driver.find_element(By.ID, "text")
    corrected = (text.get_attribute("value") or "").replace("2026-11-22 10:00", "202611221000")
    driver.execute_script("arguments[0].value = arguments[1]", text, corrected)
    driver.find_element(By.ID, "note").send_keys("PV1-44 fixed")
    driver.find_element(By.CSS_SELECTOR, "#resubmit-form button[type=submit]").click()
    WebDriverWait(driver, 5).until(
        ready.text_to_be_present_in_element((By.ID, "message-status"), "Accepted")
    )
    new = stored(kit)[-1]
    assert driver.current_url.endswith(f"/staff/messages/{new.id}")
    assert (new.resubmitted_from, new.status) == (refused.id, "accepted")
    assert "MSA|AA|BAD-1|" in driver.find_element(By.ID, "ack").text
    driver.find_element(By.ID, "original-link").click()
    WebDriverWait(driver, 5).until(
        ready.text_to_be_present_in_element((By.ID, "message-status"), "Resubmitted")
    )
    assert "PV1-44 fixed" in driver.find_element(By.ID, "closed-by").text

    # Discard the held one, with a reason.
    driver.get(f"{base}/staff/messages/{held.id}")
    driver.find_element(By.ID, "reason").send_keys("a test patient" + Keys.ENTER)
    WebDriverWait(driver, 5).until(
        ready.text_to_be_present_in_element((By.ID, "message-status"), "Discarded")
    )
    assert "a test patient" in driver.find_element(By.ID, "closed-by").text
    assert [m.status for m in stored(kit)] == ["accepted", "resubmitted", "discarded", "accepted"]
