"""Reading exports safely: a zip, a folder or a loose file, as a list of members.

Members are read in place (never extracted). Archives with absolute or parent-relative names,
encryption, too many members, or members that inflate beyond the caps are refused whole;
symbolic links inside folders are skipped. Every read is bounded, whatever the headers claim.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from auditor.errors import ArchiveRefused, InputError

MiB = 1024 * 1024
AES_METHOD = 99  # WinZip AES encryption, announced as a compression method


@dataclass(frozen=True)
class Limits:
    max_members: int = 250_000
    max_member_bytes: int = 256 * MiB  # any single member we read
    max_total_bytes: int = 1024 * MiB  # all members read from one archive
    max_ratio: float = 200.0  # uncompressed / compressed, for members over 1 MiB


DEFAULT_LIMITS = Limits()


@dataclass
class Member:
    """One file inside an export. ``path`` uses forward slashes, relative to the archive."""

    path: str
    size: int
    _reader: Callable[[int], bytes] = field(repr=False)

    def read(self) -> bytes:
        return self._reader(self.size)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


@dataclass
class Archive:
    """What the user gave: its label (as given), its sha256, and its members."""

    label: str
    kind: str  # zip | folder | file
    sha256: str
    members: list[Member]
    warnings: list[str] = field(default_factory=list)
    _budget: list[int] = field(default_factory=lambda: [0], repr=False)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(MiB), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_name(name: str, label: str) -> str:
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise ArchiveRefused(f"{label}: refused, member with an absolute path")
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveRefused(f"{label}: refused, member name climbs out of the archive (..)")
    return "/".join(parts)


def _bounded(read_chunk: Callable[[int], bytes], limit: int, label: str, member: str) -> bytes:
    chunks, total = [], 0
    while True:
        chunk = read_chunk(MiB)
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise ArchiveRefused(f"{label}: refused, {member} inflates beyond {limit // MiB} MiB")
        chunks.append(chunk)
    return b"".join(chunks)


def open_zip(path: Path, label: str, limits: Limits = DEFAULT_LIMITS) -> Archive:
    try:
        zf = zipfile.ZipFile(path)
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, struct.error, NotImplementedError):
        raise InputError(f"{label}: not a readable zip archive (damaged or truncated)") from None
    except OSError as exc:
        raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if len(infos) > limits.max_members:
        raise ArchiveRefused(f"{label}: refused, more than {limits.max_members} members")
    files = [i for i in infos if not i.is_dir()]
    if not files:
        raise InputError(f"{label}: the archive is empty")
    if any(i.flag_bits & 0x1 or i.compress_type == AES_METHOD for i in files):
        raise ArchiveRefused(
            f"{label}: refused, the zip is password-protected; download the export again without a password"
        )
    archive = Archive(label=label, kind="zip", sha256=sha256_file(path), members=[])
    budget = archive._budget

    def reader_for(info: zipfile.ZipInfo, member_path: str) -> Callable[[int], bytes]:
        def read(_size: int) -> bytes:
            if info.file_size > limits.max_member_bytes:
                raise ArchiveRefused(
                    f"{label}: refused, {member_path} is larger than {limits.max_member_bytes // MiB} MiB"
                )
            if info.file_size > MiB and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise ArchiveRefused(f"{label}: refused, {member_path} has a zip-bomb compression ratio")
            remaining = limits.max_total_bytes - budget[0]
            try:
                with zf.open(info) as handle:
                    data = _bounded(handle.read, min(limits.max_member_bytes, remaining), label, member_path)
            except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error, ValueError, struct.error,
                    OSError) as exc:  # OSError: a header pointing before the start of the file
                raise InputError(f"{label}: {member_path} is damaged ({type(exc).__name__})") from None
            except NotImplementedError:
                raise InputError(f"{label}: {member_path} uses an unsupported compression method") from None
            except RuntimeError as exc:  # encrypted member without the flag set
                raise ArchiveRefused(f"{label}: refused, {member_path}: {exc}") from None
            budget[0] += len(data)
            return data

        return read

    for info in files:
        member_path = _check_name(info.filename, label)
        if not member_path:
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            archive.warnings.append(f"skipped symbolic link {member_path}")
            continue
        archive.members.append(Member(member_path, info.file_size, reader_for(info, member_path)))
    return archive


def open_folder(path: Path, label: str, limits: Limits = DEFAULT_LIMITS) -> Archive:
    entries: list[tuple[str, Path, int]] = []
    warnings: list[str] = []
    for root, dirs, names in os.walk(path, followlinks=False):
        root_path = Path(root)
        for d in list(dirs):
            if (root_path / d).is_symlink():
                warnings.append(f"skipped symbolic link {(root_path / d).relative_to(path).as_posix()}")
                dirs.remove(d)
        for name in names:
            full = root_path / name
            info = full.lstat()
            rel = full.relative_to(path).as_posix()
            if stat.S_ISLNK(info.st_mode):
                warnings.append(f"skipped symbolic link {rel}")
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            entries.append((rel, full, info.st_size))
            if len(entries) > limits.max_members:
                raise ArchiveRefused(f"{label}: refused, more than {limits.max_members} files")
    if not entries:
        raise InputError(f"{label}: the folder holds no files")
    entries.sort()
    digest = hashlib.sha256()
    members = []
    archive = Archive(label=label, kind="folder", sha256="", members=members, warnings=warnings)
    budget = archive._budget
    for rel, full, size in entries:
        digest.update(rel.encode() + b"\0" + sha256_file(full).encode() + b"\n")

        def read(_size: int, full: Path = full, rel: str = rel) -> bytes:
            limit = min(limits.max_member_bytes, limits.max_total_bytes - budget[0])
            with open(full, "rb") as handle:
                data = _bounded(handle.read, limit, label, rel)
            budget[0] += len(data)
            return data

        members.append(Member(rel, size, read))
    archive.sha256 = digest.hexdigest()
    return archive


def open_file(path: Path, label: str, limits: Limits = DEFAULT_LIMITS) -> Archive:
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{label}: the file is empty")

    def read(_size: int) -> bytes:
        with open(path, "rb") as handle:
            return _bounded(handle.read, limits.max_member_bytes, label, path.name)

    return Archive(label=label, kind="file", sha256=sha256_file(path), members=[Member(path.name, size, read)])


def open_export(path: Path, label: str | None = None, limits: Limits = DEFAULT_LIMITS) -> Archive:
    """Open whatever the user gave: a zip, a folder, or a loose file."""
    label = label or str(path)
    if path.is_symlink() and not path.exists():
        raise InputError(f"{label}: broken symbolic link")
    if not path.exists():
        raise InputError(f"{label}: no such file or folder")
    if path.is_dir():
        return open_folder(path, label, limits)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as exc:
        raise InputError(f"{label}: cannot read ({exc.strerror or exc})") from None
    if magic[:2] == b"PK":
        return open_zip(path, label, limits)
    return open_file(path, label, limits)
