"""Prepared statements: a hot-path Core statement compiled once per dialect and run straight on
the DBAPI cursor of the unit of work's connection (ADR 7).

Why: profiles of intake and of the consumers showed SQLAlchemy's per-execution work (an
execution context, parameter and result set-up, events) as the largest share of the store
thread's time holding the GIL, larger than SQLite itself. A `Prepared` keeps what SQLAlchemy
decides once (the SQL text, the parameter order, each type's bind and result conversion) and
does only the conversions per call, so values are stored and read back exactly as through Core.

It runs inside the session's transaction (`db.core_sql` keeps the connection), so it commits
and rolls back with the unit of work, savepoints included. Driver errors are raised as
SQLAlchemy's (IntegrityError, OperationalError, ...) with the parameters hidden, and a lost
connection is invalidated as SQLAlchemy would, so callers and retries see no difference.
Connection events (`before_cursor_execute`) do not fire for these statements.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Dialect, exc
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlmodel import Session

from ensemble_runtime.db import core_sql

Parameters = Mapping[str, Any]
Row = tuple[Any, ...]
_Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class Ran:
    """What a prepared statement gave back: rows (of SELECT or RETURNING), the rowcount and,
    for an INSERT prepared with `returns_id`, the new row's id."""

    rows: list[Row]
    rowcount: int
    inserted_id: Any = None

    def first(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def scalar(self) -> Any:
        return self.rows[0][0] if self.rows else None


@dataclass(frozen=True)
class _Compiled:
    compiled: SQLCompiler
    sql: str
    order: tuple[str, ...] | None  # parameter names in order (positional paramstyles)
    binds: dict[str, _Convert]  # parameter name -> the type's bind conversion
    # Values no call gives: those built into the statement (`.values(column=value)`), and an
    # INSERT's scalar column defaults for columns left out.
    defaults: dict[str, Any]
    # Per returned column: its type, and the type's result conversion. Some conversions
    # depend on the type the driver reports (psycopg's numerics): kept per reported types.
    returned: tuple[Any, ...]
    dialect: Dialect
    id_returned: bool  # the new id comes back as a row (RETURNING), else as lastrowid
    expanding: tuple[str, ...]  # IN lists rendered per call (`bindparam(..., expanding=True)`)
    dbapi_error: type[Exception]
    # Per length of each IN list: the SQL, its parameter order, conversions and the names
    # each list's items take (SQLAlchemy's expansion, done once per shape).
    expansions: dict[tuple[int, ...], "_Expansion"] = field(default_factory=dict)
    results: dict[tuple[Any, ...], tuple[_Convert | None, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Expansion:
    sql: str
    order: tuple[str, ...] | None
    binds: dict[str, _Convert]
    names: dict[str, list[str]]  # an IN list's parameter -> its items' parameter names


class Prepared:
    """A Core statement (select, insert, update or delete) run on the session's DBAPI
    connection. An INSERT is compiled for the columns each call gives (kept per set of
    columns); columns left out take their scalar defaults, or NULL. `returns_id` (an INSERT's
    integer primary key) makes `Ran.inserted_id` the new row's id: the driver's lastrowid
    where the dialect has one (SQLite, where RETURNING costs as much as the INSERT), else
    RETURNING (PostgreSQL)."""

    def __init__(self, statement: ClauseElement, returns_id: Any = None) -> None:
        self.statement = statement
        self.returns_id = returns_id
        self._insert = isinstance(statement, Insert)
        self._compiled: dict[tuple[str, tuple[str, ...]], _Compiled] = {}

    def execute(
        self, session: Session, parameters: Parameters | Sequence[Parameters] | None = None
    ) -> Ran:
        """Run once with `parameters`, or once per mapping of a list (executemany: no rows)."""
        many = isinstance(parameters, Sequence)
        given: list[Parameters] = (
            list(parameters) if isinstance(parameters, Sequence) else [parameters or {}]
        )
        if not given:
            return Ran([], 0)
        connection = core_sql(session).connection()
        dialect = connection.dialect
        key = (dialect.name, tuple(given[0]) if self._insert else ())
        prepared = self._compiled.get(key) or self._compile(dialect, key)
        sql = prepared.sql
        arguments = []
        for values in given:
            sql, converted = _arguments(prepared, values)
            arguments.append(converted)
        dbapi = connection.connection.dbapi_connection
        assert dbapi is not None
        cursor = dbapi.cursor()
        try:
            if many:
                cursor.executemany(sql, arguments)
                return Ran([], cursor.rowcount)
            cursor.execute(sql, arguments[0])
            rows = _rows(cursor, prepared)
            if self.returns_id is None:
                return Ran(rows, cursor.rowcount)
            if prepared.id_returned:
                return Ran([], cursor.rowcount, rows[0][0])
            return Ran(rows, cursor.rowcount, cursor.lastrowid)
        except prepared.dbapi_error as error:
            invalidated = dialect.is_disconnect(error, dbapi, cursor)  # type: ignore[arg-type]
            if invalidated:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                sql,
                None,
                error,
                prepared.dbapi_error,
                hide_parameters=True,
                connection_invalidated=invalidated,
                dialect=dialect,
                ismulti=many,
            ) from error
        finally:
            cursor.close()

    def _compile(self, dialect: Dialect, key: tuple[str, tuple[str, ...]]) -> _Compiled:
        statement: Any = self.statement
        # Where the driver's lastrowid is the new id (SQLite), RETURNING is not needed.
        lastrowid = bool(getattr(dialect, "postfetch_lastrowid", False))
        id_returned = self.returns_id is not None and not lastrowid
        if id_returned:
            statement = statement.returning(self.returns_id)
        columns = list(key[1]) if self._insert else None
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        assert isinstance(compiled, SQLCompiler)
        if compiled.literal_execute_params:  # rendered into the SQL per value: not cacheable
            raise ValueError("a prepared statement cannot have literal_execute parameters")
        binds: dict[str, _Convert] = {}
        defaults: dict[str, Any] = {}
        for name, bind in compiled.binds.items():
            convert = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if convert is not None:
                binds[name] = convert
            if not bind.required and bind.callable is None:
                defaults[name] = bind.value
        for column in compiled.insert_prefetch:  # left out, with a Python-side default
            default = column.default
            if default is None or not default.is_scalar:
                raise ValueError(f"a prepared INSERT must give {column.key} (no scalar default)")
            defaults[column.key] = default.arg  # type: ignore[attr-defined]
        # What comes back: the new id asked for, the compiler's implicit RETURNING (an INSERT's
        # id on PostgreSQL), else a SELECT's columns. (Not `exported_columns` of the copy
        # `returning()` made: it keeps the original's, empty, memoized.)
        comes_back: list[Any] = [self.returns_id] if id_returned else []
        if not id_returned:
            comes_back = list(compiled.implicit_returning or statement.exported_columns)
        returned = tuple(column.type for column in comes_back)
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        found = _Compiled(
            compiled=compiled,
            sql=compiled.string,
            order=order,
            binds=binds,
            defaults=defaults,
            returned=returned,
            dialect=dialect,
            id_returned=id_returned,
            expanding=tuple(compiled.bind_names[bind] for bind in compiled.post_compile_params),
            dbapi_error=dialect.loaded_dbapi.Error,
        )
        self._compiled[key] = found
        return found


def _arguments(prepared: _Compiled, values: Parameters) -> tuple[str, Any]:
    """The SQL to run (IN lists expanded) and the converted parameters for the driver."""
    sql, binds = prepared.sql, prepared.binds
    order: Sequence[str] | None = prepared.order
    if prepared.defaults:
        values = {**prepared.defaults, **values}
    if prepared.expanding:
        shape = tuple(len(values[name]) for name in prepared.expanding)
        expansion = prepared.expansions.get(shape) or _expand(prepared, shape, values)
        sql, order, binds = expansion.sql, expansion.order, expansion.binds
        values = dict(values)
        for name, items in expansion.names.items():
            values.update(zip(items, values.pop(name), strict=True))
    if order is not None:
        return sql, [binds[name](values[name]) if name in binds else values[name] for name in order]
    return sql, {
        name: binds[name](value) if name in binds else value for name, value in values.items()
    }


def _expand(prepared: _Compiled, shape: tuple[int, ...], values: Parameters) -> _Expansion:
    state = prepared.compiled.construct_expanded_state(dict(values))
    order = tuple(state.positiontup) if state.positiontup is not None else None
    binds = {**prepared.binds, **state.processors}
    found = _Expansion(state.statement, order, binds, dict(state.parameter_expansion))
    prepared.expansions[shape] = found
    return found


def _rows(cursor: Any, prepared: _Compiled) -> list[Row]:
    description = cursor.description
    if description is None:
        return []
    fetched = cursor.fetchall()
    reported = tuple(column[1] for column in description)  # the driver's type codes
    results = prepared.results.get(reported) or _results(prepared, reported)
    if not any(results):
        return [tuple(row) for row in fetched]
    return [
        tuple(
            value if convert is None else convert(value)
            for value, convert in zip(row, results, strict=True)
        )
        for row in fetched
    ]


def _results(prepared: _Compiled, reported: tuple[Any, ...]) -> tuple[_Convert | None, ...]:
    """Each returned column's result conversion, given the type the driver reports for it (as
    SQLAlchemy's result set-up asks: PostgreSQL's numerics convert or not by that type)."""
    dialect = prepared.dialect
    found = tuple(
        kind.dialect_impl(dialect).result_processor(dialect, coltype)
        for kind, coltype in zip(prepared.returned, reported, strict=True)
    )
    prepared.results[reported] = found
    return found
