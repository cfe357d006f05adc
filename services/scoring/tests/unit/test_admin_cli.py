"""`ensemble-scoring-admin`: check, evaluate and activate model files; load extracts."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from ensemble_contracts.topics import SCORE_CHANGES
from ensemble_devkit.testkit import FrozenClock
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import migrate
from scoring.adapters.packaged_models import packaged_text
from scoring.config import Settings
from scoring.entrypoints.admin_cli import main
from scoring.service import DEFINITION

from ..support import NHS_NUMBERS, Kit, current, load, moderate_risk, published, scoring_kit

NEW = "ensemble-risk-1.1.0"
USED: list[str] = []  # the NHS numbers these tests hand out


def fresh() -> str:
    USED.append(next(NHS_NUMBERS))
    return USED[-1]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[Kit, Settings]]:
    """A migrated store (as the service leaves it), a kit on it, and the CLI's settings."""
    url = f"sqlite:///{tmp_path / 'scoring.db'}"
    engine = create_db_engine(url)
    migrate(engine, DEFINITION.migrations)
    engine.dispose()
    kit = scoring_kit(url)
    yield kit, Settings(database_url=url)
    kit.dispose()


def model_file(tmp_path: Path, text: str | None = None, name: str = "candidate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text if text is not None else packaged_text(NEW), encoding="utf-8")
    return path


def run(settings: Settings, *argv: str) -> int:
    """The CLI in-process (log lines captured: as a program they go to stderr); its lines
    never name a patient."""
    with structlog.testing.capture_logs() as logs:
        code = main(["--quiet", *argv], settings=settings, clock=FrozenClock())
    assert not any(nhs in json.dumps(logs, default=str) for nhs in USED)
    return code


def anxious(nhs: str) -> dict[str, object]:
    return moderate_risk(nhs, conditions=["diabetes", "ckd", "anxiety"])


def test_a_broken_model_file_is_refused_with_its_lines_and_the_model_stays(
    store: tuple[Kit, Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit, settings = store
    broken = packaged_text(NEW).replace('domain = "frailty"', 'domain = "fraility"')
    broken = broken.replace("min = 30\nmax = 44", "min = 28\nmax = 44")
    path = model_file(tmp_path, broken)
    for action in ("check", "evaluate", "activate"):
        assert run(settings, "model", action, str(path)) == 1
        err = capsys.readouterr().err
        assert f"{path} refused, the active model stays:" in err
        assert "overlaps the band before (up to 29)" in err
        assert "unknown domain 'fraility' (did you mean 'frailty'?)" in err
        frailty_line = broken.splitlines().index('domain = "fraility"') + 1
        assert f"line {frailty_line}: factors[5].domain (frailty)" in err
    assert kit.run(lambda uow: uow.models.active_version()) is None
    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes(b"version = '\xe9'\n")
    assert run(settings, "model", "check", str(not_utf8)) == 1
    assert "not UTF-8 text" in capsys.readouterr().err


def test_evaluate_then_activate(
    store: tuple[Kit, Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit, settings = store
    moving, staying = fresh(), fresh()
    load(kit, anxious(moving), moderate_risk(staying))
    path = model_file(tmp_path)
    capsys.readouterr()  # the kit's own log lines

    assert run(settings, "--json", "model", "evaluate", str(path)) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["candidate"], report["changing"], report["activation_refused"]) == (NEW, 1, None)
    [practice] = report["practices"]
    assert practice["changes"] == [{"from": "moderate", "to": "high", "patients": 1}]
    assert [e["nhs_number"] for e in practice["examples"]] == [moving]
    assert run(settings, "model", "evaluate", str(path)) == 0
    text = capsys.readouterr().out
    assert (
        "L85002: 2 patients, 1 change band" in text
        and f"e.g. {moving}: moderate 25 -> high 31" in text
    )
    assert kit.run(lambda uow: uow.models.active_version()) is None  # evaluating changed nothing

    assert run(settings, "--json", "model", "activate", str(path), "--by", "dr-lead") == 0
    activated = json.loads(capsys.readouterr().out)
    assert activated == {
        "version": NEW,
        "previous": "ensemble-risk-1.0.0",
        "stored": True,
        "rescored": 2,
        "band_changes": 1,
        "changes": [{"from": "moderate", "to": "high", "patients": 1}],
    }
    assert current(kit, moving).band == "high" and current(kit, staying).model_version == NEW
    assert [e.band for e in published(kit, SCORE_CHANGES, moving)] == ["moderate", "high"]
    assert len(published(kit, SCORE_CHANGES, staying)) == 1

    assert run(settings, "--json", "model", "show") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["active"] == NEW
    assert [a["activated_by"] for a in shown["activations"]] == ["dr-lead"]


def test_profiles_load_reports_lines_and_a_second_load_changes_nothing(
    store: tuple[Kit, Settings], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kit, settings = store
    good, other = fresh(), fresh()
    extract = tmp_path / "extract.csv"
    extract.write_bytes(
        b"\xef\xbb\xbfnhs_number,practice_ods,conditions,bmi,as_of\r\n"
        + f"{good},L85001,diabetes;gout,31.5,2026-11-20\r\n".encode()
        + f"{other},L85001,copd,,2026-11-30\r\n".encode()  # after the load day (23 Nov)
        + b"9434765918,L85001,copd,,\r\n"
    )
    assert run(settings, "--json", "profiles", "load", str(extract), "--chunk", "1") == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["loaded"], first["changed"]) == (1, 1)
    assert [e.split(":")[0] for e in first["errors"]] == ["line 3", "line 4"]
    assert first["warnings"] == ["line 2: condition code(s) kept but not known to scoring: gout"]
    assert "9434765918" not in json.dumps(first)
    assert run(settings, "--json", "profiles", "load", str(extract)) == 0
    again = json.loads(capsys.readouterr().out)
    assert (again["changed"], again["unchanged"]) == (0, 1)
    assert current(kit, good).score == 9


def test_the_program_runs_as_a_module_and_shows_progress(
    store: tuple[Kit, Settings], tmp_path: Path
) -> None:
    kit, settings = store
    load(kit, anxious(fresh()))
    path = model_file(tmp_path)
    environment = {**os.environ, "SCORING_DATABASE_URL": settings.database_url}
    command = [sys.executable, "-m", "scoring.entrypoints.admin_cli", "model"]
    done = subprocess.run(
        [*command, "activate", str(path)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{NEW} is active (was ensemble-risk-1.0.0); rescored 1")
    assert "100.0% 1/1" in done.stderr  # the progress line
    assert all(n not in done.stderr for n in kit.run(lambda uow: uow.population.page("", 10)))
    shown = subprocess.run(
        [*command, "show"], env=environment, capture_output=True, text=True, timeout=120
    )
    assert shown.stdout.startswith(f"active: {NEW}")
