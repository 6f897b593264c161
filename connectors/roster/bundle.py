"""A bundle of roster CSV files (OneRoster, SDS), given as a folder or a zip, read through the
safe archive reader. Files are found by name wherever they sit (a zip often wraps them in a
folder); headings are matched case-insensitively because real bundles drift from the specs
(``birthdate`` for ``birthDate``, ``prefferedGivenName``)."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path, PurePosixPath

from auditor.archive import open_export
from auditor.connector import decode_text
from auditor.errors import InputError


def member_names(path: Path) -> dict[str, str]:
    """Lower-case file name → path inside the folder or zip, cheaply (for detection)."""
    names: dict[str, str] = {}
    if path.is_dir():
        for child in sorted(path.iterdir()):
            if child.is_file():
                names.setdefault(child.name.lower(), child.name)
            elif child.is_dir() and not child.is_symlink():
                for inner in sorted(child.iterdir()):
                    if inner.is_file():
                        names.setdefault(inner.name.lower(), f"{child.name}/{inner.name}")
        return names
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if not name.endswith("/"):
                        names.setdefault(PurePosixPath(name).name.lower(), name)
        except (zipfile.BadZipFile, OSError):
            return {}
    return names


def first_line(path: Path, member: str) -> str:
    """The heading row of one member (for detection)."""
    if path.is_dir():
        with open(path / member, "rb") as handle:
            return decode_text(handle.readline(65536))
    with zipfile.ZipFile(path) as zf, zf.open(member) as handle:
        return decode_text(handle.readline(65536))


class Table:
    """One CSV file of the bundle: rows as dicts keyed by our lower-case heading names."""

    def __init__(self, name: str, headings: list[str], rows: list[dict[str, str]]) -> None:
        self.name, self.headings, self.rows = name, headings, rows

    def has(self, column: str) -> bool:
        return column.lower() in self.headings


class Bundle:
    def __init__(self, path: Path) -> None:
        self.archive = open_export(path, str(path))
        self.label = path.name
        self.members = {}
        for member in self.archive.members:
            self.members.setdefault(member.name.lower(), member)

    @property
    def sha256(self) -> str:
        return self.archive.sha256

    def has(self, name: str) -> bool:
        return name.lower() in self.members

    def table(self, name: str, aliases: dict[str, list[str]] | None = None) -> Table | None:
        """Rows of ``name`` (None when absent); headings lower-cased, ``aliases`` folded onto ours."""
        member = self.members.get(name.lower())
        if member is None:
            return None
        text = decode_text(member.read())
        try:
            reader = csv.reader(io.StringIO(text, newline=""))
            raw_headings = next(reader, [])
            lookup = {}
            for h in raw_headings:
                key = h.strip().lstrip("\ufeff").lower()
                for ours, others in (aliases or {}).items():
                    if key in [o.lower() for o in others]:
                        key = ours.lower()
                lookup[h] = key
            headings = [lookup[h] for h in raw_headings]
            rows = []
            for values in reader:
                if not any(v.strip() for v in values):
                    rows.append({})
                    continue
                rows.append({headings[i]: values[i].strip() for i in range(min(len(values), len(headings)))})
        except csv.Error as exc:
            raise InputError(f"{self.label}: {member.path} is not a readable CSV ({exc})") from None
        return Table(member.path, headings, rows)


def split_ids(value: str | None) -> list[str]:
    """A OneRoster/SDS list cell (``a,b`` or ``"a, b"``) as ids."""
    return [v.strip() for v in (value or "").split(",") if v.strip()]
