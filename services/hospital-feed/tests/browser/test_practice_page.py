"""The practice inbox in Debian's headless Chromium: sign in, live alerts, acknowledge,
isolation between practices; screenshots at laptop and phone sizes."""

import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from ensemble_contracts.scoring import ScoreChanged, ScoreReason
from ensemble_devkit.browser import (
    SCREENSHOTS,
    chromium,
    needs_browser,
    served_on_thread,
)
from ensemble_devkit.testkit import token
from hospital_feed.entrypoints.alert_stream import feed_of

from ..support import FeedKit, alerts, feed_kit
from ..unit.test_alerts import encounter

pytestmark = needs_browser()


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FeedKit, str]]:
    """The service's app under uvicorn on a thread (no lifespan: no Kafka), with the alert
    feed the streams need running on the server's loop."""
    kit = feed_kit(f"sqlite:///{tmp_path / 'feed.db'}")

    async def start_feed() -> Callable[[], Awaitable[None]]:
        feed = feed_of(kit.runtime)
        await feed.start()
        return feed.stop

    try:
        with served_on_thread(kit.service.app, beside=start_feed) as base:
            yield kit, base
    finally:
        kit.dispose()


@pytest.fixture
def browsers() -> Iterator[list[WebDriver]]:
    """Fresh Chromium sessions (each its own profile): call `browsers.append(chromium())`."""
    opened: list[WebDriver] = []
    yield opened
    for driver in opened:
        driver.quit()


def sign_in(driver: WebDriver, base: str, ods: str) -> None:
    driver.get(f"{base}/practice/")
    field = driver.find_element(By.ID, "token")  # found by its label's target
    assert driver.find_element(By.CSS_SELECTOR, "label[for=token]").text
    field.send_keys(token("practice", ods))
    driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    WebDriverWait(driver, 5).until(
        ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), f"Hospital alerts for {ods}")
    )


def listed_ids(driver: WebDriver) -> list[int]:
    items = driver.find_elements(By.CSS_SELECTOR, "#alerts > li.alert")
    return [int(item.get_attribute("data-alert-id") or 0) for item in items]


def newest_id(kit: FeedKit, ods: str) -> int:
    return max(a.alert_id or 0 for a in alerts(kit) if a.practice_ods == ods)


def test_a_practice_works_its_inbox_in_the_browser(
    served: tuple[FeedKit, str], browsers: list[WebDriver], tmp_path: Path
) -> None:
    kit, base = served
    kit.consume(encounter(visit_number="V1", nhs_number="9990000018", location="WARD 7"))
    kit.consume(encounter(practice_ods="L85002", nhs_number="9990000026", visit_number="V9"))
    first = newest_id(kit, "L85001")
    theirs = newest_id(kit, "L85002")

    browsers.append(chromium(Path(tempfile.mkdtemp(dir=tmp_path))))
    driver = browsers[0]
    sign_in(driver, base, "L85001")
    assert listed_ids(driver) == [first]
    card = driver.find_element(By.ID, f"alert-{first}")
    assert "999 000 0018" in card.text and "WARD 7" in card.text and "New" in card.text
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    # Keyboard: the first Tab lands on the skip link, which shows a visible focus ring.
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    focused = driver.switch_to.active_element
    assert focused.get_attribute("class") == "skip-link"
    assert focused.value_of_css_property("outline-style") == "solid"

    # Live: once the page's stream is open, a new alert appears at the top within a second.
    feed = feed_of(kit.runtime)
    deadline = time.monotonic() + 5
    while feed.subscriber_count() < 1:
        assert time.monotonic() < deadline, "the page did not open its stream"
        time.sleep(0.02)
    # Scored very high by scoring (through the risk consumer), then admitted.
    reason = ScoreReason(factor="frailty", points=40, detail="severe frailty (eFI 0.41)")
    kit.consume(
        ScoreChanged(
            producer="scoring",
            nhs_number="9990000034",
            practice_ods="L85001",
            model_version="test",
            score=91,
            band="very_high",
            reasons=[reason],
        )
    )
    kit.consume(
        encounter(visit_number="V2", nhs_number="9990000034", emergency=True, location="AMU")
    )
    second = newest_id(kit, "L85001")
    started = time.monotonic()
    WebDriverWait(driver, 1, poll_frequency=0.02).until(lambda d: listed_ids(d)[:1] == [second])
    print(f"\nlive alert shown {time.monotonic() - started:.3f}s after it was stored")
    assert listed_ids(driver) == [second, first]
    live = driver.find_element(By.ID, f"alert-{second}")
    assert "999 000 0034" in live.text and "Emergency" in live.text and "AMU" in live.text
    assert "Very high" in live.text and "severe frailty" in live.text
    WebDriverWait(driver, 2).until(
        lambda d: (
            "New alert" in (d.find_element(By.ID, "announcer").get_attribute("textContent") or "")
        )
    )

    # Actioned, on the live card, with an outcome: a plain form post and back (303).
    outcome = live.find_element(By.CSS_SELECTOR, "select[name=outcome]")
    label = live.find_element(By.CSS_SELECTOR, ".actioned-form label")
    assert label.get_attribute("for") == outcome.get_attribute("id") == f"outcome-{second}"
    Select(outcome).select_by_value("called_patient")
    live.find_element(By.CSS_SELECTOR, ".actioned-form button[type=submit]").click()
    WebDriverWait(driver, 5, ignored_exceptions=[StaleElementReferenceException]).until(
        lambda d: "Actioned: Called patient" in d.find_element(By.ID, f"alert-{second}").text
    )
    assert driver.current_url.endswith(f"/practice/#alert-{second}")
    stored = next(a for a in alerts(kit) if a.alert_id == second)
    assert (stored.outcome, stored.actioned_by, stored.seen_by) == (
        "called_patient",
        "L85001",
        "L85001",
    )
    assert stored.actioned_at is not None

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wide = SCREENSHOTS / "practice-inbox-1366x768.png"
    driver.execute_script("window.scrollTo(0, 0)")
    driver.get_screenshot_as_file(str(wide))
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    driver.refresh()
    WebDriverWait(driver, 5).until(ready.presence_of_element_located((By.ID, f"alert-{first}")))
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 390px"
    narrow = SCREENSHOTS / "practice-inbox-390x844.png"
    driver.get_screenshot_as_file(str(narrow))
    print(f"screenshots: {wide} {narrow}")

    # Another practice, in a browser of its own, sees none of these.
    browsers.append(chromium(Path(tempfile.mkdtemp(dir=tmp_path))))
    other = browsers[1]
    sign_in(other, base, "L85002")
    assert listed_ids(other) == [theirs]
    assert "999 000 0018" not in other.page_source
    assert "999 000 0034" not in other.page_source
