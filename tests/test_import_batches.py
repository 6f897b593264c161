"""An import stores several exports per transaction. A file refused while being stored rolls
back only the open batch, whose files are then stored one per transaction: the others are
kept, the refusal is reported, and every stored file has all its rows and its log entry."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from auditor import ingest
from auditor.config import Config
from auditor.errors import InputError
from auditor.generator import generate_world
from auditor.ingest import import_manifest, read_manifest
from auditor.roster import import_roster
from auditor.setup import initialise


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("batches") / "world"
    generate_world(out, profile="small", seed=13)
    return out


def _consistent(db) -> tuple[int, int]:
    with db.engine.connect() as conn:
        short = list(conn.execute(sa.text(
            "SELECT f.id FROM importedfile f LEFT JOIN connection c ON c.file_id = f.id WHERE f.kind = 'export' "
            "GROUP BY f.id, f.rows HAVING f.rows != COUNT(c.id)")))
        assert short == []
        files = conn.execute(sa.text("SELECT COUNT(*) FROM importedfile WHERE kind = 'export'")).scalar()
        logged = conn.execute(sa.text("SELECT COUNT(*) FROM auditlog WHERE action = 'import'")).scalar()
        assert files == logged
        return files, conn.execute(sa.text("SELECT COUNT(*) FROM connection")).scalar()


@pytest.mark.parametrize("batch_files", [2, 1000])
def test_a_refusal_while_storing_keeps_the_rest_of_the_batch(db, world: Path, monkeypatch, batch_files: int) -> None:
    initialise(db, "luton", Config())
    import_roster(db, [world / "roster"])
    rows = read_manifest(world / "manifest.csv")
    assert len(rows) >= 5
    refused_label = rows[len(rows) // 2][2]
    store_export = ingest.store_export

    def failing(conn, run_id, staff_id, parsed, path_label):
        file_id = store_export(conn, run_id, staff_id, parsed, path_label)  # written, then refused
        if path_label == refused_label:
            raise InputError(f"{path_label}: refused for the test")
        return file_id

    monkeypatch.setattr(ingest, "BATCH_FILES", batch_files)
    monkeypatch.setattr(ingest, "store_export", failing)
    results = import_manifest(db, world / "manifest.csv")
    assert [r.path for r in results] == [label for _, _, label in rows]
    assert [r.status for r in results] == ["refused" if r.path == refused_label else "imported" for r in results]
    assert "refused for the test" in next(r.error for r in results if r.status == "refused")
    files, _ = _consistent(db)
    assert files == len(rows) - 1

    monkeypatch.setattr(ingest, "store_export", store_export)
    again = import_manifest(db, world / "manifest.csv")
    assert [r.status for r in again] == ["imported" if r.path == refused_label else "unchanged" for r in again]
    files, connections = _consistent(db)
    assert files == len(rows)
    assert connections == sum(r.rows for r in results + again if r.status == "imported")
