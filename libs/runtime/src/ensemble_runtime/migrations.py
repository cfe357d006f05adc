"""Schema migrations (Alembic), one history per service.

Each service keeps its revisions in `<package>/adapters/migrations/`; the environment is
shared (see `alembic/`). A service upgrades its store to head when it starts; on PostgreSQL an
advisory lock lets one replica migrate while the others wait.

    uv run ensemble-migrations <package> revision -m "what changed"   # autogenerate
    uv run ensemble-migrations <package> check                        # models == migrations
"""

import argparse
import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text
from sqlmodel import SQLModel

from ensemble_runtime import inbox, outbox  # noqa: F401  (every service's store has these)
from ensemble_runtime.db import create_db_engine

ENVIRONMENT = Path(__file__).parent / "alembic"
MIGRATION_LOCK_ID = 0x0E5E_0B1F  # arbitrary, constant: one migrating replica per database


class StoreNotUnderMigrations(RuntimeError):
    """A store made before migrations existed: its tables are there, its history is not."""


def _config(versions: Path, connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ENVIRONMENT))
    config.set_main_option("version_locations", str(versions))
    config.set_main_option("path_separator", "os")
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine, versions: Path) -> None:
    """Upgrade the store to the newest revision in `versions`."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": MIGRATION_LOCK_ID})
            connection.commit()
        try:
            _refuse_unversioned(connection)
            command.upgrade(_config(versions, connection), "head")
            connection.commit()
        finally:
            if engine.dialect.name == "postgresql":
                connection.rollback()  # a failed upgrade leaves its transaction aborted
                connection.execute(
                    text("SELECT pg_advisory_unlock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
                connection.commit()


class UnknownRevision(RuntimeError):
    """The store is at a revision the installed service does not have."""


class MigrationStatus(NamedTuple):
    current: str | None  # the store's revision (None: never migrated)
    head: str  # the newest revision the installed service knows
    pending: list[str]  # revisions an upgrade would apply, oldest first
    unversioned: bool  # tables but no history: made before migrations (see stamp)


def migration_status(engine: Engine, versions: Path) -> MigrationStatus:
    """Where the store stands against the service's revisions; changes nothing."""
    with engine.connect() as connection:
        script = ScriptDirectory.from_config(_config(versions, connection))
        tables = set(inspect(connection).get_table_names())
        current = MigrationContext.configure(connection).get_current_revision()
    head = script.get_current_head()
    if head is None:
        raise RuntimeError(f"no revisions in {versions}")
    try:
        newer = list(script.iterate_revisions(head, current))  # newest first
    except (CommandError, RevisionError):  # the map raises RevisionError; some paths wrap it
        raise UnknownRevision(
            f"the store is at revision {current}, which this version of the service does not "
            "know (a newer version migrated it: roll forward, or restore the store)"
        ) from None
    pending = [revision.revision for revision in newer if revision.revision != current]
    unversioned = "alembic_version" not in tables and bool(tables & set(SQLModel.metadata.tables))
    return MigrationStatus(current, head, pending[::-1], unversioned)


def _refuse_unversioned(connection: Connection) -> None:
    tables = set(inspect(connection).get_table_names())
    if tables and "alembic_version" not in tables and tables & set(SQLModel.metadata.tables):
        raise StoreNotUnderMigrations(
            "this store was created without migrations; recreate it (`make clean` for the "
            "local run) or mark its schema as current with `ensemble-migrations <package> stamp`"
        )


def schema_drift(engine: Engine) -> list[Any]:
    """What the models declare that the migrated store lacks (empty when they agree)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, SQLModel.metadata))


def migrations_of(package: str) -> Path:
    """Import the package's tables and return its revisions folder."""
    importlib.import_module(f"{package}.adapters.orm")
    adapters = importlib.import_module(f"{package}.adapters")
    return Path(next(iter(adapters.__path__))) / "migrations"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("package", help="the service's Python package, e.g. scoring")
    actions = parser.add_subparsers(dest="action", required=True)
    revision = actions.add_parser("revision", help="autogenerate a revision from the models")
    revision.add_argument("-m", "--message", required=True)
    actions.add_parser("check", help="fail if the models and the migrations disagree")
    stamp = actions.add_parser("stamp", help="record a store's schema as the newest revision")
    stamp.add_argument("database_url")
    args = parser.parse_args(argv)
    versions = migrations_of(args.package)

    if args.action == "stamp":
        engine = create_db_engine(args.database_url)
        with engine.connect() as connection:
            command.stamp(_config(versions, connection), "head")
            connection.commit()
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_db_engine(f"sqlite:///{scratch}/schema.db")
        migrate(engine, versions)
        if args.action == "check":
            drift = schema_drift(engine)
            for change in drift:
                print(change)
            return 1 if drift else 0
        next_id = f"{len(list(versions.glob('[0-9]*.py'))) + 1:04d}"
        with engine.connect() as connection:
            command.revision(
                _config(versions, connection),
                message=args.message,
                autogenerate=True,
                rev_id=next_id,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
