"""Hostile files, built at test time: each is refused with one clear line and a non-zero exit
(the database untouched for that file) or read safely, in bounded time and memory."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.archive import Limits
from auditor.db import Database
from auditor.errors import ArchiveRefused, AuditorError, InputError
from auditor.ingest import parse_export
from tests.export_helpers import add_staff, fixture, import_json, kinds

MiB = 1024 * 1024
FRIENDS = json.dumps({"friends_v2": [{"name": "Tamsin Oyelaran", "timestamp": 1700000000}]})


def db_counts(db_url: str) -> dict[str, int]:
    db = Database(db_url)
    with db.begin() as conn:
        counts = {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                  for t in ("importedfile", "connection", "account", "staffaccount")}
    db.dispose()
    return counts


def make_zip(path: Path, members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = compression
            zf.writestr(info, data)
    return path


def patch_zip(path: Path, *, flag_bits: int | None = None, method: int | None = None) -> Path:
    """Rewrite every local and central header's flag bits or compression method in place
    (zipfile cannot write an encrypted zip; the headers are what a reader trusts)."""
    data = bytearray(path.read_bytes())
    for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        start = 0
        while (at := data.find(signature, start)) != -1:
            if flag_bits is not None:
                struct.pack_into("<H", data, at + flag_at, flag_bits)
            if method is not None:
                struct.pack_into("<H", data, at + method_at, method)
            start = at + 4
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def refused(cli, tmp_path, db_url):
    """Import one file through the CLI and check it is refused in one line, exit 2, the
    database as it was; returns the error text."""
    staff = add_staff(cli, tmp_path)
    good = make_zip(tmp_path / "good.zip", {"connections/friends/your_friends.json": FRIENDS.encode()})
    import_json(cli, staff, good)

    def check(path: Path) -> str:
        before = db_counts(db_url)
        result = cli("import", "--staff", staff, path, expect=2)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert lines[0].startswith("refused") and "Traceback" not in result.output
        assert len(lines) == 2 and lines[1].startswith("error: 1 of 1 file(s) refused")
        assert db_counts(db_url) == before
        return lines[0]

    return check


# -- archive structure -------------------------------------------------------------------------
def test_path_traversal_is_refused(refused, tmp_path):
    bad = make_zip(tmp_path / "climb.zip", {"connections/friends/your_friends.json": FRIENDS.encode(),
                                            "../../outside/your_friends.json": FRIENDS.encode()})
    assert "climbs out of the archive" in refused(bad)
    windows = make_zip(tmp_path / "windows.zip", {"connections\\..\\..\\evil.json": FRIENDS.encode()})
    assert "climbs out" in refused(windows)


@pytest.mark.parametrize("name", ["/etc/your_friends.json", "C:/Users/x/your_friends.json"])
def test_absolute_member_names_are_refused(refused, tmp_path, name):
    assert "absolute path" in refused(make_zip(tmp_path / "abs.zip", {name: FRIENDS.encode()}))


def test_zip_bomb_ratio_is_refused_before_inflating(refused, tmp_path):
    bomb = make_zip(tmp_path / "TikTok_Data_1.zip", {"user_data_tiktok.json": b"{" + b" " * (40 * MiB) + b"}"})
    assert bomb.stat().st_size < MiB
    started = time.monotonic()
    assert "zip-bomb compression ratio" in refused(bomb)
    assert time.monotonic() - started < 10


def test_member_total_and_count_caps(tmp_path):
    noisy = os.urandom(3 * MiB)  # incompressible: passes the ratio test, fails the size cap
    big = make_zip(tmp_path / "big.zip", {"user_data_tiktok.json": noisy}, zipfile.ZIP_STORED)
    with pytest.raises(ArchiveRefused, match="larger than 2 MiB"):
        parse_export(big, limits=Limits(max_member_bytes=2 * MiB))
    parts = {f"connections/friends/f{i}.json": FRIENDS.encode() + b" " * MiB for i in range(4)}
    many = make_zip(tmp_path / "many.zip", parts, zipfile.ZIP_STORED)
    with pytest.raises(ArchiveRefused, match="inflates beyond"):
        parse_export(many, limits=Limits(max_total_bytes=3 * MiB))
    with pytest.raises(ArchiveRefused, match="more than 3 members"):
        parse_export(many, limits=Limits(max_members=3))


def test_declared_size_lies_are_bounded(tmp_path):
    """A header that understates a member's size cannot make the reader return more."""
    path = make_zip(tmp_path / "liar.zip", {"connections/friends/your_friends.json": FRIENDS.encode() + b" " * 5000})
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, at + 24, 10)  # central directory: uncompressed size 10 bytes
    path.write_bytes(bytes(data))
    with pytest.raises(InputError):
        parse_export(path)


