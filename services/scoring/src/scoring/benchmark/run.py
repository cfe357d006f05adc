"""`ensemble-scoring-admin bench`: the admin commands timed on a synthetic population.

    ensemble-scoring-admin bench [--patients 450000] [--database-url URL] [--out run/bench-scoring]

Seeds a store of its own (a fresh SQLite file under --out, or an empty PostgreSQL database
given by URL: one holding patients is refused) with N synthetic people (`population.py`)
scored by the active model, then times, through the very functions the admin CLI runs:
`model evaluate` of the candidate, `model activate` (rescore everyone, publish real band
changes), loading a newer practice extract of everyone as NDJSON and a later one as CSV (one
line in twenty changed) and `cohort refresh`. Writes a JSON and a Markdown report:
seconds, patients/s, band changes published and outbox rows per step. Issue 11's targets on
the 2-core machine: rescoring 450,000 in <= 60 s and 1,000,000 in <= 150 s; a 450,000-line
extract in <= 60 s.
"""

import argparse
import csv
import functools
import io
import json
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ensemble_contracts.topics import COHORT_MEMBERSHIP, SCORE_CHANGES
from ensemble_runtime.outbox import OUTBOX
from scoring.adapters.packaged_models import packaged_model, packaged_text
from scoring.adapters.repository import PATIENTS
from scoring.benchmark.population import Person, Population
from scoring.benchmark.report import markdown
from scoring.benchmark.seed import seed
from scoring.config import Settings
from scoring.entrypoints import admin_cli
from scoring.entrypoints.admin_output import Progress
from scoring.service_layer.commands import ActivateModel

STEPS = ("seed", "evaluate", "activate", "extract_ndjson", "extract_csv", "cohorts", "outcomes")
_CSV_FIELDS = (
    "nhs_number", "practice_ods", "birth_date", "conditions", "repeat_medicines",
    "efi_deficits", "deprivation_quintile", "bmi", "smoking", "pam_level", "lives_alone",
    "socially_isolated", "is_carer", "as_of",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--patients", type=int, default=450_000)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--out", type=Path, default=Path("run/bench-scoring"))
    parser.add_argument("--seed", type=int, default=11, help="the population's random seed")
    parser.add_argument("--active", default="ensemble-risk-1.0.0", help="model seeded with")
    parser.add_argument("--candidate", default="ensemble-risk-1.2.0", help="model evaluated")
    parser.add_argument("--page", type=int, default=None, help="patients a page (CLI default)")
    parser.add_argument("--skip", action="append", default=[], choices=STEPS[1:])


