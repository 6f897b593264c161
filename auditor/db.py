"""Opening the database, its pragmas, and the named schema migrations.

SQLite is the default (a path); a PostgreSQL URL serves a trust's shared server. Both go
through SQLAlchemy, and the same migrations bring either up to date.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from auditor import models
from auditor.errors import DatabaseError

DEFAULT_DB = "auditor.db"


def resolve_url(value: str | os.PathLike | None) -> str:
    """Turn ``--db`` / ``AUDITOR_DB`` into an SQLAlchemy URL: a plain path is SQLite."""
    raw = str(value) if value else os.environ.get("AUDITOR_DB") or DEFAULT_DB
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().resolve()}"
    if raw.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + raw.split("://", 1)[1]
    return raw


def describe_url(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a malformed URL is described as given
        return url.split("@")[-1]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-131072")  # 128 MiB of page cache: bulk imports touch big indexes
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def _now() -> datetime:
    return datetime.now(UTC)


# Named migrations, applied in order and recorded in schemamigration. Never edit one that has
# shipped; add the next.
def _m0001_initial(conn: Connection) -> None:
    models.metadata.create_all(conn)


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("0001_initial", _m0001_initial),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class _NoRowsLogged(logging.Filter):
    """SQLAlchemy logs every result row at DEBUG: rows hold names, so ours are never logged
    (statements still are, at INFO, with their parameters hidden)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _quiet_rows(engine: Engine) -> None:
    logger = engine.logger if isinstance(engine.logger, logging.Logger) else logging.getLogger(
        "sqlalchemy.engine.Engine.auditor")
    if not any(isinstance(f, _NoRowsLogged) for f in logger.filters):
        logger.addFilter(_NoRowsLogged())


class Database:
    """A handle on one auditor database."""

    def __init__(self, url: str | os.PathLike | None = None, passphrase: str | None = None,
                 encrypt: bool = False) -> None:
        """``passphrase`` opens an encrypted SQLite database (default: AUDITOR_PASSPHRASE);
        ``encrypt`` creates a new one encrypted (see auditor.crypto)."""
        from auditor import crypto

        self.url = resolve_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.keys: crypto.Keys | None = None
        engine_args: dict = {}
        if self.is_sqlite:
            path = Path(self.url.removeprefix("sqlite:///"))
            if not path.parent.exists():
                raise DatabaseError(f"folder {path.parent} does not exist for the database")
            self.path: Path | None = path
            self.keys = crypto.open_keys(path, passphrase or crypto.passphrase_from_env(), create=encrypt)
            if self.keys is not None:
                engine_args = crypto.sqlcipher_engine_args(path, self.keys)
        else:
            if encrypt:
                raise DatabaseError("--encrypt is for an SQLite database; on PostgreSQL, encryption at rest is "
                                    "the server's job (encrypted disks or TDE)")
            self.path = None
        try:
            # hide_parameters: SQL errors and logs never carry the values (names) written; the
            # rows read are never logged either (see _NoRowsLogged).
            self.engine: Engine = sa.create_engine(self.url, future=True, hide_parameters=True,
                                                   logging_name="auditor", **engine_args)
            _quiet_rows(self.engine)
        except Exception as exc:  # noqa: BLE001 - bad URL or missing driver
            raise DatabaseError(f"cannot use database {describe_url(self.url)}: {exc}") from None
        if self.is_sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    # -- lifecycle -------------------------------------------------------------------
    def applied_migrations(self) -> list[str]:
        try:
            with self.engine.connect() as conn:
                if not sa.inspect(conn).has_table("schemamigration"):
                    return []
                return [r[0] for r in conn.execute(sa.text("SELECT name FROM schemamigration"))]
        except sa.exc.DatabaseError as exc:  # OperationalError, or "file is not a database"
            raise DatabaseError(f"cannot open database {describe_url(self.url)}: {exc.orig}") from None

    def migrate(self) -> list[str]:
        """Apply every migration not yet applied; returns their names."""
        done = set(self.applied_migrations())
        known = {name for name, _ in MIGRATIONS}
        if done - known:
            raise DatabaseError(
                "this database was written by a newer version of auditor "
                f"(migrations {', '.join(sorted(done - known))}); upgrade auditor"
            )
        applied = []
        for name, step in MIGRATIONS:
            if name in done:
                continue
            with self.engine.begin() as conn:
                step(conn)
                conn.execute(
                    models.SchemaMigration.__table__.insert().values(name=name, applied_at=_now())
                )
            applied.append(name)
        return applied

    def check(self) -> None:
        """Refuse to work on a database that was never initialised or needs migrating."""
        done = self.applied_migrations()
        if not done:
            raise DatabaseError(
                f"{describe_url(self.url)} is not an auditor database yet", hint="run: auditor init"
            )
        if done[-1:] != [SCHEMA_VERSION] and set(done) != {n for n, _ in MIGRATIONS}:
            self.migrate()

    # -- access ----------------------------------------------------------------------
    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """One transaction: everything inside commits together or not at all."""
        with self.engine.begin() as conn:
            yield conn

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(models.Setting.__table__.c.value).where(models.Setting.__table__.c.key == key)
            ).first()
        return row[0] if row else default

    def set_setting(self, conn: Connection, key: str, value: str) -> None:
        table = models.Setting.__table__
        if conn.execute(sa.select(table.c.key).where(table.c.key == key)).first():
            conn.execute(table.update().where(table.c.key == key).values(value=value))
        else:
            conn.execute(table.insert().values(key=key, value=value))

    def dispose(self) -> None:
        self.engine.dispose()


