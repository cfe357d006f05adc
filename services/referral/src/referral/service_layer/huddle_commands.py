"""What staff ask of a huddle; each command has one handler (service_layer/huddles.py)."""

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from ensemble_runtime.definition import Command
from referral.domain.huddle import Action, Huddle, Team


@dataclass(frozen=True)
class Opened:
    """The huddle; `created`: it is new (201), else it existed and took the latest signals."""

    huddle: Huddle
    created: bool
    added: int


@dataclass(frozen=True)
class OpenHuddle(Command[Opened]):
    """Open the team's huddle for a date, or bring an open one up to date.

    Two staff opening the same huddle at once: the loser trips the one-huddle-per-team-and-
    date constraint, runs again and finds the winner's."""

    team: Team
    on: date
    opened_by: str

    rerun_on_conflict = True


@dataclass(frozen=True)
class AddAction(Command[Action]):
    team: Team
    on: date
    item_id: UUID
    text: str
    owner_id: str
    due_on: date
    created_by: str


@dataclass(frozen=True)
class CompleteAction(Command[Action]):
    """Mark an action done, from any huddle of the team it was raised in or carried to."""

    team: Team
    action_id: UUID
    done_by: str
