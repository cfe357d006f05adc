"""`ensemble-scoring-admin`: risk model versions and practice extracts, on scoring's store.

    ensemble-scoring-admin model check    FILE          # read and check a model file only
    ensemble-scoring-admin model show                   # the active model, stored versions
    ensemble-scoring-admin model evaluate FILE [--examples 3]
    ensemble-scoring-admin model activate FILE [--by NAME] [--page 500]
    ensemble-scoring-admin profiles load  FILE [--format ndjson|csv] [--chunk 2000]
    ensemble-scoring-admin cohort check   FILE          # read and check a cohort definition
    ensemble-scoring-admin cohort list                  # packaged and SCORING_COHORTS_DIR
    ensemble-scoring-admin cohort refresh               # publish cohort membership changes
    ensemble-scoring-admin bench [--patients N]         # benchmark/run.py (own store)
    (--json before the subcommand: output as JSON)

It works on scoring's own store (SCORING_DATABASE_URL), migrated first, beside a running
service: an activated model is used by the service's next rescore. `evaluate` scores everyone
with the active model and the candidate, as of now, and reports per practice how many
patients change band (from -> to) with a few examples. `activate` stores the model, makes it
active, and rescores the population a page at a time, publishing only real band changes
through the outbox (the running service's relay sends them); run it again to resume. A model
file that fails its checks is refused with a line-numbered reason per problem, and the active
model stays. The output names NHS numbers (examples) for staff; log lines never do.
"""

import argparse
import json
import logging
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from uuid import uuid4

from ensemble_runtime.clock import Clock, utc_now
from ensemble_runtime.db import create_db_engine, reader_engine
from ensemble_runtime.definition import Command
from ensemble_runtime.logging import configure_logging
from ensemble_runtime.migrations import migrate
from scoring.adapters.cohort_store import load_cohorts
from scoring.adapters.unit_of_work import ScoringUnitOfWork
from scoring.config import Settings
from scoring.domain.cohorts import CohortFileError, read_cohort
from scoring.domain.model import RiskModel
from scoring.domain.model_file import ModelFileError, read_model
from scoring.entrypoints.admin_output import Progress, evaluation_text, loaded_text, show_text
from scoring.service import DEFINITION
from scoring.service_layer.commands import (
    ActivateModel,
    LoadProfiles,
    RefreshCohorts,
    RescorePage,
)
from scoring.service_layer.extracts import (
    ExtractFormat,
    NotText,
    decode_extract,
    parse_extract,
)
from scoring.service_layer.models import Evaluation, ModelRefused, conflict, evaluate_page

CLI = "ensemble-scoring-admin"
R = TypeVar("R")


class Refused(Exception):
    """What the tool cannot do, said to the operator (exit code 1)."""


class _Store:
    """scoring's store, migrated: commands through the definition's handlers; reads on the
    reader engine (no write lock on SQLite, so the running service is not held up)."""

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.settings = settings
        self.clock = clock
        self.engine = create_db_engine(settings.database_url, settings.database_password_source())
        migrate(self.engine, DEFINITION.migrations)
        self.reader = reader_engine(self.engine)

    def run(self, command: Command[R]) -> R:
        handler = DEFINITION.commands[type(command)]
        with DEFINITION.unit_of_work(self.engine, self.settings, self.clock) as uow:
            result: R = handler(uow, command)
            return result

    def read(self, work: Callable[[ScoringUnitOfWork], R]) -> R:
        with DEFINITION.unit_of_work(self.reader, self.settings, self.clock) as uow:
            return work(uow)

    def close(self) -> None:
        self.reader.dispose()
        self.engine.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=CLI, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    areas = parser.add_subparsers(dest="area", required=True)
    model = areas.add_parser("model", help="risk model versions").add_subparsers(
        dest="action", required=True
    )
    model.add_parser("check", help="read and check a model file").add_argument("file", type=Path)
    model.add_parser("show", help="the active model and the stored versions")
    evaluate = model.add_parser("evaluate", help="what a candidate model would change")
    evaluate.add_argument("file", type=Path)
    evaluate.add_argument("--examples", type=int, default=3, choices=range(0, 51), metavar="N")
    evaluate.add_argument("--page", type=int, default=1000, choices=range(1, 10_001), metavar="N")
    activate = model.add_parser("activate", help="make a model active and rescore everyone")
    activate.add_argument("file", type=Path)
    activate.add_argument("--by", default="staff", help="who activates it (kept with it)")
    activate.add_argument("--page", type=int, default=500, choices=range(1, 10_001), metavar="N")
    profiles = areas.add_parser("profiles", help="practice extracts").add_subparsers(
        dest="action", required=True
    )
    load = profiles.add_parser("load", help="load a practice extract (NDJSON or CSV)")
    load.add_argument("file", type=Path)
    load.add_argument("--format", choices=("ndjson", "csv"), help="default: from the suffix")
    load.add_argument("--chunk", type=int, default=2000, choices=range(1, 100_001), metavar="N")
    cohort = areas.add_parser("cohort", help="saved cohorts").add_subparsers(
        dest="action", required=True
    )
    cohort.add_parser("check", help="read and check a cohort file").add_argument("file", type=Path)
    cohort.add_parser("list", help="the saved cohorts (packaged and SCORING_COHORTS_DIR)")
    cohort.add_parser("refresh", help="evaluate every cohort, publish membership changes")
    from scoring.benchmark.run import add_arguments  # imported here: the bench imports this

    add_arguments(areas.add_parser("bench", help="time these commands on a synthetic store"))
    return parser


