"""`ensemble scoring model ...`: evaluate and activate (rescoring, with a progress bar) through
the entry points this package declares, on the store named by SCORING_DATABASE_URL."""

import json
import tomllib
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner

from ensemble_contracts.topics import SCORE_CHANGES
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.migrations import migrate
from ensemble_runtime.ops_cli import Registry, build_app
from ensemble_runtime.ops_cli.registry import COMMANDS_GROUP, SERVICES_GROUP
from scoring.adapters.packaged_models import packaged_text
from scoring.service import DEFINITION

from ..support import NHS_NUMBERS, Kit, current, load, moderate_risk, published, scoring_kit

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
NEW = "ensemble-risk-1.1.0"
USED: list[str] = []  # the NHS numbers these tests hand out: never in a log line
runner = CliRunner()


def declared(group: str) -> list[EntryPoint]:
    """The entry points pyproject.toml declares (installed once the workspace is synced)."""
    points = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"][group]
    return [EntryPoint(name, value, group) for name, value in points.items()]


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    url = f"sqlite:///{tmp_path / 'scoring.db'}"
    engine = create_db_engine(url)
    migrate(engine, DEFINITION.migrations)
    engine.dispose()
    made = scoring_kit(url)
    yield made
    made.dispose()


def ensemble(kit: Kit, *args: str) -> tuple[int, Any, str]:
    app = build_app(Registry.from_entry_points(declared(SERVICES_GROUP), declared(COMMANDS_GROUP)))
    env = {"SCORING_DATABASE_URL": str(kit.service.engine.url)}
    with structlog.testing.capture_logs() as logs:  # as a program, logs go to stderr
        result = runner.invoke(app, list(args), env=env)
    assert not any(nhs in json.dumps(logs, default=str) for nhs in USED)
    as_json = "--json" in args and result.exit_code == 0
    return result.exit_code, json.loads(result.stdout) if as_json else result.stdout, result.stderr


def test_help_everywhere(kit: Kit) -> None:
    for command in ("model", "model check", "model show", "model evaluate", "model activate"):
        code, out, _ = ensemble(kit, "scoring", *command.split(), "--help")
        assert code == 0 and "Usage:" in out


def test_evaluate_then_activate_rescores_with_a_progress_bar(kit: Kit, tmp_path: Path) -> None:
    moving, staying = next(NHS_NUMBERS), next(NHS_NUMBERS)
    USED.extend((moving, staying))
    load(
        kit,
        moderate_risk(moving, conditions=["diabetes", "ckd", "anxiety"]),
        moderate_risk(staying),
    )
    candidate = tmp_path / "candidate.toml"
    candidate.write_text(packaged_text(NEW), encoding="utf-8")

    code, report, err = ensemble(kit, "scoring", "model", "evaluate", str(candidate), "--json")
    assert code == 0, err
    assert (report["candidate"], report["patients"], report["changing"]) == (NEW, 2, 1)
    assert "evaluating" in err and "2/2" in err  # the bar, on stderr: stdout stays JSON

    code, activated, err = ensemble(
        kit, "scoring", "model", "activate", str(candidate), "--by", "dr-lead", "--json"
    )
    assert code == 0, err
    assert (activated["version"], activated["rescored"], activated["band_changes"]) == (NEW, 2, 1)
    assert "rescoring" in err and "2/2" in err
    assert current(kit, moving).band == "high" and current(kit, staying).model_version == NEW
    assert [e.band for e in published(kit, SCORE_CHANGES, moving)] == ["moderate", "high"]

    code, shown, _ = ensemble(kit, "scoring", "model", "show", "--json")
    assert (code, shown["active"]) == (0, NEW)


def test_a_refused_model_file_is_said_and_the_model_stays(kit: Kit, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(packaged_text(NEW).replace('domain = "frailty"', 'domain = "fraility"'))
    code, _, err = ensemble(kit, "scoring", "model", "activate", str(broken), "--quiet")
    assert code == 1
    assert err.startswith(f"ensemble: {broken} refused, the active model stays:")
    assert "unknown domain 'fraility'" in err and "Traceback" not in err
    assert kit.run(lambda uow: uow.models.active_version()) is None
