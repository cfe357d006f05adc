"""Entrypoints translate HTTP/MLLP to commands and views; they never touch the database.

Ruff's banned-api (root pyproject.toml) keeps `domain/` and `service_layer/` free of Kafka,
FastAPI and the database. It has one banned list for the whole repository, so it cannot also
say "entrypoints may import FastAPI but not SQLModel/SQLAlchemy": this test says that part.
"""

import ast
from pathlib import Path

import pytest

from ensemble_devkit import REPO_ROOT

DATABASE = ("sqlmodel", "sqlalchemy")
ENTRYPOINTS = sorted(REPO_ROOT.glob("services/*/src/*/entrypoints/**/*.py"))


def imported_modules(source: str) -> set[str]:
    """Every absolute module a file imports, at any depth (also under TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def database_imports(source: str) -> set[str]:
    return {m for m in imported_modules(source) if m.split(".")[0] in DATABASE}


def test_there_are_entrypoints_to_check() -> None:
    assert len({p.parents[1] for p in ENTRYPOINTS}) >= 4


@pytest.mark.parametrize("path", ENTRYPOINTS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_entrypoints_reach_the_store_only_through_the_runtime(path: Path) -> None:
    assert database_imports(path.read_text()) == set(), (
        "use `runtime.execute(Command)` or `runtime.read(views.fn)`; SQL lives in adapters/"
    )


def test_the_scan_sees_every_form_of_import() -> None:
    source = """
import sqlalchemy as sa
from sqlmodel import Session
from fastapi import APIRouter
from . import views
if TYPE_CHECKING:
    from sqlalchemy.orm import Mapped
"""
    assert database_imports(source) == {"sqlalchemy", "sqlmodel", "sqlalchemy.orm"}
