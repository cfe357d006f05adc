"""A rotated PostgreSQL password (ALTER ROLE + a new secret file) reaches new connections of a
running engine, while its pooled connections keep working.

The test server trusts local connections, so the test role gets a `scram-sha-256` line of its
own at the top of pg_hba.conf (removed afterwards): only that role's password is checked, and
other tests are unaffected.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ensemble_devkit.postgres import create_database
from ensemble_runtime.db import create_db_engine
from ensemble_runtime.secrets import SecretFile, non_empty

pytestmark = pytest.mark.postgres


@dataclass
class Role:
    name: str
    url: str  # the database's URL for the role, without a password


def libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def superuser(server_url: str) -> psycopg.Connection[tuple[object, ...]]:
    url = make_url(server_url).set(username="postgres", password=None, database="postgres")
    rendered = libpq(url.render_as_string(hide_password=False))
    return psycopg.connect(rendered, autocommit=True)


def refuses(url: str, password: str) -> bool:
    try:
        psycopg.connect(libpq(url), password=password, connect_timeout=5).close()
    except psycopg.OperationalError:
        return True
    return False


@pytest.fixture
def role(postgres_server_url: str) -> Iterator[Role]:
    """A login role whose password the server checks (scram), with a database to reach."""
    name = f"rotation_{uuid.uuid4().hex[:10]}"
    try:
        admin = superuser(postgres_server_url)
        hba = Path(str(admin.execute("SHOW hba_file").fetchone()[0]))  # type: ignore[index]
        rules = hba.read_text()
    except (psycopg.Error, OSError) as error:
        pytest.skip(f"needs the local test server's superuser and pg_hba.conf: {error}")
    line = f"host all {name} 127.0.0.1/32 scram-sha-256\n"
    database = create_database(postgres_server_url, "rotation")
    with admin:
        admin.execute("SET password_encryption = 'scram-sha-256'")
        admin.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'first-password-1'")  # generated name
        hba.write_text(line + rules)
        admin.execute("SELECT pg_reload_conf()")
        url = make_url(database).set(username=name, password=None)
        found = Role(name, url.render_as_string(hide_password=False))
        for _ in range(200):  # the reload is asynchronous: wait until the server checks
            if refuses(found.url, "not-the-password"):
                break
        else:
            pytest.fail("the server never started checking the test role's password")
        try:
            yield found
        finally:
            hba.write_text(hba.read_text().replace(line, ""))
            admin.execute("SELECT pg_reload_conf()")
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            admin.execute(f'DROP DATABASE IF EXISTS "{make_url(database).database}"')
            admin.execute(f"DROP ROLE IF EXISTS {name}")


def current_user(engine: Engine) -> str:
    with engine.connect() as connection:
        return str(connection.execute(text("SELECT current_user")).scalar_one())


def test_new_connections_use_the_rotated_password_and_pooled_ones_keep_working(
    role: Role, postgres_server_url: str, tmp_path: Path
) -> None:
    password_file = tmp_path / "database-password"
    password_file.write_text("first-password-1\n")
    password = SecretFile(password_file, "TEST_DATABASE_PASSWORD_FILE", non_empty, 0)
    engine = create_db_engine(role.url, password=password.value)
    try:
        pooled = engine.connect()
        assert pooled.execute(text("SELECT current_user")).scalar_one() == role.name

        with superuser(postgres_server_url) as admin:
            admin.execute("SET password_encryption = 'scram-sha-256'")
            admin.execute(f"ALTER ROLE {role.name} PASSWORD 'second-password-2'")
        assert refuses(role.url, "first-password-1")  # the old one is no longer accepted
        password_file.write_text("second-password-2\n")

        assert pooled.execute(text("SELECT 1")).scalar_one() == 1  # still open, still works
        assert current_user(engine) == role.name  # a second connection: a new one, new password
        pooled.close()
        engine.dispose()  # every connection new from here
        assert current_user(engine) == role.name
    finally:
        engine.dispose()


def test_a_stale_password_file_is_refused_by_the_server(role: Role, tmp_path: Path) -> None:
    password_file = tmp_path / "database-password"
    password_file.write_text("first-password-1")
    password = SecretFile(password_file, "TEST_DATABASE_PASSWORD_FILE", non_empty, 0)
    engine = create_db_engine(role.url, password=password.value)
    try:
        assert current_user(engine) == role.name
        password_file.write_text("a-wrong-password")
        engine.dispose()
        with pytest.raises(OperationalError):
            current_user(engine)
    finally:
        engine.dispose()