@pytest.mark.parametrize("how", ["flag", "aes"])
def test_encrypted_zip_is_refused_with_a_clear_message(refused, tmp_path, how):
    path = make_zip(tmp_path / f"{how}.zip", {"connections/friends/your_friends.json": FRIENDS.encode()})
    patch_zip(path, flag_bits=0x1) if how == "flag" else patch_zip(path, method=99)
    assert "password-protected" in refused(path)


def test_truncated_and_damaged_archives(refused, tmp_path, zipped):
    whole = zipped(fixture("facebook", "2022"), name="whole.zip")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert "not a readable zip archive" in refused(cut)
    damaged = make_zip(tmp_path / "damaged.zip", {"connections/friends/your_friends.json": FRIENDS.encode() * 50})
    data = bytearray(damaged.read_bytes())
    start = data.find(b"your_friends.json") + len("your_friends.json")
    for i in range(start + 20, start + 60):
        data[i] ^= 0x5A
    damaged.write_bytes(bytes(data))
    assert "damaged" in refused(damaged)


def test_empty_inputs_are_refused(refused, tmp_path):
    empty_zip = make_zip(tmp_path / "empty.zip", {})
    assert "not a readable zip archive" in refused(empty_zip) or "empty" in refused(empty_zip)
    only_dirs = tmp_path / "dirs.zip"
    with zipfile.ZipFile(only_dirs, "w") as zf:
        zf.writestr("connections/", b"")
    assert "empty" in refused(only_dirs)
    empty_file = tmp_path / "your_friends.json"
    empty_file.write_bytes(b"")
    assert "empty" in refused(empty_file)
    (tmp_path / "nothing").mkdir()
    assert "holds no files" in refused(tmp_path / "nothing")


# -- content ------------------------------------------------------------------------------------
def test_deeply_nested_json_is_one_clear_error(refused, tmp_path):
    deep = tmp_path / "your_friends.json"
    deep.write_text('{"friends_v2": ' + "[" * 200_000 + "]" * 200_000 + "}")
    assert "nested too deeply" in refused(deep)
    archive = make_zip(tmp_path / "deep.zip", {"connections/friends/your_friends.json": deep.read_bytes()})
    assert "nested too deeply" in refused(archive)


def test_enormous_lines_are_skipped_or_read_in_bounded_time(tmp_path):
    csv_path = tmp_path / "Connections.csv"
    csv_path.write_text("First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
                        'Keverne,Hosking,,,,,12 Jan 2023\n"' + "x" * (8 * MiB) + '",Long,,,,,12 Jan 2023\n'
                        "Ottilie,Sobey,,,,,13 Jan 2023\n")
    started = time.monotonic()
    parsed = parse_export(csv_path)
    assert [r.display_name for r in parsed.records] == ["Keverne Hosking", "Ottilie Sobey"]
    assert any("could not be read" in w for w in parsed.warnings)
    vcf = tmp_path / "contacts.vcf"
    vcf.write_text("BEGIN:VCARD\nVERSION:3.0\nFN:Photo Person\nPHOTO;ENCODING=b;TYPE=JPEG:" + "A" * (16 * MiB)
                   + "\nTEL:07700 900123\nEND:VCARD\n")
    assert [r.phones for r in parse_export(vcf).records] == [["+447700900123"]]
    one_line = tmp_path / "friends.json"
    one_line.write_text(json.dumps({"Friends": [{"Username": f"user{i}", "Display Name": "x" * 50} for i in range(60_000)]}))
    assert len(parse_export(one_line).records) == 60_000
    assert time.monotonic() - started < 60


