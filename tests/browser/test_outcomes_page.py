"""scoring's outcomes page in Debian's headless Chromium: a practice's before/after A&E use of
the enrolled against the comparison group as SVG charts with tables beside them, read with a
practice token; screenshots at laptop and phone sizes in run/screenshots/.

The browser signs in as a person would: the page shows the sign-in form, the practice's token
is typed in, and the form returns to the page (a session in scoring's store, not a header)."""

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver

from ensemble_contracts.hospital import EncounterEvent, EncounterEventType
from ensemble_contracts.referral import ReferralEvent
from ensemble_contracts.scheduling import AppointmentEvent, AppointmentEventType
from ensemble_devkit import synthetic
from ensemble_devkit.browser import (
    SCREENSHOTS,
    chromium_session,
    needs_browser,
    served_on_thread,
    submit,
)
from ensemble_devkit.testkit import FrozenClock, ServiceKit, token, tokens
from scoring.service import DEFINITION
from scoring.service_layer.commands import LoadProfiles
from scoring.service_layer.extracts import ProfileIn

PRACTICE = "L85001"
pytestmark = needs_browser()
CLOCK = FrozenClock()
ENROLLED_ON = CLOCK.now - timedelta(days=180)


def _seed(kit: ServiceKit) -> None:  # type: ignore[type-arg]
    """Five enrolled patients and five like them never enrolled: all went to A&E 4 times in
    the year before; since, the enrolled once, the comparison group twice (their own fall)."""
    numbers = synthetic.test_nhs_numbers(500_000)
    people = [next(numbers) for _ in range(10)]
    profile = {"practice_ods": PRACTICE, "birth_date": "1938-05-04", "as_of": "2026-05-01",
               "conditions": ["diabetes", "copd", "chd", "heart_failure", "depression"],
               "repeat_medicines": 12, "efi_deficits": 10, "deprivation_quintile": 1,
               "pam_level": 2}  # fmt: skip
    lines = tuple(ProfileIn.model_validate({"nhs_number": n, **profile}) for n in people)
    kit.execute(LoadProfiles(profiles=lines))
    for i, nhs in enumerate(people):
        enrolled = i < 5
        for offset in (-300, -200, -100, -20, *((60,) if enrolled else (40, 120))):
            kit.consume(
                EncounterEvent(
                    event_type=EncounterEventType.AE_ATTENDANCE,
                    producer="hospital-feed",
                    nhs_number=nhs,
                    practice_ods=PRACTICE,
                    sending_facility="RCB",
                    trigger_event="A04",
                    source_message_id=uuid4().hex,
                    visit_number=uuid4().hex[:12],
                    patient_class="E",
                    emergency=True,
                    event_at=ENROLLED_ON + timedelta(days=offset),
                )
            )
        if enrolled:
            referral_id = uuid4()
            kit.consume(_activated(nhs, referral_id))
            for week in range(4):
                kit.consume(_attended(nhs, referral_id, week))


def _activated(nhs: str, referral_id: UUID) -> ReferralEvent:
    return ReferralEvent(
        event_type="referral.activated",
        producer="referral",
        referral_id=referral_id,
        nhs_number=nhs,
        practice_ods=PRACTICE,
        service="health_coaching",
        source="gp",
        status="active",
        occurred_at=ENROLLED_ON,
    )


