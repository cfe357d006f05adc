"""scheduling's coach diary page in Debian's headless Chromium, opened by the coach's secret
link across the clock change of 28 March 2027: a London coach's sessions stay at 10:00 on
her own clock while UTC moves an hour; a Mumbai coach's stay at 13:30 IST while the patient's
London time moves from 08:00 GMT to 09:00 BST. Accessible markup (lang, one h1, a captioned
table per day with column headers, machine-readable `<time>`); screenshots at laptop and phone
sizes in run/screenshots/."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ensemble_devkit import synthetic
from ensemble_devkit.browser import SCREENSHOTS, chromium_session, needs_browser, served_on_thread
from ensemble_devkit.testkit import FrozenClock, ServiceKit, tokens
from scheduling.domain.coach import Coach
from scheduling.service import DEFINITION
from scheduling.service_layer.calendar_links import IssueCalendarLink
from scheduling.service_layer.commands import BookProgramme, UpsertCoaches

pytestmark = needs_browser()
# Thursday before the UK's clocks go forward (Sunday 28 March 2027, 01:00 GMT).
CLOCK = FrozenClock(datetime(2027, 3, 25, 12, 0, tzinfo=UTC))
FRIDAY_AND_MONDAY = ("fri", "mon")
COACHES: tuple[dict[str, Any], ...] = (
    {
        "coach_id": "LDN1",
        "display_name": "Amelia <Lead> & Co",  # escaped on the page
        "languages": ["en"],
        "timezone": "Europe/London",
        "weekly_hours": {d: [["10:00", "10:30"]] for d in FRIDAY_AND_MONDAY},
    },
    {
        "coach_id": "BOM1",
        "display_name": "Gurpreet",
        "languages": ["pa", "hi"],  # so the English-speaking patients go to LDN1
        "timezone": "Asia/Kolkata",
        "weekly_hours": {d: [["13:30", "14:00"]] for d in FRIDAY_AND_MONDAY},
    },
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """scheduling under uvicorn on a thread (no lifespan: no Kafka): each coach has a Friday
    and a Monday session, either side of the clock change; the coaches' secret diary links."""
    kit = ServiceKit(
        DEFINITION,
        f"sqlite:///{tmp_path / 'scheduling.db'}",
        CLOCK,
        staff_tokens=tokens("staff", "coaching-lead"),
        follow_ups=0,
        review_after_days=0,
        reminder_scan_seconds=0,
    )
    kit.execute(UpsertCoaches(tuple(Coach.from_json(c) for c in COACHES)))
    patients = synthetic.test_nhs_numbers(start=700_000)
    for language in ("en", "en", "pa", "pa"):
        booking = BookProgramme(uuid4(), next(patients), "L85001", "health_coaching", language)
        assert kit.execute(booking)
    links = {c["coach_id"]: kit.execute(IssueCalendarLink(c["coach_id"])) for c in COACHES}
    try:
        with served_on_thread(kit.service.app) as base:
            yield base, links
    finally:
        kit.dispose()


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium_session(tmp_path / "chromium") as driver:
        yield driver


def sessions(driver: WebDriver) -> list[tuple[str, str, str, str, str]]:
    """Per row: the day's caption, the coach's time, its `datetime`, the patient's time and
    its `datetime`."""
    found = []
    for table in driver.find_elements(By.CSS_SELECTOR, "main table"):
        caption = table.find_element(By.TAG_NAME, "caption").text
        for row in table.find_elements(By.CSS_SELECTOR, "tbody tr"):
            coach, patient = row.find_elements(By.TAG_NAME, "time")[:2]
            found.append(
                (
                    caption,
                    coach.text,
                    coach.get_attribute("datetime") or "",
                    patient.text,
                    patient.get_attribute("datetime") or "",
                )
            )
    return found


def accessible(driver: WebDriver) -> None:
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en-GB"
    assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1
    for table in driver.find_elements(By.CSS_SELECTOR, "main table"):
        assert table.find_element(By.TAG_NAME, "caption").text
        headers = table.find_elements(By.CSS_SELECTOR, "thead th")
        assert [h.get_attribute("scope") for h in headers] == ["col"] * 4
        assert headers[0].text.startswith("Time (") and "Patient's time" in headers[1].text
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, "the page scrolls sideways"


def test_a_coachs_diary_keeps_their_own_clock_across_the_clock_change(
    served: tuple[str, dict[str, str]], chromium: WebDriver
) -> None:
    base, links = served
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    chromium.get(f"{base}/v1/coaches/LDN1/diary?key={links['LDN1']}&days=7")
    assert chromium.find_element(By.TAG_NAME, "h1").text == "Diary of Amelia <Lead> & Co"
    assert "Europe/London" in chromium.find_element(By.CSS_SELECTOR, "header p").text
    accessible(chromium)
    # 10:00 on her clock both days: 10:00 UTC before the change, 09:00 UTC after it.
    assert sessions(chromium) == [
        ("Friday 26 March 2027", "10:00-10:30", "2027-03-26T10:00:00+00:00",
         "10:00 GMT", "2027-03-26T10:00:00+00:00"),
        ("Monday 29 March 2027", "10:00-10:30", "2027-03-29T10:00:00+01:00",
         "10:00 BST", "2027-03-29T10:00:00+01:00"),
    ]  # fmt: skip
    chromium.save_screenshot(str(SCREENSHOTS / "scheduling-diary-london-1366.png"))

    chromium.get(f"{base}/v1/coaches/BOM1/diary?key={links['BOM1']}&days=7")
    assert "Asia/Kolkata" in chromium.find_element(By.CSS_SELECTOR, "header p").text
    accessible(chromium)
    # 13:30 IST both days (India keeps one offset); the London patient's hour moves.
    assert sessions(chromium) == [
        ("Friday 26 March 2027", "13:30-14:00", "2027-03-26T13:30:00+05:30",
         "08:00 GMT", "2027-03-26T08:00:00+00:00"),
        ("Monday 29 March 2027", "13:30-14:00", "2027-03-29T13:30:00+05:30",
         "09:00 BST", "2027-03-29T09:00:00+01:00"),
    ]  # fmt: skip
    chromium.save_screenshot(str(SCREENSHOTS / "scheduling-diary-mumbai-1366.png"))
    chromium.set_window_size(390, 844)  # a phone
    accessible(chromium)
    chromium.save_screenshot(str(SCREENSHOTS / "scheduling-diary-mumbai-390.png"))

    # Without the key, or with someone else's, the diary is not shown.
    chromium.get(f"{base}/v1/coaches/BOM1/diary?key={links['LDN1']}")
    assert "Diary of" not in chromium.page_source