def test_wrong_encodings_are_read_or_refused_cleanly(refused, tmp_path):
    header = "First Name,Last Name,URL,Email Address,Company,Position,Connected On\r\nZoë,Pascoe,,,,,03 Mar 2021\r\n"
    for codec in ("utf-16", "utf-16-le", "utf-8-sig", "cp1252"):
        path = tmp_path / codec / "Connections.csv"
        path.parent.mkdir()
        path.write_bytes(header.encode(codec))
        assert [r.display_name for r in parse_export(path).records] == ["Zoë Pascoe"], codec
    binary = tmp_path / "bin" / "your_friends.json"
    binary.parent.mkdir()
    binary.write_bytes(b"{" + os.urandom(4096))
    assert "not valid JSON" in refused(binary) or "not an export" in refused(binary)
    garbage_zip = make_zip(tmp_path / "garbage.zip", {"connections/friends/your_friends.json": os.urandom(2048)})
    assert "Facebook" in refused(garbage_zip) or "JSON" in refused(garbage_zip)


def test_symbolic_links_are_never_followed(tmp_path, zipped):
    secret = tmp_path / "secret.json"
    secret.write_text(FRIENDS)
    export = tmp_path / "export"
    friends = export / "connections" / "friends"
    friends.mkdir(parents=True)
    (friends / "your_friends.json").write_text(json.dumps({"friends_v2": []}))
    (friends / "removed_friends.json").symlink_to(secret)
    (export / "connections" / "followers").symlink_to(tmp_path, target_is_directory=True)
    parsed = parse_export(export)
    assert parsed.records == []
    assert sum("skipped symbolic link" in w for w in parsed.warnings) == 2
    link_zip = tmp_path / "links.zip"
    with zipfile.ZipFile(link_zip, "w") as zf:
        zf.writestr("connections/friends/your_friends.json", FRIENDS)
        info = zipfile.ZipInfo("connections/friends/removed_friends.json")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, str(secret))
    parsed = parse_export(link_zip)
    assert kinds(parsed) == {"friend": 1}
    assert any("skipped symbolic link" in w for w in parsed.warnings)


def test_one_bad_member_refuses_the_archive_and_good_ones_still_import(cli, tmp_path, db_url, zipped):
    staff = add_staff(cli, tmp_path)
    bad = make_zip(tmp_path / "bad.zip", {"connections/friends/your_friends.json": FRIENDS.encode(),
                                          "connections/friends/removed_friends.json": b'{"deleted_friends_v2": [{"na'})
    good = zipped(fixture("tiktok", "2024"), name="TikTok_Data_2.zip")
    before = db_counts(db_url)
    result = cli("import", "--staff", staff, bad, good, "--json", expect=2)
    files = json.loads(result.stdout)["files"]
    assert [f["status"] for f in files] == ["refused", "imported"]
    assert "removed_friends.json" in files[0]["error"]
    after = db_counts(db_url)
    assert after["importedfile"] == before["importedfile"] + 1
    assert after["connection"] == before["connection"] + files[1]["rows"]


def _write_tiktok(path: Path, count: int) -> Path:
    entry = '{"Date": "2024-01-01 00:00:00", "UserName": "u%08d"}'
    with open(path, "w") as handle:
        handle.write('{"Your Activity": {"Follower": {"FansList": [')
        handle.write(",".join(entry % i for i in range(count)))
        handle.write("]}}}")
    return path


def _peak(script: str, *args: str) -> tuple[str, int]:
    """Run ``script`` in a fresh interpreter; its output and its peak memory in bytes."""
    code = script + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=True,
                         timeout=600).stdout.split("\n")
    return "\n".join(out[:-2]), int(out[-2]) * 1024