def _cohort_check(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    try:
        text = args.file.read_bytes().decode("utf-8").removeprefix("\ufeff")
        cohort = read_cohort(text)
    except (OSError, UnicodeDecodeError) as error:
        raise Refused(f"{args.file}: cannot read it as UTF-8 text ({error})") from None
    except CohortFileError as error:
        problems = "\n".join(f"  {problem}" for problem in error.problems)
        raise Refused(f"{args.file} refused:\n{problems}") from None
    shown = {"name": cohort.name, "title": cohort.title, "criteria": len(cohort.when)}
    return shown, f"{args.file}: {cohort.name} is a valid cohort ({len(cohort.when)} criteria)"


def _cohort_list(settings: Settings) -> tuple[dict[str, Any], str]:
    try:
        cohorts = load_cohorts(settings.cohorts_dir)
    except CohortFileError as error:
        raise Refused("a saved cohort is refused:\n" + "\n".join(error.problems)) from None
    shown = {"cohorts": [{"name": c.name, "title": c.title} for c in cohorts.values()]}
    return shown, "\n".join(f"{c.name}: {c.title}" for c in cohorts.values())


def _cohort_refresh(store: _Store) -> tuple[dict[str, Any], str]:
    command, joined, left = RefreshCohorts(), 0, 0
    while (done := store.run(command)).last is not None:
        joined, left = joined + done.joined, left + done.left
        command = RefreshCohorts(done.last, command.limit, command.correlation_id)
    return {"joined": joined, "left": left}, f"cohorts refreshed: {joined} joined, {left} left"


def read_model_file(path: Path) -> tuple[RiskModel, str]:
    """A checked model and its text; Refused naming each problem's line."""
    try:
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except OSError as error:
        raise Refused(f"{path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError:
        raise Refused(f"{path}: not UTF-8 text") from None
    try:
        return read_model(text), text
    except ModelFileError as error:
        problems = "\n".join(f"  {problem}" for problem in error.problems)
        raise Refused(f"{path} refused, the active model stays:\n{problems}") from None


def _check(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    model, _ = read_model_file(args.file)
    shown = {"version": model.version, "digest": model.digest, "factors": len(model.factors)}
    return shown, f"{args.file}: {model.version} is a valid model ({len(model.factors)} factors)"


def _show(store: _Store) -> tuple[dict[str, Any], str]:
    def look(uow: ScoringUnitOfWork) -> dict[str, Any]:
        return {
            "active": uow.models.active().version,
            "stored": [
                m._asdict() | {"stored_at": m.stored_at.isoformat()} for m in uow.models.models()
            ],
            "activations": [
                a._asdict() | {"activated_at": a.activated_at.isoformat()}
                for a in uow.models.activations()
            ],
        }

    shown = store.read(look)
    return shown, show_text(shown)


def _evaluate(
    store: _Store, args: argparse.Namespace, progress: Progress
) -> tuple[dict[str, Any], str]:
    candidate, _ = read_model_file(args.file)
    active = store.read(lambda uow: uow.models.active())
    evaluation = Evaluation(active, candidate, store.clock(), args.examples)
    warning = store.read(lambda uow: conflict(uow, candidate))
    total = store.read(lambda uow: uow.population.count())
    after: str | None = ""
    while after is not None:
        after = store.read(
            partial(evaluate_page, evaluation=evaluation, after=after, limit=args.page)
        )
        progress.show(evaluation.seen, total)
    progress.done()
    report = evaluation.report() | {"activation_refused": warning}
    return report, evaluation_text(report)


def _activate(
    store: _Store, args: argparse.Namespace, progress: Progress
) -> tuple[dict[str, Any], str]:
    model, text = read_model_file(args.file)
    try:
        activated = store.run(ActivateModel(model, text, args.by))
    except ModelRefused as error:
        raise Refused(f"{args.file} refused, the active model stays: {error}") from None
    total = store.read(lambda uow: uow.population.count(not_version=model.version))
    correlation, rescored, changes = uuid4(), 0, Counter[tuple[str | None, str]]()
    # Passes until one finds nobody left: an event scored with the old model while the
    # switch committed is picked up by the next pass.
    while True:
        after, found = "", 0
        while True:
            page = store.run(RescorePage(after, args.page, correlation))
            if page.last is None:
                break
            after, found = page.last, found + page.rescored
            changes.update(page.band_changes)
            progress.show(rescored + found, max(total, rescored + found))
        rescored += found
        if found == 0:
            break
    progress.done()
    shown: dict[str, Any] = {
        "version": activated.version,
        "previous": activated.previous,
        "stored": activated.stored,
        "rescored": rescored,
        "band_changes": sum(changes.values()),
        "changes": [
            {"from": old, "to": new, "patients": n}
            for (old, new), n in sorted(changes.items(), key=str)
        ],
    }
    text_changes = ", ".join(f"{c['from']} -> {c['to']}: {c['patients']}" for c in shown["changes"])
    return shown, (
        f"{activated.version} is active (was {activated.previous}); rescored {rescored}, "
        f"{shown['band_changes']} band change(s) published"
        + (f" ({text_changes})" if text_changes else "")
    )


def _load(
    store: _Store, args: argparse.Namespace, progress: Progress
) -> tuple[dict[str, Any], str]:
    try:
        body = args.file.read_bytes()
    except OSError as error:
        raise Refused(f"{args.file}: cannot read it ({error.strerror})") from None
    try:
        text = decode_extract(body)
    except NotText:
        raise Refused(f"{args.file}: not UTF-8 text") from None
    extract_format: ExtractFormat = args.format or (
        "csv" if args.file.suffix.lower() == ".csv" else "ndjson"
    )
    parsed = parse_extract(text, extract_format, today=store.clock().date())
    totals = Counter[str]()
    for start in range(0, len(parsed.profiles), args.chunk):
        chunk = tuple(parsed.profiles[start : start + args.chunk])
        done = store.run(LoadProfiles(profiles=chunk))
        totals.update(
            loaded=done.loaded, changed=done.changed, unchanged=done.unchanged, older=done.older
        )
        progress.show(totals["loaded"], len(parsed.profiles))
    progress.done()
    shown = {
        "loaded": totals["loaded"],
        "changed": totals["changed"],
        "unchanged": totals["unchanged"],
        "older": totals["older"],
        "errors": parsed.errors,
        "warnings": parsed.warnings,
    }
    if not parsed.profiles:
        raise Refused(loaded_text(shown | {"errors": parsed.errors or ["no profiles in the file"]}))
    return shown, loaded_text(shown)


def main(
    argv: Sequence[str] | None = None, *, settings: Settings | None = None, clock: Clock = utc_now
) -> int:
    args = _parser().parse_args(argv)
    settings = settings if settings is not None else Settings()
    if argv is None:  # run as a program: logs to stderr; stdout is the answer
        configure_logging(settings.service_name, settings.log_level, settings.log_json)
        logging.getLogger("alembic").setLevel(logging.WARNING)
    progress = Progress(enabled=not args.quiet)
    try:
        if args.area == "model" and args.action == "check":
            shown, text = _check(args)
        elif args.area == "cohort" and args.action == "check":
            shown, text = _cohort_check(args)
        elif args.area == "cohort" and args.action == "list":
            shown, text = _cohort_list(settings)
        elif args.area == "bench":  # a store of its own, never SCORING_DATABASE_URL's
            from scoring.benchmark.run import run_bench

            shown, text = run_bench(args, progress)
        else:
            store = _Store(settings, clock)
            try:
                if args.area == "profiles":
                    shown, text = _load(store, args, progress)
                elif args.area == "cohort":
                    shown, text = _cohort_refresh(store)
                elif args.action == "show":
                    shown, text = _show(store)
                elif args.action == "evaluate":
                    shown, text = _evaluate(store, args, progress)
                else:
                    shown, text = _activate(store, args, progress)
            finally:
                store.close()
    except Refused as refused:
        print(f"{CLI}: {refused}", file=sys.stderr)
        return 1
    print(json.dumps(shown, indent=2) if args.json else text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
