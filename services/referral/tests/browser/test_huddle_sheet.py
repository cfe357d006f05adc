"""The printable huddle sheet in Debian's headless Chromium: headings in order, tables whose
headers have a scope, no script, readable at laptop width and on paper (print media, a PDF).
The browser signs in as a person would: the sheet shows the sign-in form, a staff token is
typed in, and the form returns to the sheet. Screenshots in run/screenshots/."""

import base64
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from uuid import UUID

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ensemble_contracts.hospital import EncounterEventType
from ensemble_devkit.browser import (
    SCREENSHOTS,
    chromium_session,
    needs_browser,
    served_on_thread,
    submit,
)
from ensemble_devkit.testkit import token
from referral.domain.huddle import parse_team
from referral.service_layer.huddle_commands import AddAction

from ..huddle_support import agenda, band_change, on_caseload, open_huddle
from ..support import Kit, encounter, referral_kit, trigger

pytestmark = needs_browser()
MONDAY, THURSDAY = date(2026, 11, 23), date(2026, 11, 26)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Kit, str]]:
    """referral's app under uvicorn on a thread (no lifespan: no Kafka)."""
    kit = referral_kit(f"sqlite:///{tmp_path / 'referral.db'}")
    try:
        with served_on_thread(kit.service.app) as base:
            yield kit, base
    finally:
        kit.dispose()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    with chromium_session(tmp_path / "profile") as driver:
        yield driver


def a_week_of_news(kit: Kit) -> None:
    """Monday's huddle with an action left open; by Thursday, hospital news, a band rise and
    a new proposal."""
    for patient in ("9990000018", "9990000026"):
        on_caseload(kit, patient)
    kit.consume(encounter("9990000018", occurred_at=kit.clock.advance(minutes=5)))
    open_huddle(kit, "complex_care", MONDAY)
    (item,) = agenda(kit, "complex_care", MONDAY)["items"]
    team = parse_team("complex_care")
    kit.execute(
        AddAction(
            team,
            MONDAY,
            UUID(item["item_id"]),
            "Ask the ward for the discharge plan",
            "KW01",
            THURSDAY,
            "alice",
        )
    )
    at = kit.clock.advance(days=2)
    kit.consume(
        encounter("9990000018", occurred_at=at, event_type=EncounterEventType.DISCHARGED),
        encounter("9990000026", occurred_at=at, event_type=EncounterEventType.AE_ATTENDANCE),
        band_change("9990000026", "very_high", "high", at),
        trigger("9990000034", occurred_at=at),
    )
    kit.clock.advance(days=1)
    open_huddle(kit, "complex_care", THURSDAY)
    items = agenda(kit, "complex_care", THURSDAY)["items"]
    (discharge,) = [i for i in items if i["kind"] == "discharged"]
    kit.execute(
        AddAction(
            team,
            THURSDAY,
            UUID(discharge["item_id"]),
            "Home visit within 48 hours",
            "SUP01",
            THURSDAY + timedelta(days=2),
            "alice",
        )
    )


def test_the_huddle_sheet_reads_and_prints_without_script(
    served: tuple[Kit, str], browser: WebDriver, tmp_path: Path
) -> None:
    kit, base = served
    a_week_of_news(kit)
    sheet = f"{base}/v1/teams/complex_care/huddles/{THURSDAY.isoformat()}/sheet"
    browser.get(sheet)  # not signed in: the sign-in form in the sheet's place
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sign in to the huddle sheets"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / "huddle-sheet-sign-in.png"))
    browser.find_element(By.ID, "token").send_keys(token("staff", "staff"))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form button[type=submit]"))
    assert browser.current_url == sheet
    session = browser.get_cookie("referral_session")
    assert session is not None and session["httpOnly"] and session["sameSite"] == "Strict"

    assert browser.title == "Huddle sheet: Complex care, Thursday 26 November 2026"
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en-GB"
    headings = [(h.tag_name, h.text) for h in browser.find_elements(By.CSS_SELECTOR, "h1, h2")]
    assert headings == [
        ("h1", "Huddle sheet: Complex care"),
        ("h2", "Agenda (4 items)"),
        ("h2", "Carried over (1)"),
        ("h2", "Team members who can own actions"),
    ]
    assert browser.find_elements(By.TAG_NAME, "script") == []
    headers = browser.find_elements(By.TAG_NAME, "th")
    scopes = {
        (
            h.find_element(By.XPATH, "..").find_element(By.XPATH, "..").tag_name,
            h.get_attribute("scope"),
        )
        for h in headers
    }
    assert scopes == {("thead", "col"), ("tbody", "row")}
    assert all(
        t.find_elements(By.TAG_NAME, "caption") for t in browser.find_elements(By.TAG_NAME, "table")
    )

    agenda_rows = browser.find_elements(
        By.CSS_SELECTOR, "section[aria-labelledby=agenda-heading] tbody tr"
    )
    rows = [[c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")] for r in agenda_rows]
    assert [r[0] for r in rows] == [
        "A&E attendance",
        "Discharged",
        "Risk band rose",
        "Hot-onboarding proposal",
    ]
    assert rows[1][1] == "999 000 0018"
    assert rows[1][5] == "Home visit within 48 hours: Sam Supervisor, due 28 Nov 2026"
    assert "keyworker Kim Keyworker" in rows[1][4]
    carried = browser.find_element(
        By.CSS_SELECTOR, "section[aria-labelledby=carried-heading] tbody tr"
    )
    assert carried.text.startswith("Ask the ward for the discharge plan Kim Keyworker 26 Nov 2026")
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0

    browser.save_screenshot(str(SCREENSHOTS / "huddle-sheet-1366x768.png"))
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    margin = browser.execute_script("return getComputedStyle(document.body).marginTop")
    assert margin == "0px"  # the print rules apply
    browser.save_screenshot(str(SCREENSHOTS / "huddle-sheet-print.png"))
    pdf = base64.b64decode(browser.print_page())
    assert pdf.startswith(b"%PDF")
    (tmp_path / "huddle-sheet.pdf").write_bytes(pdf)