@pytest.mark.slow
def test_largest_inputs_stay_under_one_gigabyte(tmp_path):
    """The biggest JSON member auditor parses whole, and the most rows it holds for one export
    stored through the CLI: peak memory of each stays under 1 GB."""
    from auditor.connector import MAX_JSON_PARSE_BYTES
    from auditor.ingest import MAX_EXPORT_ROWS

    (tmp_path / "cap").mkdir()
    at_cap = _write_tiktok(tmp_path / "cap" / "user_data_tiktok.json", MAX_JSON_PARSE_BYTES // 58)
    assert MAX_JSON_PARSE_BYTES * 0.9 < at_cap.stat().st_size <= MAX_JSON_PARSE_BYTES
    text, peak = _peak("import sys\nfrom pathlib import Path\nfrom auditor.errors import InputError\n"
                       "from auditor.ingest import parse_export\n"
                       "try:\n    print(len(parse_export(Path(sys.argv[1])).records))\n"
                       "except InputError as exc:\n    print(exc)", str(at_cap))
    assert "more than 250,000 entries" in text or text.strip().isdigit()
    assert peak < 1024 ** 3

    most = _write_tiktok(tmp_path / "user_data_tiktok.json", MAX_EXPORT_ROWS - 10_000)
    db = tmp_path / "big.db"
    (tmp_path / "staff.csv").write_text("staff_id,forename,surname,email,school,role\nT1,A,B,a@b.example,S,Teacher\n")
    store = ("import sys\nfrom auditor.cli import main\n"
             "for args in (['init'], ['roster', 'import', sys.argv[2]], ['import', '--staff', 'T1', sys.argv[3]]):\n"
             "    try:\n        main(['--db', sys.argv[1], '--quiet', *args])\n"
             "    except SystemExit as exc:\n        assert not exc.code, exc.code")
    started = time.monotonic()
    _text, peak = _peak(store, str(db), str(tmp_path / "staff.csv"), str(most))
    assert peak < 1024 ** 3
    assert time.monotonic() - started < 600


# -- mutated fixtures ---------------------------------------------------------------------------
def _fixture_members() -> list[Path]:
    root = Path(__file__).parent / "fixtures" / "exports"
    return sorted(p for p in root.rglob("*") if p.is_file())


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(member=st.sampled_from(_fixture_members()), data=st.data())
def test_mutated_fixtures_never_raise_anything_but_a_clear_error(tmp_path, member, data):
    """Any fixture list with bytes flipped, cut, or repeated: rows or one clear error, never a
    traceback, read as a loose file and inside a zip under its own path."""
    original = bytearray(member.read_bytes())
    how = data.draw(st.sampled_from(["flip", "cut", "splice"]))
    if how == "flip" and original:
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(original) - 1))
            original[at] = data.draw(st.integers(0, 255))
    elif how == "cut":
        original = original[: data.draw(st.integers(0, len(original)))]
    else:
        at = data.draw(st.integers(0, len(original)))
        original = original[:at] + original[at:at + 40] * data.draw(st.integers(2, 5)) + original[at:]
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    loose = folder / member.name
    loose.write_bytes(bytes(original))
    relative = member.relative_to(Path(__file__).parent / "fixtures" / "exports").parts[2:]
    archive = make_zip(folder / "export.zip", {"/".join(relative): bytes(original)})
    for path in (loose, archive):
        try:
            parse_export(path)
        except AuditorError as exc:
            assert str(exc) and "\n" not in str(exc).strip()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folder=st.sampled_from(sorted({p.parent for p in _fixture_members()})), data=st.data())
def test_damaged_zips_never_raise_anything_but_a_clear_error(tmp_path, folder, data):
    """A fixture export zipped, then with bytes of the zip itself overwritten (headers, offsets,
    compressed data): rows or one clear error."""
    root = Path(__file__).parent / "fixtures" / "exports"
    layout = root.joinpath(*folder.relative_to(root).parts[:2])
    members = {p.relative_to(layout).as_posix(): p.read_bytes() for p in sorted(layout.rglob("*")) if p.is_file()}
    work = Path(tempfile.mkdtemp(dir=tmp_path))
    blob = bytearray(make_zip(work / "export.zip", members).read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    (work / "export.zip").write_bytes(bytes(blob))
    try:
        parse_export(work / "export.zip")
    except AuditorError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
