"""Read model of a huddle: its agenda (items with their actions), the actions carried over
from earlier huddles, and the team's members; JSON-ready, for the API and the sheet."""

from dataclasses import asdict
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, select
from sqlmodel import Session

from referral.adapters.huddle_orm import (
    CaseloadSignalRecord,
    HuddleActionRecord,
    HuddleItemRecord,
)
from referral.adapters.huddle_repository import HuddleRepository
from referral.adapters.orm import ReferralRecord
from referral.domain.huddle import TITLES, Action, Huddle, Team, agenda_order

ITEMS = cast(Table, HuddleItemRecord.__table__)  # type: ignore[attr-defined]
SIGNALS = cast(Table, CaseloadSignalRecord.__table__)  # type: ignore[attr-defined]
REFERRALS = cast(Table, ReferralRecord.__table__)  # type: ignore[attr-defined]
ACTIONS = cast(Table, HuddleActionRecord.__table__)  # type: ignore[attr-defined]
ITEM, SIGNAL, REFERRAL, ACTION = ITEMS.c, SIGNALS.c, REFERRALS.c, ACTIONS.c


def _json(value: object) -> object:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {name: _json(value) for name, value in values.items()}


def huddle_json(huddle: Huddle) -> dict[str, Any]:
    return _plain(asdict(huddle))


def action_json(action: Action) -> dict[str, Any]:
    return _plain(asdict(action)) | {"open": action.is_open}


def _items(session: Session, condition: Any) -> dict[UUID, dict[str, Any]]:
    """Agenda items (signal, and the referral as it is now), by item id."""
    statement = (
        select(
            ITEM.item_id,
            SIGNAL.kind,
            SIGNAL.occurred_at,
            SIGNAL.detail,
            SIGNAL.service,
            SIGNAL.practice_ods,
            REFERRAL.referral_id,
            REFERRAL.nhs_number,  # after a merge, the surviving number
            REFERRAL.status,
            REFERRAL.worker_role,
            REFERRAL.worker_name,
        )
        .join(SIGNALS, SIGNAL.signal_id == ITEM.signal_id)
        .join(REFERRALS, REFERRAL.referral_id == SIGNAL.referral_id)
        .where(condition)
    )
    found: dict[UUID, dict[str, Any]] = {}
    for row in session.connection().execute(statement).mappings():
        item = _plain(dict(row))
        item["title"] = TITLES.get(row["kind"], row["kind"])
        item["occurred_at"] = row["occurred_at"]  # sorted below, then made JSON
        found[row["item_id"]] = item
    return found


def agenda(
    session: Session, team: Team, on: date, roster: dict[str, str] | None = None
) -> dict[str, Any] | None:
    """`{"huddle", "items": [... each with "actions"], "carried_over": [...], "members"}`,
    or None when the team has no huddle that day. `members`: who may own an action, those
    assigned to the team's referrals and the team's `roster` (Settings.roster_for)."""
    huddles = HuddleRepository(session)
    huddle = huddles.of_team(team.key, on)
    if huddle is None:
        return None
    items = _items(session, ITEM.huddle_id == huddle.huddle_id)
    for item in items.values():
        item["actions"] = []
    raised_here = session.connection().execute(
        select(ACTIONS)
        .where(ACTION.huddle_id == huddle.huddle_id)
        .order_by(ACTION.created_at, ACTION.action_id)
    )
    for row in raised_here.mappings():
        items[row["item_id"]]["actions"].append(action_json(Action(**row)))
    carried = [
        (action, raised)
        for action, raised in huddles.open_actions_before(huddle)
        if action.carries_over_to(huddle, raised)
    ]
    context = _items(session, ITEM.item_id.in_([a.item_id for a, _ in carried])) if carried else {}
    ordered = sorted(items.values(), key=lambda i: agenda_order(i["kind"], i["occurred_at"]))
    for item in [*ordered, *context.values()]:
        item["occurred_at"] = _json(item["occurred_at"])
    return {
        "huddle": huddle_json(huddle),
        "items": ordered,
        "carried_over": [
            action_json(action) | {"raised_on": raised.isoformat(), "item": context[action.item_id]}
            for action, raised in carried
        ],
        "members": [
            {"id": k, "name": v}
            for k, v in sorted((huddles.members(team) | (roster or {})).items())
        ],
    }