def _attended(nhs: str, referral_id: UUID, week: int) -> AppointmentEvent:
    starts = ENROLLED_ON + timedelta(days=7 * week)
    return AppointmentEvent(
        event_type=AppointmentEventType.ATTENDED,
        producer="scheduling",
        nhs_number=nhs,
        appointment_id=uuid4(),
        referral_id=referral_id,
        coach_id="coach-1",
        language="en",
        starts_at=starts,
        ends_at=starts + timedelta(minutes=45),
        coach_timezone="Europe/London",
        practice_ods=PRACTICE,
        service="health_coaching",
        occurred_at=starts + timedelta(hours=1),
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """scoring's app under uvicorn on a thread (no lifespan: no Kafka), seeded."""
    kit = ServiceKit(
        DEFINITION,
        f"sqlite:///{tmp_path / 'scoring.db'}",
        clock=CLOCK,
        staff_tokens=tokens("staff", "staff"),
        practice_tokens=tokens("practice", PRACTICE, "L85002"),
    )
    _seed(kit)
    try:
        with served_on_thread(kit.service.app) as base:
            yield base
    finally:
        kit.dispose()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium_session(tmp_path / "chromium") as driver:
        yield driver


def _sign_in(driver: WebDriver, page: str, kind: str, principal: str) -> None:
    """Open the page, which is the sign-in form until signed in, and sign in with the token."""
    driver.get(page)
    assert driver.find_element(By.TAG_NAME, "h1").text == "Sign in to the outcomes report"
    driver.find_element(By.ID, "token").send_keys(token(kind, principal))
    submit(driver, driver.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert driver.current_url == page


def test_a_practice_reads_its_outcomes_against_the_comparison_group(
    served: str, chromium: WebDriver
) -> None:
    _sign_in(chromium, f"{served}/v1/outcomes/page", "practice", PRACTICE)
    assert chromium.find_element(By.TAG_NAME, "h1").text == "Outcomes and return on investment"
    assert chromium.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en-GB"
    intro = chromium.find_element(By.CSS_SELECTOR, "header p").text
    assert f"practice {PRACTICE}" in intro and "5 enrolments (5 followed up" in intro
    headings = [h.text for h in chromium.find_elements(By.TAG_NAME, "h2")]
    assert headings[0] == "Hospital use before and after enrolment"

    # The A&E chart: an image named by its title, its figures in its description and as bars.
    chart = chromium.find_element(By.CSS_SELECTOR, "svg[aria-labelledby^='chart-ae_attendances']")
    assert chart.get_attribute("role") == "img"
    desc = chart.find_element(By.TAG_NAME, "desc").get_attribute("textContent") or ""
    assert "Enrolled: 4.00 in the 12 months before, 2.03 after" in desc
    assert "Comparison group: 4.00 in the 12 months before, 4.06 after" in desc
    assert len(chart.find_elements(By.TAG_NAME, "rect")) >= 4
    assert chart.size["width"] > 200 and chart.size["height"] > 100  # drawn, not collapsed

    # The same figures as a table, with headers, for those who cannot see the chart.
    table = chromium.find_element(By.XPATH, "//table[caption='A&E attendances per patient']")
    cells = [c.text for c in table.find_elements(By.CSS_SELECTOR, "tbody tr:first-child > *")]
    assert cells == ["Enrolled", "5", "4.00", "2.03", "-1.97"]
    net = table.find_element(By.CSS_SELECTOR, "tbody tr:last-child td:last-child").text
    assert net == "-2.03"  # the enrolled fell by 1.97, the comparison group rose by 0.06
    roi = chromium.find_element(By.ID, "roi").find_element(By.XPATH, "..").text
    assert "Return per £1 spent" in roi and "A&E attendance: £" in roi
    assert "National Cost Collection" in roi  # each unit cost with its source
    by_practice = chromium.find_element(By.XPATH, "//table[caption='Outcomes by practice']")
    first_head = by_practice.find_element(By.CSS_SELECTOR, "thead th").text
    assert first_head == "Practice"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    wide = SCREENSHOTS / "outcomes-1366x768.png"
    chromium.execute_script("window.scrollTo(0, 0)")
    chromium.get_screenshot_as_file(str(wide))
    whole = SCREENSHOTS / "outcomes-full-page.png"  # the tables and ROI below the fold too
    height = chromium.execute_script("return document.documentElement.scrollHeight")
    shot = chromium.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": 1366, "height": height, "scale": 1}},
    )  # fmt: skip
    whole.write_bytes(base64.b64decode(shot["data"]))
    chromium.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    chromium.refresh()
    overflow = chromium.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 390px"
    narrow = SCREENSHOTS / "outcomes-390x844.png"
    chromium.get_screenshot_as_file(str(narrow))
    print(f"screenshots: {wide} {whole} {narrow}")

    # Keyboard: the first Tab lands on the skip link, shown once focused.
    chromium.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
    skip = chromium.switch_to.active_element
    assert skip.get_attribute("class") == "skip-link" and (
        skip.get_attribute("href") or ""
    ).endswith("#main")

    # Signed out, then in with another practice's token: none of this practice's enrolments.
    chromium.get(f"{served}/v1/outcomes/sign-in")
    sign_out = chromium.find_element(By.CSS_SELECTOR, "form button[type=submit]")
    submit(chromium, sign_out)
    assert chromium.get_cookie("scoring_session") is None
    _sign_in(chromium, f"{served}/v1/outcomes/page", "practice", "L85002")
    assert "0 enrolments" in chromium.find_element(By.CSS_SELECTOR, "header p").text
