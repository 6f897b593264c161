"""Encryption at rest (``init --encrypt``): the database and every report or export written from
it are unreadable without the passphrase, the key is stored nowhere, and every way of getting
the passphrase wrong is one clear line and a non-zero exit."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor import crypto
from auditor.generator import generate_world
from auditor.text import normalise_email, normalise_phone

PASSPHRASE = "lantern orchard pebble quiet"
AS_OF = "2026-11-01"
skip_on_pg_pass = pytest.mark.skipif(bool(os.environ.get("AUDITOR_TEST_PG")),
                                     reason="SQLCipher is for SQLite; the SQLite pass runs it")
pytestmark = skip_on_pg_pass


def secrets_of(world: Path) -> set[str]:
    """Strings that must never be readable in a file at rest: full names, longer surnames,
    e-mails, phones (as given and as stored), and the handles and display names of exports.
    Five characters or more, so random ciphertext cannot match by chance."""
    found: set[str] = set()
    roster = world / "roster"
    import csv

    for name, first, last in (("pupils.csv", "legal_forename", "legal_surname"), ("contacts.csv", "forename", "surname"),
                              ("staff.csv", "forename", "surname")):
        with open(roster / name, encoding="utf-8-sig", newline="") as handle:
            for row in csv.DictReader(handle):
                found.add(f"{row[first]} {row[last]}")
                found.add(row[last])
                for key in ("email", "mobile_phone"):
                    if row.get(key):
                        found.update({row[key], normalise_email(row[key]) or "", normalise_phone(row[key]) or ""})
    for row in json.loads((world / "truth.json").read_text(encoding="utf-8"))["rows"]:
        found.update(v for v in (row.get("display_name"), row.get("username")) if v)
    return {s for s in found if len(s.encode()) >= 5}


def readable_in(folder: Path, secrets: set[str]) -> dict[str, list[str]]:
    hits: dict[str, list[str]] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found = sorted(s for s in secrets if s.encode("utf-8") in data)
        if found:
            hits[path.name] = found
    return hits


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("enc") / "world"
    generate_world(out, profile="small", seed=11)
    return out


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AUDITOR_USER", "test-dsl")
    monkeypatch.delenv("AUDITOR_PASSPHRASE", raising=False)

    def invoke(db: Path, *args, passphrase: str | None = PASSPHRASE, expect: int = 0):
        from auditor.cli import main

        env = {"AUDITOR_PASSPHRASE": passphrase} if passphrase is not None else {}
        result = CliRunner().invoke(main, ["--db", str(db), "--quiet", *map(str, args)], env=env,
                                    catch_exceptions=False)
        assert result.exit_code == expect, f"exit {result.exit_code}: {result.output}"
        return result

    return invoke


def whole_run(run, db: Path, world: Path, out: Path, encrypt: bool) -> None:
    run(db, "init", "--policy", "luton", *(["--encrypt"] if encrypt else []))
    run(db, "roster", "import", world / "roster")
    run(db, "exemptions", "import", world / "exemptions.csv")
    run(db, "import", "--manifest", world / "manifest.csv")
    run(db, "audit", "--as-of", AS_OF, "--format", "html", "--out", out / "report.html")
    run(db, "report", "--format", "csv", "--out", out / "findings.csv")
    run(db, "report", "--format", "json", "--out", out / "findings.json")
    run(db, "report", "--format", "letters", "--out", out / "letters")
    run(db, "subject-export", "T004003" if (world / "exports" / "T004003").exists() else first_staff(world),
        "--out", out / "sar.json")


def first_staff(world: Path) -> str:
    return sorted(p.name for p in (world / "exports").iterdir())[0]


def test_no_name_is_readable_in_any_file_of_an_encrypted_workspace(run, world, tmp_path):
    secrets = secrets_of(world)
    clear, sealed = tmp_path / "clear", tmp_path / "sealed"
    for folder in (clear, sealed):
        (folder / "out").mkdir(parents=True)
    whole_run(run, clear / "school.db", world, clear / "out", encrypt=False)
    whole_run(run, sealed / "school.db", world, sealed / "out", encrypt=True)

    # The same run in clear shows the names everywhere: the grep can find them.
    in_clear = readable_in(clear, secrets)
    assert {"school.db", "report.html", "findings.csv", "findings.json", "sar.json"} <= set(in_clear)
    assert sum(map(len, in_clear.values())) > 100

    files = sorted(p.relative_to(sealed).as_posix() for p in sealed.rglob("*") if p.is_file())
    assert "school.db" in files and "school.db.kdf.json" in files
    reports = [f for f in files if f.startswith("out/")]
    assert reports and all(f.endswith(".enc") for f in reports), reports
    assert len([f for f in reports if f.startswith("out/letters/")]) == len(list((clear / "out" / "letters").iterdir()))
    assert readable_in(sealed, secrets) == {}
    assert readable_in(sealed, {PASSPHRASE}) == {}


def test_the_key_is_stored_nowhere_and_sqlite_alone_cannot_read_the_database(run, world, tmp_path):
    db = tmp_path / "school.db"
    run(db, "init", "--encrypt")
    run(db, "roster", "import", world / "roster")
    sidecar = json.loads((tmp_path / "school.db.kdf.json").read_text())
    assert set(sidecar) == {"format", "version", "cipher", "note", "kdf", "check"}
    kdf = sidecar["kdf"]
    assert kdf["name"] in ("argon2id", "scrypt")
    memory = kdf["memory_kib"] * 1024 if kdf["name"] == "argon2id" else 128 * kdf["n"] * kdf["r"]
    assert memory >= 64 * 1024 * 1024, "a memory-hard KDF costs at least 64 MiB per guess"
    keys = crypto.Keys.derive(PASSPHRASE, kdf)
    for key in (keys.database, keys.files):
        for form in (key, key.hex().encode(), key.hex().upper().encode()):
            assert all(form not in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db).execute("SELECT COUNT(*) FROM person").fetchall()
    assert db.read_bytes()[:16] != crypto.SQLITE_MAGIC
    # With the key, SQLCipher reads it (the people are there).
    import sqlcipher3.dbapi2 as sqlcipher

    conn = sqlcipher.connect(str(db))
    conn.execute(keys.sqlcipher_pragma())
    assert conn.execute("SELECT COUNT(*) FROM person").fetchone()[0] > 100
    conn.close()


def test_two_workspaces_with_one_passphrase_have_different_salts_and_keys(run, tmp_path):
    run(tmp_path / "a.db", "init", "--encrypt")
    run(tmp_path / "b.db", "init", "--encrypt")
    a = json.loads((tmp_path / "a.db.kdf.json").read_text())
    b = json.loads((tmp_path / "b.db.kdf.json").read_text())
    assert a["kdf"]["salt"] != b["kdf"]["salt"]
    assert crypto.Keys.derive(PASSPHRASE, a["kdf"]).database != crypto.Keys.derive(PASSPHRASE, b["kdf"]).database


def one_line_error(result, *words: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    for word in words:
        assert word in lines[0]


def test_wrong_missing_or_short_passphrases_are_one_clear_line_and_change_nothing(run, world, tmp_path):
    db = tmp_path / "school.db"
    run(db, "init", "--encrypt")
    run(db, "roster", "import", world / "roster")
    before = {p.name: p.read_bytes() for p in tmp_path.glob("school.db*")}

    one_line_error(run(db, "roster", "import", world / "roster", passphrase="not the right one at all", expect=4),
                   "wrong passphrase")
    one_line_error(run(db, "import", "--manifest", world / "manifest.csv", passphrase=None, expect=4),
                   "encrypted", "AUDITOR_PASSPHRASE")
    assert {p.name: p.read_bytes() for p in tmp_path.glob("school.db*")} == before

    one_line_error(run(tmp_path / "new.db", "init", "--encrypt", passphrase="short", expect=2), "too short")
    one_line_error(run(tmp_path / "none.db", "init", "--encrypt", passphrase=None, expect=4), "passphrase")
    assert not (tmp_path / "new.db").exists() and not (tmp_path / "none.db").exists()

    (tmp_path / "school.db.kdf.json").rename(tmp_path / "elsewhere.json")
    one_line_error(run(db, "review", "list", expect=4), "school.db", "kdf.json")


def test_encrypt_is_refused_for_a_clear_database_and_for_postgresql(run, tmp_path):
    clear = tmp_path / "clear.db"
    run(clear, "init")
    data = clear.read_bytes()
    one_line_error(run(clear, "init", "--encrypt", expect=4), "already exists in clear")
    assert clear.read_bytes() == data and not (tmp_path / "clear.db.kdf.json").exists()
    from auditor.cli import main

    result = CliRunner().invoke(main, ["--db", "postgresql://dsl@127.0.0.1:9/school", "init", "--encrypt"],
                                env={"AUDITOR_PASSPHRASE": PASSPHRASE})
    assert result.exit_code == 4
    one_line_error(result, "PostgreSQL", "server")


def test_an_encrypted_workspace_opens_again_and_keeps_working(run, world, tmp_path):
    db = tmp_path / "school.db"
    run(db, "init", "--encrypt", "--policy", "luton")
    run(db, "roster", "import", world / "roster")
    run(db, "init")  # opening again (no --encrypt needed) keeps it encrypted and intact
    again = run(db, "roster", "import", world / "roster", "--json")
    assert json.loads(again.stdout)["unchanged"] > 100
    assert run(db, "log", "verify").stdout.startswith("audit log intact")


@pytest.fixture
def encrypted_report(run, world, tmp_path) -> Path:
    db = tmp_path / "school.db"
    run(db, "init", "--encrypt", "--policy", "luton")
    run(db, "roster", "import", world / "roster")
    run(db, "import", "--manifest", world / "manifest.csv")
    result = run(db, "audit", "--as-of", AS_OF, "--format", "json", "--out", tmp_path / "findings.json")
    assert "findings.json.enc (encrypted)" in result.stderr
    assert not (tmp_path / "findings.json").exists()
    return tmp_path / "findings.json.enc"


def test_decrypt_gives_back_the_report_and_refuses_tampering_or_a_wrong_passphrase(run, encrypted_report, tmp_path):
    clear = tmp_path / "clear.json"
    run(tmp_path / "unused.db", "decrypt", encrypted_report, "--out", clear)
    document = json.loads(clear.read_text(encoding="utf-8"))
    assert document["as_of"] == AS_OF and document["findings"]
    assert all(f["person_ref"] for f in document["findings"])

    one_line_error(run(tmp_path / "unused.db", "decrypt", encrypted_report, passphrase="guessing a passphrase",
                       expect=2), "wrong passphrase")
    tampered = bytearray(encrypted_report.read_bytes())
    tampered[-40] ^= 0x01
    (tmp_path / "tampered.enc").write_bytes(bytes(tampered))
    one_line_error(run(tmp_path / "unused.db", "decrypt", tmp_path / "tampered.enc", expect=2), "changed or damaged")
    one_line_error(run(tmp_path / "unused.db", "decrypt", clear, expect=2), "not a file encrypted by auditor")
    # The header (salt, settings) is authenticated too: editing it is caught, not silently used.
    blob = encrypted_report.read_bytes()
    header_end = blob.index(b"\n", len(crypto.FILE_MAGIC))
    edited = blob[:header_end].replace(b'"name": "findings.json"', b'"name": "findings.jsoN"') + blob[header_end:]
    assert edited != blob
    (tmp_path / "edited.enc").write_bytes(edited)
    one_line_error(run(tmp_path / "unused.db", "decrypt", tmp_path / "edited.enc", expect=2), "changed or damaged")


def test_encrypted_files_are_private_and_fresh_each_time(run, encrypted_report, tmp_path):
    assert encrypted_report.stat().st_mode & 0o077 == 0
    first = encrypted_report.read_bytes()
    run(tmp_path / "school.db", "report", "--format", "json", "--out", tmp_path / "findings.json")
    second = encrypted_report.read_bytes()
    assert first != second  # a new nonce every time, so equal reports do not look equal
    assert crypto.decrypt_bytes(PASSPHRASE, first)[1] == crypto.decrypt_bytes(PASSPHRASE, second)[1]