def _is_datetime(column: sa.Column) -> bool:
    kind = column.type
    impl = getattr(kind, "impl", kind)
    return isinstance(kind, sa.DateTime) or isinstance(impl, sa.DateTime)


_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps with options builds an encoder per call


def _json_value(value):
    if value is None:
        return None
    if value == []:
        return "[]"
    return _JSON(value)


def _sqlite_time(value):
    """The text SQLAlchemy writes for a UTC datetime on SQLite."""
    if value is None:
        return None
    if value.tzinfo is UTC:
        return value.isoformat(" ", "microseconds")[:-6]  # drop the "+00:00"
    value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _aware_time(value):
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


COPY_FROM = 50  # rows: below this, PostgreSQL takes an ordinary executemany


def fast_insert(conn: Connection, table: sa.Table, rows: list[dict], json_ready: tuple[str, ...] = ()) -> None:
    """Insert many rows (dicts with the same keys) straight through the driver's executemany;
    see ``insert_values``."""
    if not rows:
        return
    columns = list(rows[0])
    insert_values(conn, table, columns, [tuple(row[c] for c in columns) for row in rows], json_ready)


def insert_values(conn: Connection, table: sa.Table, columns: list[str], values: list[tuple],
                  json_ready: tuple[str, ...] = ()) -> None:
    """Insert many rows (tuples in ``columns`` order) straight through the driver's executemany
    (the import's hot path): no per-value type processing, JSON dumped and datetimes made UTC
    here, once, column by column, in the form each database stores (SQLite: the text
    SQLAlchemy itself writes; PostgreSQL: aware datetimes). Columns named in ``json_ready``
    already hold JSON text."""
    if not values:
        return
    sqlite = conn.dialect.name == "sqlite"
    converters = []
    for c in columns:
        column = table.c[c]
        if isinstance(column.type, sa.JSON) and c not in json_ready:
            converters.append(_json_value)
        elif _is_datetime(column):
            converters.append(_sqlite_time if sqlite else _aware_time)
        else:
            converters.append(None)
    if any(converters):
        by_column = list(zip(*values, strict=True))
        for i, convert in enumerate(converters):
            if convert is not None:
                by_column[i] = tuple(map(convert, by_column[i]))
        values = list(zip(*by_column, strict=True))
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    if conn.dialect.name == "postgresql" and len(values) >= COPY_FROM:
        # COPY streams the rows in one command, several times faster than executemany's
        # round trips; it runs on this connection, inside the caller's transaction.
        target = conn.dialect.identifier_preparer.quote(table.name)
        with conn.connection.driver_connection.cursor() as cursor, \
                cursor.copy(f"COPY {target} ({quoted}) FROM STDIN") as copy:
            for row in values:
                copy.write_row(row)
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {conn.dialect.identifier_preparer.quote(table.name)} ({quoted}) "
           f"VALUES ({', '.join(marker for _ in columns)})")
    conn.exec_driver_sql(sql, values)


def driver_rows(conn: Connection, statement: sa.Select) -> list:
    """The rows of a select without parameters as the driver returns them, with no type
    conversion (SQLite: dates and JSON as text, booleans as 0/1): for reading in bulk what
    is only compared, never interpreted."""
    return conn.exec_driver_sql(str(statement.compile(dialect=conn.dialect))).all()


def allocate_ids(conn: Connection, table: sa.Table, count: int) -> list[int]:
    """Reserve ``count`` primary keys for rows about to be inserted in this transaction, so a
    bulk insert needs no read-back. PostgreSQL takes them from the table's sequence; SQLite
    holds the write lock by now (the caller has written in this transaction), so max(id) is ours."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(sa.text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                                    "FROM generate_series(1, :n)"), {"n": count})
        return [r[0] for r in rows]
    start = (conn.execute(sa.select(sa.func.max(table.c.id))).scalar() or 0) + 1
    return list(range(start, start + count))


def utcnow() -> datetime:
    """Wall-clock time for records of *when something was done* (never for audit logic)."""
    return _now()
