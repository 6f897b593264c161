"""Shared fixtures. Every test that needs a database gets a fresh one: SQLite in a temporary
folder, or, when AUDITOR_TEST_PG is set (``make test`` does it), a fresh PostgreSQL database
on the server that URL names."""

from __future__ import annotations

import os
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import settings

from auditor.db import Database

# Property tests are derandomised (the same cases on every machine, so CI cannot fail by luck);
# AUDITOR_HYPOTHESIS=random explores new cases locally.
settings.register_profile("auditor", derandomize=True, database=None, deadline=None)
settings.register_profile("random", deadline=None)
settings.load_profile("random" if os.environ.get("AUDITOR_HYPOTHESIS") == "random" else "auditor")

HERE = Path(__file__).parent
FIXTURES = HERE / "fixtures"
SHARED = HERE.parent.parent / "shared"
DEV_WORLD = SHARED / "datasets" / "dev-world"
REAL_STRUCTURES = SHARED / "datasets" / "real-structures"
PG_URL = os.environ.get("AUDITOR_TEST_PG")


@pytest.fixture
def db_url(tmp_path: Path):
    if not PG_URL:
        yield str(tmp_path / "auditor.db")
        return
    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n AND pid <> pg_backend_pid()"
        ), {"n": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture
def db(db_url: str):
    database = Database(db_url)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch):
    """Run the CLI against the test database: ``cli("roster", "import", path)``."""
    from auditor.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITOR_USER", "test-dsl")
    runner = CliRunner()

    def run(*args: str, expect: int | None = 0, input: str | None = None):
        result = runner.invoke(main, ["--db", db_url, "--quiet", *map(str, args)], input=input, catch_exceptions=False)
        if expect is not None:
            assert result.exit_code == expect, f"exit {result.exit_code}: {result.output}"
        return result

    return run


def zip_folder(folder: Path, target: Path, wrapper: str | None = None) -> Path:
    """Zip a fixture folder at test time (fixtures are kept unzipped in the repository)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                name = path.relative_to(folder).as_posix()
                zf.write(path, f"{wrapper}/{name}" if wrapper else name)
    return target


@pytest.fixture
def zipped(tmp_path: Path):
    def make(folder: Path, wrapper: str | None = None, name: str | None = None) -> Path:
        return zip_folder(folder, tmp_path / (name or f"{folder.name}.zip"), wrapper)

    return make


@pytest.fixture
def copy_fixture(tmp_path: Path):
    def copy(rel: str) -> Path:
        src = FIXTURES / rel
        dst = tmp_path / "copy" / rel
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst)
        return dst

    return copy
