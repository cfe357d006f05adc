"""`ensemble migrations` and `ensemble outbox status` on a real store (SQLite and PostgreSQL)."""

import json
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import insert, text
from typer.testing import CliRunner

from ensemble_runtime.db import create_db_engine
from ensemble_runtime.ops_cli import Registry, build_app
from ensemble_runtime.outbox import OUTBOX

from ..support import definition

runner = CliRunner()
app = build_app(Registry.of([definition(group="runtime-tests.cli")]))


def ensemble(database_url: str, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"DATABASE_URL": database_url})
    return result.exit_code, result.stdout, result.stderr


def test_migrations_status_then_upgrade_then_status(database_url: str) -> None:
    if not database_url.startswith("sqlite"):  # a new database: there, empty
        code, out, _ = ensemble(database_url, "migrations", "status", "--json", "--check")
        assert code == 1  # --check: not at head
        assert json.loads(out) | {"service": None} == {
            "service": None,
            "current": None,
            "head": "0002",
            "pending": ["0001", "0002"],
            "up_to_date": False,
            "unversioned": False,
        }
    code, out, _ = ensemble(database_url, "migrations", "upgrade", "--json")
    assert code == 0
    upgraded = json.loads(out)
    assert (upgraded["current"], upgraded["applied"], upgraded["up_to_date"]) == (
        "0002",
        ["0001", "0002"],
        True,
    )
    code, out, _ = ensemble(database_url, "migrations", "status", "--check")
    assert (code, out.strip()) == (0, "runtime-tests: at 0002, head 0002, pending: none")
    code, out, _ = ensemble(database_url, "migrations", "upgrade")
    assert (code, out.strip()) == (0, "runtime-tests: upgraded to 0002 (nothing to apply)")


def test_outbox_status_counts_the_backlog_per_topic(database_url: str) -> None:
    assert ensemble(database_url, "migrations", "upgrade")[0] == 0
    now = datetime.now(UTC)
    rows = [
        ("a.v1", now - timedelta(hours=2), None),
        ("a.v1", now - timedelta(minutes=1), None),
        ("b.v1", now - timedelta(minutes=5), None),
        ("b.v1", now - timedelta(days=1), now),  # published: not in the backlog
    ]
    engine = create_db_engine(database_url)
    with engine.begin() as connection:
        for topic, created, published in rows:
            connection.execute(
                insert(OUTBOX).values(
                    topic=topic,
                    key="k",
                    event_id=uuid4(),
                    event_type="t",
                    correlation_id="c",
                    payload="{}",
                    created_at=created,
                    published_at=published,
                )
            )
    engine.dispose()

    code, out, _ = ensemble(database_url, "outbox", "status", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["backlog"] == 3
    assert shown["oldest_unpublished_at"] == rows[0][1].isoformat()
    assert shown["oldest_unpublished_age_seconds"] >= 2 * 3600
    by_topic = {t["topic"]: t for t in shown["topics"]}
    assert {name: t["backlog"] for name, t in by_topic.items()} == {"a.v1": 2, "b.v1": 1}
    assert by_topic["b.v1"]["oldest_unpublished_at"] == rows[2][1].isoformat()
    assert 300 <= by_topic["b.v1"]["oldest_unpublished_age_seconds"] < 2 * 3600

    code, out, _ = ensemble(database_url, "outbox", "status")
    assert code == 0
    assert "3 unpublished outbox row(s)" in out and "a.v1" in out and "b.v1" in out


def test_outbox_status_on_a_store_never_migrated_says_so(database_url: str) -> None:
    if database_url.startswith("sqlite"):  # make the file, with nothing in it
        create_db_engine(database_url).connect().close()
    code, _, err = ensemble(database_url, "outbox", "status")
    assert code == 1
    assert err.strip() == (
        "ensemble: the store of runtime-tests has no outbox: run `ensemble migrations upgrade`"
    )


def test_a_store_ahead_of_the_installed_service_is_said_in_one_line(database_url: str) -> None:
    """After a rollback across a migration: the older image names the revision it lacks."""
    assert ensemble(database_url, "migrations", "upgrade")[0] == 0
    engine = create_db_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    for command in ("status", "upgrade"):
        code, _, err = ensemble(database_url, "migrations", command)
        assert code == 1
        assert err.strip() == (
            "ensemble: runtime-tests: the store is at revision 0099, which this version of the "
            "service does not know (a newer version migrated it: roll forward, or restore the "
            "store)"
        )