class Bench:
    def __init__(self, args: argparse.Namespace, progress: Progress) -> None:
        self.args = args
        self.progress = progress
        self.now = datetime.now(UTC).replace(microsecond=0)
        args.out.mkdir(parents=True, exist_ok=True)
        self.url = args.database_url or self._fresh_sqlite()
        self.store = admin_cli._Store(Settings(database_url=self.url), lambda: self.now)
        self.steps: list[dict[str, Any]] = []

    def _fresh_sqlite(self) -> str:
        database = self.args.out / f"scoring-{self.args.patients}.db"
        for stale in self.args.out.glob(f"{database.name}*"):
            stale.unlink()
        return f"sqlite:///{database}"

    def _outcomes_store(self) -> str | None:
        """A fresh SQLite file beside the bench's (on PostgreSQL: not measured here)."""
        if self.args.database_url is not None:
            return None
        database = self.args.out / f"outcomes-{self.args.patients}.db"
        for stale in self.args.out.glob(f"{database.name}*"):
            stale.unlink()
        return f"sqlite:///{database}"

    def outbox(self) -> dict[str, int]:
        query = select(OUTBOX.c.topic, func.count()).group_by(OUTBOX.c.topic)
        with self.store.engine.connect() as connection:
            return {topic: n for topic, n in connection.execute(query)}

    def step(self, name: str, items: int, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        before = self.outbox()
        started, cpu = time.perf_counter(), time.process_time()
        figures = work()
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        after = self.outbox()
        delta = {t: after.get(t, 0) - before.get(t, 0) for t in after}
        row = {
            "step": name,
            "patients": items,
            "seconds": round(seconds, 2),
            "cpu_seconds": round(cpu, 2),  # this process's: less the shared machine's noise
            "patients_per_second": round(items / seconds) if seconds else None,
            "score_changes_published": delta.get(SCORE_CHANGES.name, 0),
            "cohort_changes_published": delta.get(COHORT_MEMBERSHIP.name, 0),
            "outbox_rows": sum(delta.values()),
        }
        # A step's own figures beside these; one of the same name as its own (the outcomes
        # bench times its report alone, after seeding a store) is kept as reported_<name>.
        row |= {k if k not in row else f"reported_{k}": v for k, v in figures.items()}
        self.steps.append(row)
        self.report()  # after every step: a long run cut short still leaves its figures
        print(f"{name}: {seconds:.1f} s, {row['patients_per_second'] or 0:,}/s", flush=True)
        return row

    def run(self) -> dict[str, Any]:
        args, skip = self.args, set(self.args.skip)
        with self.store.engine.connect() as connection:
            if connection.execute(select(func.count()).select_from(PATIENTS)).scalar_one():
                raise admin_cli.Refused("the bench seeds a store of its own: this one has patients")
        population = Population(args.seed, self.now, practices=max(1, args.patients // 7500))
        people: list[Person] = []

        def seeding() -> dict[str, Any]:
            model = packaged_model(args.active)
            self.store.run(ActivateModel(model, packaged_text(args.active), "bench"))
            people.extend(
                seed(
                    self.store.engine,
                    population,
                    args.patients,
                    model,
                    lambda n: self.progress.show(n, args.patients),
                )
            )
            self.progress.done()
            visits = sum(len(p.visits) for p in people)
            return {"hospital_visits": visits, "practices": len(population.practices)}

        self.step("seed", args.patients, seeding)
        # The model steps first: the first targets, reported even if a run is cut short.
        if "evaluate" not in skip:
            self.step("evaluate", args.patients, self._evaluate)
        if "activate" not in skip:
            self.step("activate", args.patients, self._activate)
        for name, kind, days in (("extract_ndjson", "ndjson", 15), ("extract_csv", "csv", 0)):
            if name not in skip:
                path, changed = self._extract(population, people, kind, days)
                self.step(name, len(people), functools.partial(self._load, path, changed))
        if "cohorts" not in skip:
            self.step("cohorts", args.patients, lambda: admin_cli._cohort_refresh(self.store)[0])
        if "outcomes" not in skip and (outcomes := _outcomes_bench()) is not None:
            url = self._outcomes_store()  # the outcomes bench seeds an empty store of its own
            if url is not None:
                self.step("outcomes", args.patients, lambda: outcomes(url, args.patients))
        return self.report()

    def _extract(
        self, population: Population, people: Sequence[Person], kind: str, days_ago: int
    ) -> tuple[Path, int]:
        as_of = (self.now - timedelta(days=days_ago)).date()
        changed, lines = 0, []
        for person in people:
            before = person.profile
            line = population.changed(person, as_of)
            changed += any(line[k] != before[k] for k in line if k != "as_of")
            lines.append({"nhs_number": person.nhs_number, **line})
        path = self.args.out / f"extract-{len(people)}.{kind}"
        path.write_text(_ndjson(lines) if kind == "ndjson" else _csv(lines), "utf-8")
        return path, changed

    def _load(self, path: Path, changed: int) -> dict[str, Any]:
        load = argparse.Namespace(file=path, format=None, chunk=2000)
        shown, _ = admin_cli._load(self.store, load, self.progress)
        return {key: shown[key] for key in ("loaded", "changed", "unchanged", "older")} | {
            "expected_changed": changed,
            "errors": len(shown["errors"]),
        }

    def _model_file(self) -> Path:
        path: Path = self.args.out / f"{self.args.candidate}.toml"
        path.write_text(packaged_text(self.args.candidate), "utf-8")
        return path

    def _evaluate(self) -> dict[str, Any]:
        page = {"page": self.args.page} if self.args.page else {"page": 1000}
        evaluate = argparse.Namespace(file=self._model_file(), examples=3, **page)
        report, _ = admin_cli._evaluate(self.store, evaluate, self.progress)
        return {"changing": report["changing"], "would_publish": report["would_publish"]}

    def _activate(self) -> dict[str, Any]:
        page = {"page": self.args.page} if self.args.page else {"page": 500}
        activate = argparse.Namespace(file=self._model_file(), by="bench", **page)
        shown, _ = admin_cli._activate(self.store, activate, self.progress)
        return {"rescored": shown["rescored"], "band_changes": shown["band_changes"]}

    def report(self) -> dict[str, Any]:
        report = {
            "patients": self.args.patients,
            "store": self.store.engine.dialect.name,
            "seed": self.args.seed,
            "models": {"active": self.args.active, "candidate": self.args.candidate},
            "at": self.now.isoformat(),
            "machine": {"cpus": os.cpu_count(), "load_average": list(os.getloadavg())},
            "steps": self.steps,
        }
        name = f"scoring-{report['store']}-{self.args.patients}"
        (self.args.out / f"{name}.json").write_text(json.dumps(report, indent=2), "utf-8")
        (self.args.out / f"{name}.md").write_text(markdown(report), "utf-8")
        return report

    def close(self) -> None:
        self.store.close()


def _ndjson(lines: Sequence[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, default=str) + "\n" for line in lines)


def _csv(lines: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, _CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for line in lines:
        cells = {k: "" if v is None else v for k, v in line.items()}
        cells["conditions"] = ";".join(line["conditions"])
        writer.writerow(cells)
    return out.getvalue()


def _outcomes_bench() -> Callable[[str, int], dict[str, Any]] | None:
    """Issue 11 item 6's outcomes report bench (`benchmark/outcomes.py`), when it is there:
    `bench_outcomes(database_url, patients) -> figures`, on an empty store it seeds."""
    try:
        from scoring.benchmark import outcomes
    except ImportError:
        return None
    found = getattr(outcomes, "bench_outcomes", None)
    return found if callable(found) else None


def run_bench(args: argparse.Namespace, progress: Progress) -> tuple[dict[str, Any], str]:
    bench = Bench(args, progress)
    try:
        report = bench.run()
    finally:
        bench.close()
    return report, markdown(report)
