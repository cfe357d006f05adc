"""The coach's diary page, server-rendered: semantic HTML (a table per day with a caption
and column headers, `<time>` elements, `lang`), every value escaped. Built with the standard
library's `html.escape`, so scheduling needs no template engine."""

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from html import escape
from typing import Any

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1rem auto; max-width: 60rem; color: #111;
       padding: 0 .5rem; }
table { border-collapse: collapse; width: 100%; margin-bottom: 1.5rem; }
caption { text-align: left; font-weight: bold; padding: .5rem 0; }
th, td { border-bottom: 1px solid #767676; padding: .4rem .6rem; text-align: left; }
@media (max-width: 30rem) { th, td { padding: .3rem .25rem; font-size: .9rem; } }
.cancelled td { text-decoration: line-through; color: #505050; }
"""


def long_day(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def _time(moment: datetime, text: str) -> str:
    return f'<time datetime="{escape(moment.isoformat())}">{escape(text)}</time>'


def _row(session: Mapping[str, Any]) -> str:
    starts, ends, patient = session["starts"], session["ends"], session["patient_starts"]
    patient_text = f"{patient:%H:%M %Z}"
    if patient.date() != starts.date():
        patient_text += f" ({patient:%a} {patient.day} {patient:%b})"
    cancelled = ' class="cancelled"' if session["status"] == "cancelled" else ""
    return (
        f"<tr{cancelled}><td>{_time(starts, f'{starts:%H:%M}-{ends:%H:%M}')}</td>"
        f"<td>{_time(patient, patient_text)}</td><td>{escape(session['title'])}</td>"
        f"<td>{escape(session['status'])}</td></tr>"
    )


def render(
    display_name: str,
    timezone: str,
    patient_zone: str,
    first_day: date,
    days: int,
    by_day: Mapping[date, Sequence[Mapping[str, Any]]],
) -> str:
    name, zone, theirs = escape(display_name), escape(timezone), escape(patient_zone)
    # A long zone name in a column header may break after its "/" on a phone, not mid-word.
    zone_col, theirs_col = (z.replace("/", "/<wbr>") for z in (zone, theirs))
    tables = []
    for day, sessions in by_day.items():
        rows = "".join(_row(s) for s in sessions)
        tables.append(
            f'<table><caption><time datetime="{day.isoformat()}">{long_day(day)}</time>'
            f'</caption><thead><tr><th scope="col">Time ({zone_col})</th>'
            f'<th scope="col">Patient\'s time ({theirs_col})</th><th scope="col">Session</th>'
            f'<th scope="col">Status</th></tr></thead><tbody>{rows}</tbody></table>'
        )
    body = "".join(tables) or "<p>No sessions in these days.</p>"
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Diary of {name} - Ensemble scheduling</title><style>{STYLE}</style></head>"
        f"<body><header><h1>Diary of {name}</h1><p>Times are the coach's own, "
        f"<strong>{zone}</strong>; the patient's time ({theirs}) is beside each. {days} days "
        f'from <time datetime="{first_day.isoformat()}">{long_day(first_day)}</time>.</p>'
        f"</header><main>{body}</main></body></html>"
    )
