"""Signals, huddles and actions in and out of the store.

Every admission, A&E attendance and discharge asks which referrals of the patient are on a
caseload, and every band rise and trigger records a signal, so those two statements are
`Prepared` (ADR 7): compiled once, run on the session's connection. A huddle takes its
signals in one SELECT and one multi-row INSERT, whatever the caseload's size.
"""

from dataclasses import asdict, fields
from datetime import date
from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy import Table, bindparam, func
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, or_, select

from ensemble_runtime.db import core_sql
from ensemble_runtime.prepared import Prepared
from referral.adapters.huddle_orm import (
    CaseloadSignalRecord,
    HuddleActionRecord,
    HuddleItemRecord,
    HuddleRecord,
)
from referral.adapters.orm import ReferralRecord
from referral.adapters.repository import from_row
from referral.domain.huddle import (
    CASELOAD_STATUSES,
    LATE_COMMIT,
    Action,
    Huddle,
    Signal,
    Team,
)
from referral.domain.referral import Referral

REFERRALS = cast(Table, ReferralRecord.__table__)  # type: ignore[attr-defined]
SIGNALS = cast(Table, CaseloadSignalRecord.__table__)  # type: ignore[attr-defined]
ITEMS = cast(Table, HuddleItemRecord.__table__)  # type: ignore[attr-defined]
HUDDLES = cast(Table, HuddleRecord.__table__)  # type: ignore[attr-defined]

_CASELOAD_OF = Prepared(
    core_select(REFERRALS).where(
        REFERRALS.c.nhs_number == bindparam("nhs_number"),
        REFERRALS.c.status.in_(CASELOAD_STATUSES),
    )
)
# A signal delivered twice (another group, a replay) is kept once.
_ADD_SIGNAL = {
    "sqlite": Prepared(sqlite.insert(SIGNALS).on_conflict_do_nothing()),
    "postgresql": Prepared(postgresql.insert(SIGNALS).on_conflict_do_nothing()),
}
_SIGNAL_FIELDS = tuple(f.name for f in fields(Signal))


def _huddle(record: HuddleRecord) -> Huddle:
    return Huddle(**record.model_dump())


def _action(record: HuddleActionRecord) -> Action:
    return Action(**record.model_dump())


class SignalRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._add = _ADD_SIGNAL[session.get_bind().dialect.name]

    def caseload_referrals(self, nhs_number: str) -> list[Referral]:
        """The patient's referrals on a caseload now (accepted or active), any practice."""
        self.session.flush()
        found = _CASELOAD_OF.execute(self.session, {"nhs_number": nhs_number})
        return [from_row(row) for row in found.rows]

    def add(self, signal: Signal) -> None:
        self.session.flush()  # the referral it names may have been added just now
        # Its fields are immutable values: no deep copy (asdict's) needed.
        self._add.execute(self.session, {name: getattr(signal, name) for name in _SIGNAL_FIELDS})


class HuddleRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_team(self, team: str, on: date) -> Huddle | None:
        statement = select(HuddleRecord).where(
            HuddleRecord.team == team, HuddleRecord.huddle_date == on
        )
        found = self.session.exec(statement).first()
        return None if found is None else _huddle(found)

    def latest(self, team: str) -> Huddle | None:
        statement = (
            select(HuddleRecord)
            .where(HuddleRecord.team == team)
            .order_by(col(HuddleRecord.huddle_date).desc())
            .limit(1)
        )
        found = self.session.exec(statement).first()
        return None if found is None else _huddle(found)

    def add(self, huddle: Huddle) -> None:
        self.session.add(HuddleRecord(**asdict(huddle)))

    def save(self, huddle: Huddle) -> None:
        record = self.session.get(HuddleRecord, huddle.huddle_id)
        if record is None:
            raise LookupError(huddle.huddle_id)
        record.cutoff = huddle.cutoff
        self.session.add(record)

    def take_signals(self, huddle: Huddle, team: Team) -> int:
        """Put the team's signals recorded in the huddle's window on its agenda, those not
        on it or on an earlier huddle of the team already: how many were added. The window
        reaches LATE_COMMIT back, for signals committed after the previous huddle looked."""
        self.session.flush()
        start = huddle.window_start - LATE_COMMIT
        taken = (
            core_select(ITEMS.c.signal_id)
            .join(HUDDLES, HUDDLES.c.huddle_id == ITEMS.c.huddle_id)
            .where(HUDDLES.c.team == huddle.team, HUDDLES.c.cutoff > start)
        )
        signals = core_select(SIGNALS.c.signal_id).where(
            SIGNALS.c.service == team.service,
            SIGNALS.c.recorded_at > start,
            SIGNALS.c.recorded_at <= huddle.cutoff,
            ~SIGNALS.c.signal_id.in_(taken),
        )
        if team.practice_ods is not None:
            signals = signals.where(SIGNALS.c.practice_ods == team.practice_ods)
        sql = core_sql(self.session)
        ids = list(sql.execute(signals).scalars())
        if ids:
            rows = [
                {"item_id": uuid4(), "huddle_id": huddle.huddle_id, "signal_id": s} for s in ids
            ]
            sql.execute(ITEMS.insert(), rows)
        return len(ids)

    def has_item(self, huddle_id: UUID, item_id: UUID) -> bool:
        record = self.session.get(HuddleItemRecord, item_id)
        return record is not None and record.huddle_id == huddle_id

    def members(self, team: Team) -> dict[str, str]:
        """Who the team is, as referral knows it from assignments: every coach or keyworker
        and supervisor of the team's referrals, id -> the name of their latest assignment."""
        people: dict[str, tuple[Any, str]] = {}
        for id_column, name_column in (
            (ReferralRecord.worker_id, ReferralRecord.worker_name),
            (ReferralRecord.supervisor_id, ReferralRecord.supervisor_name),
        ):
            statement = (
                select(col(id_column), col(name_column), func.max(ReferralRecord.updated_at))
                .where(ReferralRecord.service == team.service, col(id_column).is_not(None))
                .group_by(col(id_column), col(name_column))
            )
            if team.practice_ods is not None:
                statement = statement.where(ReferralRecord.practice_ods == team.practice_ods)
            for person, name, latest in self.session.exec(statement):
                if person is not None and (person not in people or people[person][0] < latest):
                    people[person] = (latest, name or person)
        return {person: name for person, (_, name) in sorted(people.items())}

    def add_action(self, action: Action) -> None:
        self.session.add(HuddleActionRecord(**asdict(action)))

    def action(self, action_id: UUID) -> Action | None:
        record = self.session.get(HuddleActionRecord, action_id)
        return None if record is None else _action(record)

    def save_action(self, action: Action) -> None:
        record = self.session.get(HuddleActionRecord, action.action_id)
        if record is None:
            raise LookupError(action.action_id)
        record.done_at, record.done_by = action.done_at, action.done_by
        self.session.add(record)

    def open_actions_before(self, huddle: Huddle) -> list[tuple[Action, date]]:
        """The team's actions from earlier huddles, open when this one opened, with the
        date each was raised (domain.huddle.Action.carries_over_to decides)."""
        statement = (
            select(HuddleActionRecord, col(HuddleRecord.huddle_date))
            .join(HuddleRecord, col(HuddleRecord.huddle_id) == col(HuddleActionRecord.huddle_id))
            .where(HuddleActionRecord.team == huddle.team)
            .where(HuddleRecord.huddle_date < huddle.huddle_date)
            .where(
                or_(
                    col(HuddleActionRecord.done_at).is_(None),
                    col(HuddleActionRecord.done_at) > huddle.opened_at,
                )
            )
            .order_by(col(HuddleActionRecord.due_on), col(HuddleActionRecord.created_at))
        )
        return [(_action(record), raised) for record, raised in self.session.exec(statement)]
