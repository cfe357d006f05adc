"""The outcomes page, server-rendered: before/after hospital use of the enrolled against the
comparison group as inline SVG bar charts (no JavaScript), each chart an image with a title and
a description for screen readers and a table with the same figures beside it. Built with the
standard library's `html.escape`, as scheduling's diary page is (scoring has no template
engine), every value escaped."""

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any, Final

STYLE: Final = """
body { font-family: system-ui, sans-serif; margin: 1rem auto; max-width: 62rem; color: #111;
  padding: 0 1rem; line-height: 1.45; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.5rem; }
caption { text-align: left; font-weight: bold; padding: .5rem 0; }
th, td { border-bottom: 1px solid #767676; padding: .35rem .5rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 1.5rem; }
.chart { flex: 1 1 18rem; max-width: 30rem; }
.chart svg { width: 100%; height: auto; }
figcaption { font-weight: bold; }
.note { background: #f3f2f1; border-left: 4px solid #1d70b8; padding: .5rem 1rem; }
.skip-link { position: absolute; left: -999px; }
.skip-link:focus { left: 1rem; top: 1rem; background: #fd0; outline: 3px solid #111; }
.table-wrap { overflow-x: auto; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
SECURITY_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
BEFORE, AFTER = "#505a5f", "#1d70b8"  # both at least 4.5:1 against white
MEASURE_TITLES: Final = {
    "ae_attendances": "A&E attendances",
    "emergency_admissions": "Emergency admissions",
    "bed_days": "Bed days",
}
COST_TITLES: Final = {
    "ae_attendance": "A&E attendance",
    "non_elective_admission": "Non-elective (emergency) admission",
    "bed_day": "Bed day",
}
PROGRAMMES: Final = {"health_coaching": "Health coaching", "complex_care": "Complex care"}


def _number(value: float | None, places: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{places}f}"


def _money(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"-£{-value:,.0f}" if value < 0 else f"£{value:,.0f}"


def _ceiling(top: float) -> float:
    """A round axis maximum at or above `top`."""
    if top <= 0:
        return 1.0
    step = 10 ** math.floor(math.log10(top))
    for multiple in (1, 2, 2.5, 5, 10):
        if top <= multiple * step:
            return float(multiple * step)
    return float(10 * step)


def bar_chart(chart_id: str, measure: str, group: Mapping[str, Any]) -> str:
    """Before and after, per 12 months, for the enrolled and the comparison group."""
    title = MEASURE_TITLES[measure]
    sides = [("Enrolled", group["enrolled"]), ("Comparison group", group["comparison"])]
    values = [(name, side["before"][measure], side["after"][measure]) for name, side in sides]
    top = _ceiling(max([v for _n, b, a in values for v in (b, a)] + [0.0]))
    width, height, left, bottom, plot_top = 420, 260, 48, 40, 36
    plot_h = height - bottom - plot_top
    desc = "; ".join(
        f"{name}: {_number(b)} in the 12 months before, {_number(a)} after (per 12 months)"
        for name, b, a in values
    )
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{chart_id}-title">{escape(title)} per patient per 12 months</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    for tick in range(5):  # the axis: 0, a quarter, ... the top
        value = top * tick / 4
        y = plot_top + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 8}" y1="{y:.1f}" y2="{y:.1f}" stroke="#b1b4b6"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12">'
            f"{value:g}</text>"
        )
    slot = (width - left - 8) / len(values)
    for i, (name, before, after) in enumerate(values):
        x0 = left + i * slot + slot * 0.15
        bar = slot * 0.33
        for j, (value, colour, label) in enumerate(
            ((before, BEFORE, "before"), (after, AFTER, "after"))
        ):
            h = plot_h * value / top
            x, y = x0 + j * (bar + 4), plot_top + plot_h - h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(name)}, {label}: {_number(value)}</title></rect>'
                f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="12">{_number(value)}</text>'
            )
        parts.append(
            f'<text x="{x0 + bar + 2:.1f}" y="{height - bottom + 18}" text-anchor="middle" '
            f'font-size="13">{escape(name)}</text>'
        )
    parts.append(
        f'<rect x="{left}" y="8" width="12" height="12" fill="{BEFORE}"/>'
        f'<text x="{left + 16}" y="18" font-size="12">12 months before</text>'
        f'<rect x="{left + 140}" y="8" width="12" height="12" fill="{AFTER}"/>'
        f'<text x="{left + 156}" y="18" font-size="12">after (per 12 months)</text></svg>'
    )
    return "".join(parts)


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    header = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{escape(row[0])}</th>'
        + "".join(f"<td>{escape(cell)}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-wrap"><table><caption>{escape(caption)}</caption>'
        f"<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _measure_table(measure: str, group: Mapping[str, Any]) -> str:
    net = group["net_change"]
    rows = [
        [
            name,
            str(side["followed_up"]),
            _number(side["before"][measure]),
            _number(side["after"][measure]),
            _number(side["change"][measure]),
        ]
        for name, side in (
            ("Enrolled", group["enrolled"]),
            ("Comparison group", group["comparison"]),
        )
    ]
    rows.append(
        ["Net change (enrolled minus comparison)", "", "", "", _number(net and net[measure])]
    )
    head = ["Group", "Patients followed up", "12 months before", "After, per 12 months", "Change"]
    return _table(f"{MEASURE_TITLES[measure]} per patient", head, rows)


def _group_rows(groups: Sequence[Mapping[str, Any]], key: str) -> list[list[str]]:
    rows = []
    for g in groups:
        name = PROGRAMMES.get(g[key], g[key]) if key == "programme" else g[key]
        ours, theirs, roi = g["enrolled"], g["comparison"], g["roi"]
        rows.append(
            [
                str(name),
                str(ours["patients"]),
                _number(ours["before"]["ae_attendances"]),
                _number(ours["after"]["ae_attendances"]),
                _number(theirs["before"]["ae_attendances"]),
                _number(theirs["after"]["ae_attendances"]),
                _number(g["net_change"] and g["net_change"]["ae_attendances"]),
                _number(roi["return_per_pound"]),
            ]
        )
    return rows


GROUP_HEAD: Final = (
    "Enrolled",
    "A&E before (enrolled)",
    "A&E after (enrolled)",
    "A&E before (comparison)",
    "A&E after (comparison)",
    "Net change in A&E",
    "Return per £1",
)


def render_page(report: Mapping[str, Any]) -> str:
    filters, summary = report["filters"], report["summary"]
    chosen = [
        f"practice {filters['practice']}" if filters["practice"] else "all practices",
        PROGRAMMES.get(filters["programme"] or "", "both programmes"),
        f"cohort {filters['cohort']}" if filters["cohort"] else "every cohort",
    ]
    scope = escape(", ".join(chosen))
    charts = "".join(
        f'<figure class="chart"><figcaption>{escape(MEASURE_TITLES[m])} per patient per 12 '
        f"months</figcaption>{bar_chart(f'chart-{m}', m, summary)}</figure>"
        for m in ("ae_attendances", "emergency_admissions", "bed_days")
    )
    tables = "".join(_measure_table(m, summary) for m in MEASURE_TITLES)
    roi, costs = summary["roi"], report["unit_costs_gbp"]
    money = _table(
        "Return on investment, for the followed-up enrolled",
        ["Figure", "GBP"],
        [
            ["Cost of the sessions attended", _money(roi["programme_cost_gbp"])],
            [
                "Saving before the comparison group is taken out",
                _money(roi["savings_unadjusted_gbp"]),
            ],
            ["Saving net of the comparison group's change", _money(roi["savings_adjusted_gbp"])],
            ["Net benefit (saving minus cost)", _money(roi["net_benefit_gbp"])],
            ["Return per £1 spent", _number(roi["return_per_pound"])],
        ],
    )
    sources = "".join(
        f"<li>{escape(COST_TITLES[name])}: {escape(_money(costs.get(name)))}, "
        f"{escape(costs['sources'].get(name, ''))}</li>"
        for name in ("ae_attendance", "non_elective_admission", "bed_day")
    )
    pam, medicines = summary["enrolled"]["pam_level"], summary["enrolled"]["repeat_medicines"]
    measured = _table(
        "Measured in the GP extracts since enrolment",
        ["Measure", "Patients measured", "Mean change", "Went up", "Went down"],
        [
            ["PAM level", str(pam["measured"]), _number(pam["mean_change"]),
             str(pam["went_up"]), str(pam["went_down"])],
            ["Repeat medicines", str(medicines["measured"]), _number(medicines["mean_change"]),
             str(medicines["went_up"]), str(medicines["went_down"])],
        ],
    )  # fmt: skip
    breakdowns = "".join(
        f"<h3>{title}</h3>"
        + (
            _table(
                f"Outcomes by {key}",
                [key.capitalize(), *GROUP_HEAD],
                _group_rows(report[by], key),
            )
            if report[by]
            else "<p>None.</p>"
        )
        for by, key, title in (
            ("by_practice", "practice", "By practice"),
            ("by_programme", "programme", "By programme"),
            ("by_cohort", "cohort", "By cohort"),
        )
    )
    ours = summary["enrolled"]
    return (
        '<!doctype html><html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Outcomes and return on investment - Ensemble scoring</title>"
        f"<style>{STYLE}</style></head><body>"
        '<a class="skip-link" href="#main">Skip to the report</a>'
        f"<header><h1>Outcomes and return on investment</h1><p>For {scope}, as of "
        f'<time datetime="{escape(filters["as_of"])}">{escape(filters["as_of"])}</time>: '
        f"{ours['patients']} enrolments ({ours['followed_up']} followed up for at least "
        f"{filters['min_follow_up_days']} days, {ours['unmatched']} without a comparison "
        f"patient), up to {filters['comparisons_per_enrolment']} comparison patients each.</p>"
        '</header><main id="main">'
        '<section aria-labelledby="use"><h2 id="use">Hospital use before and after enrolment'
        '</h2><p class="note">The comparison group is patients never enrolled, of the same '
        "practice, band and age band, followed from the same date. Patients picked at a time of "
        "high use tend to use less later anyway (regression to the mean): the comparison "
        "group's fall shows how much; the net change is what is left.</p>"
        f'<div class="charts">{charts}</div>{tables}</section>'
        f'<section aria-labelledby="roi"><h2 id="roi">Return on investment</h2>{money}'
        f"<p>Unit costs:</p><ul>{sources}</ul></section>"
        f'<section aria-labelledby="measured"><h2 id="measured">Activation and medicines</h2>'
        f"{measured}</section>"
        f'<section aria-labelledby="groups"><h2 id="groups">By practice, programme and cohort'
        f"</h2>{breakdowns}</section></main></body></html>"
    )
