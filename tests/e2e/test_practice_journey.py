"""Issue 9's "done when", on the real system: a practice user opens the inbox page in Debian's
headless Chromium, sees an admission of one of her patients appear live with its risk band,
marks it actioned, and the same alert reaches the practice's webhook receiver once, signed.

Everything between the hospital's HTTP post and the page is real: hospital-feed, scoring and
referral as processes on the real broker, the page's token issued by the access CLI, and the
receiver example verifying Standard Webhooks signatures as its own process.
"""

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from ensemble_devkit import REPO_ROOT
from ensemble_devkit.browser import chromium_session, needs_browser
from ensemble_devkit.synthetic import adt_message

from ..flow import Ensemble, fresh_nhs_numbers, wait_for
from .test_care_flow import high_risk
from .test_webhooks import receiver

SCREENSHOT = REPO_ROOT / "run" / "screenshots" / "practice-journey-1366x768.png"

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.e2e,
    needs_browser(),
]


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium_session(Path(tempfile.mkdtemp(dir=tmp_path))) as driver:
        yield driver


def test_a_practice_user_sees_an_admission_live_actions_it_and_its_webhook_gets_it_once(
    ensemble: Ensemble, chromium: WebDriver, tmp_path: Path
) -> None:
    (frail,) = fresh_nhs_numbers(1)
    ensemble.load_profiles([high_risk(frail, "L85001")])
    wait_for(
        lambda: ensemble.count(
            "hospital-feed", "SELECT count(*) FROM patient_risk WHERE nhs_number = ?", frail
        ),
        20,
        "the patient's risk band projected in hospital-feed",
    )
    with receiver(ensemble, tmp_path, "L85001") as hook:
        feed = ensemble.url("hospital-feed", "")
        chromium.get(f"{feed}/practice/")
        # The token `ensemble-hospital-feed-access provision` issued for L85001's user demo.
        chromium.find_element(By.ID, "token").send_keys(ensemble.credentials.practices["L85001"])
        chromium.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
        WebDriverWait(chromium, 10).until(
            ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Hospital alerts for L85001")
        )
        sent = time.monotonic()
        ensemble.post_adt(adt_message("A01", frail, "L85001", f"JRN-{frail}", f"V{frail}"))
        spaced = f"{frail[:3]} {frail[3:6]} {frail[6:]}"

        def admission_card(driver: WebDriver) -> WebElement | Literal[False]:
            cards = driver.find_elements(By.CSS_SELECTOR, "#alerts > li.alert")
            return next((c for c in cards if spaced in c.text and "admission" in c.text), False)

        card = WebDriverWait(chromium, 10, poll_frequency=0.05).until(admission_card)
        print(f"\nadmission shown on the open page {time.monotonic() - sent:.3f}s after the post")
        assert "Emergency" in card.text
        assert "Very high" in card.text or "High" in card.text, card.text
        alert_id = int(card.get_attribute("data-alert-id") or 0)

        Select(card.find_element(By.CSS_SELECTOR, "select[name=outcome]")).select_by_value(
            "added_to_huddle"
        )
        card.find_element(By.CSS_SELECTOR, ".actioned-form button[type=submit]").click()
        WebDriverWait(chromium, 10, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: "Actioned: Added to huddle" in d.find_element(By.ID, f"alert-{alert_id}").text
        )
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        chromium.execute_script(  # the actioned card in view (hot onboarding may be above)
            "arguments[0].scrollIntoView()", chromium.find_element(By.ID, f"alert-{alert_id}")
        )
        chromium.get_screenshot_as_file(str(SCREENSHOT))
        print(f"screenshot: {SCREENSHOT}")
        (stored,) = [a for a in ensemble.alerts_for("L85001", frail) if a["kind"] == "admitted"]
        assert stored["alert_id"] == alert_id
        assert (stored["state"], stored["outcome"]) == ("actioned", "added_to_huddle")
        assert stored["actioned_by"] == "demo"  # the signed-in user, not just the practice

        # The receiver verified the signature before taking it (it answers 401 otherwise).
        delivered = wait_for(
            lambda: [e for e in hook.effects(frail) if e["alert"]["alert_id"] == alert_id],
            20,
            "the admission's webhook",
        )
        assert len(delivered) == 1
        assert delivered[0]["type"] == "alert.created"
        assert delivered[0]["alert"]["risk_band"] == stored["risk_band"]
        assert hook.stats()["refused"] == 0
