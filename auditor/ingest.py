"""Importing staff exports: route archive members to connectors, read them, store the rows.

``parse_export`` is pure with respect to the database (the self-check uses it alone);
``store_export`` writes one parsed export inside the caller's transaction. An import commits
a few files at a time, each with its audit-log entry, so a refused file leaves the database
as it was and an interrupted import keeps every file of the batches it committed.
"""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor import auditlog
from auditor.archive import DEFAULT_LIMITS, Archive, Limits, Member, open_export
from auditor.connector import MAX_JSON_PARSE_BYTES, Context, ExportConnector, Handler, decode_text, parse_json_text
from auditor.db import Database, allocate_ids, insert_values, utcnow
from auditor.errors import AuditorError, InputError, NotFound
from auditor.gcpause import cyclic_gc_paused
from auditor.models import Account, ImportedFile, ImportRun, Person, StaffAccount
from auditor.models import Connection as ConnectionRow
from auditor.progress import NULL_PROGRESS, Progress
from auditor.records import ContactRecord, OwnerInfo, RowProblem
from auditor.registry import export_connectors
from auditor.text import storable, storable_text
from auditor.version import __version__

SNIFF_SUFFIXES = (".json", ".js", ".csv", ".vcf", ".html", ".htm", ".txt")
SNIFF_MAX_BYTES = 64 * 1024 * 1024
MAX_WARNINGS = 50
# Rows of one export held in memory before storing (about 1 KB each with their parse); far above
# any member of staff's lists, and keeps an import well under 1 GB.
MAX_EXPORT_ROWS = 250_000


@dataclass
class ParsedExport:
    label: str
    kind: str
    sha256: str
    records: list[ContactRecord] = field(default_factory=list)
    owners: list[OwnerInfo] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    layouts: list[str] = field(default_factory=list)
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    members: list[dict] = field(default_factory=list)


@dataclass
class FileResult:
    """One line of ``auditor import --json``."""

    path: str
    sha256: str | None = None
    platform: str | None = None
    layout: str | None = None
    rows: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)
    status: str = "imported"  # imported | unchanged | refused
    error: str | None = None
    staff_ref: str | None = None

    def as_json(self) -> dict:
        data = {
            "path": self.path, "sha256": self.sha256, "platform": self.platform,
            "layout": self.layout, "rows": self.rows, "skipped": self.skipped,
            "warnings": self.warnings, "status": self.status,
        }
        if self.staff_ref:
            data["staff_ref"] = self.staff_ref
        if self.error:
            data["error"] = self.error
        return data


def connectors() -> list[ExportConnector]:
    return [cls() for _, cls in export_connectors.items()]


@dataclass
class Routed:
    """A member, the connector and handler that read it, and its bytes when sniffing already
    read them (so a member is read, and charged to the archive's read budget, once)."""

    member: Member
    connector: ExportConnector
    handler: Handler
    data: bytes | None = None

    def read(self) -> bytes:
        if self.data is None:
            return self.member.read()
        data, self.data = self.data, None
        return data


def _route(archive: Archive, available: list[ExportConnector]) -> tuple[list[Routed], list[str], int]:
    """Decide which handler reads each member: by path first, by content for the rest.

    Returns the routed members, the paths nobody knows (reported to the user, never silently
    dropped) and how many members were known and deliberately not read (media, settings).
    """
    routed: list[Routed] = []
    unknown: list[str] = []
    ignored = 0
    for member in archive.members:
        choice = None
        for connector in available:
            handler = connector.handler_for(member.path)
            if handler is not None:
                choice = Routed(member, connector, handler)
                break
        if choice is None and any(c.is_ignored(member.path) for c in available):
            ignored += 1
            continue
        if choice is None and (archive.kind == "file" or (
            member.path.lower().endswith(SNIFF_SUFFIXES) and member.size <= SNIFF_MAX_BYTES
        )):
            data = member.read()
            for connector in available:
                handler = connector.sniff(data)
                if handler is not None:
                    choice = Routed(member, connector, handler, data)
                    break
        if choice is None:
            unknown.append(member.path)
        else:
            routed.append(choice)
    # Twins (the JSON and the HTML of one list): keep only the preferred one present.
    best: dict[tuple[str, str], int] = {}
    for r in routed:
        if r.handler.group:
            key = (r.connector.platform, r.handler.group)
            best[key] = max(best.get(key, r.handler.priority), r.handler.priority)
    routed = [
        r for r in routed
        if not r.handler.group or r.handler.priority == best[(r.connector.platform, r.handler.group)]
    ]
    return routed, unknown, ignored


def merge_mutual(records: list[ContactRecord]) -> list[ContactRecord]:
    """One follow-back recorded as a single event becomes one ``mutual`` connection.

    TikTok and Instagram list a mutual follow in both the followers and the following list.
    When both entries name the same account at the same second, the platform recorded one
    event and we keep one row of kind ``mutual``; entries with different times are two
    separate events (they followed, later we followed back) and stay two rows.
    """
    index: dict[tuple, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        if rec.kind in ("follower", "following") and rec.connected_at is not None:
            ident = (rec.platform, rec.platform_id, rec.username, rec.display_name, rec.connected_at)
            index[ident].append(i)
    drop: set[int] = set()
    for positions in index.values():
        followers = [i for i in positions if records[i].kind == "follower" and i not in drop]
        following = [i for i in positions if records[i].kind == "following" and i not in drop]
        for a, b in zip(followers, following, strict=False):
            records[a].kind = "mutual"
            drop.add(b)
    return [r for i, r in enumerate(records) if i not in drop] if drop else records


def _explain_unreadable(archive: Archive) -> None:
    """A loose file nobody recognised: when it is JSON that cannot be parsed (truncated,
    absurdly nested), say that rather than "not an export"."""
    data = archive.members[0].read()
    if len(data) > MAX_JSON_PARSE_BYTES:
        return
    head = data[:64].lstrip(b"\xef\xbb\xbf \r\n\t")[:1]
    if head in (b"{", b"[") or data.lstrip()[:7] == b"window.":
        text = decode_text(data)
        if head not in (b"{", b"["):
            text = text.split("=", 1)[-1]
        parse_json_text(text, f"{archive.label}")


_BLANK = b"\xef\xbb\xbf \r\n\t\0"


def _blank(data: bytes) -> bool:
    """True for a member holding nothing but whitespace (an empty list file)."""
    return not data[:4096].strip(_BLANK) and not data.strip(_BLANK)


def parse_export(path: Path, label: str | None = None, limits: Limits = DEFAULT_LIMITS) -> ParsedExport:
    """Read an export (zip, folder or loose file) into records, without touching a database.

    A member that cannot be read refuses the whole export (one clear error, nothing stored);
    a bad entry inside a member is skipped and counted, never fatal.
    """
    archive = open_export(path, label, limits)
    parsed = ParsedExport(label=archive.label, kind=archive.kind, sha256=archive.sha256,
                          warnings=list(archive.warnings))
    routed, unknown, ignored = _route(archive, connectors())
    if not routed:
        if ignored and not unknown:
            parsed.warnings.append(
                f"holds no lists of people ({ignored} media or settings file(s) known and not needed)")
            return parsed
        if archive.kind == "file":
            _explain_unreadable(archive)
        names = ", ".join(unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        raise InputError(
            f"{archive.label}: not an export auditor can read (found {names or 'nothing'})",
            hint="'auditor connectors' lists the platforms and layouts it reads",
        )
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        parsed.warnings.append(f"{len(unknown)} member(s) not recognised and not read: {shown}")
    for route in routed:
        member, connector, handler = route.member, route.connector, route.handler
        data = route.read()
        digest = hashlib.sha256(data).hexdigest()
        ctx = Context(platform=connector.platform, layout=handler.layout, member=member.path, label=archive.label)
        rows, first = 0, len(parsed.records)
        if _blank(data):
            parsed.warnings.append(f"{member.path}: empty; no entries")
            parsed.members.append({"member": member.path, "sha256": digest, "layout": handler.layout, "rows": 0})
            continue
        try:
            for item in handler.read(data, ctx):
                if isinstance(item, ContactRecord):
                    item.member = item.member or member.path
                    item.layout = item.layout or handler.layout
                    parsed.records.append(item)
                    rows += 1
                    if len(parsed.records) > MAX_EXPORT_ROWS:
                        raise InputError(
                            f"{archive.label}: more than {MAX_EXPORT_ROWS:,} entries, more than a personal export holds;"
                            " refused to keep memory bounded")
                elif isinstance(item, OwnerInfo):
                    parsed.owners.append(item)
                elif isinstance(item, RowProblem):
                    parsed.skipped += 1
                    ctx.warnings.append(str(item))
        except AuditorError:
            raise
        except RecursionError:
            raise InputError(f"{archive.label}: {member.path} is nested too deeply to be an export") from None
        except MemoryError:
            raise InputError(f"{archive.label}: {member.path} is too large to read") from None
        except (ValueError, TypeError, KeyError, AttributeError, IndexError, csv.Error) as exc:
            raise InputError(
                f"{archive.label}: {member.path} does not have the layout expected for {handler.layout}"
                f" ({type(exc).__name__})"
            ) from None
        del data
        parsed.warnings.extend(ctx.warnings)
        found = parsed.records[first:]
        layouts = list(dict.fromkeys(r.layout for r in found if r.layout))
        platforms = list(dict.fromkeys(r.platform for r in found)) or [connector.platform]
        parsed.members.append({"member": member.path, "sha256": digest, "layout": ",".join(layouts) or handler.layout,
                               "rows": rows})
        if handler.people or rows:
            for platform in platforms:
                if platform not in parsed.platforms:
                    parsed.platforms.append(platform)
            for layout in layouts:
                if layout not in parsed.layouts:
                    parsed.layouts.append(layout)
    if not parsed.platforms:  # only owner or settings members: still say whose export it is
        parsed.platforms = list(dict.fromkeys(r.connector.platform for r in routed))
    if not parsed.layouts:  # nothing listed anyone: name the layouts of the members read
        parsed.layouts = list(dict.fromkeys(m["layout"] for m in parsed.members))
    parsed.records = merge_mutual(parsed.records)
    for item in (*parsed.records, *parsed.owners):
        _make_storable(item)
    parsed.warnings = storable(parsed.warnings)
    if len(parsed.warnings) > MAX_WARNINGS:
        extra = len(parsed.warnings) - MAX_WARNINGS
        parsed.warnings = parsed.warnings[:MAX_WARNINGS] + [f"... and {extra} more warnings"]
    return parsed


_TEXT_FIELDS = {
    ContactRecord: ("display_name", "display_name_raw", "username", "profile_url", "platform_id", "member", "layout"),
    OwnerInfo: ("name", "username", "platform_id"),
}


def _make_storable(item: ContactRecord | OwnerInfo) -> None:
    names = _TEXT_FIELDS[type(item)]
    if isinstance(item, ContactRecord) and not item.extra:
        # Nearly every record is clean: one search over all its text (the separator is
        # itself storable) instead of one per field.
        values = [v for v in (getattr(item, n) for n in names) if v is not None]
        values += item.phones or ()
        values += item.emails or ()
        if all(isinstance(v, str) for v in values) and storable_text("\x1f".join(values)):
            return
    for name in names:
        value = getattr(item, name)
        if value is not None:
            setattr(item, name, storable(value))
    if isinstance(item, ContactRecord):
        if item.phones:
            item.phones = storable(item.phones)
        if item.emails:
            item.emails = storable(item.emails)
        if item.extra:
            item.extra = storable(item.extra)


def account_key(rec: ContactRecord) -> str:
    """A digest of everything the export says about the account (see ``Account``)."""
    body = "\x1f".join([rec.platform_id or "\x00", rec.username or "\x00", rec.display_name or "\x00",
                        "\x1e".join(sorted(rec.phones)), "\x1e".join(sorted(rec.emails))])
    return hashlib.blake2b(body.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def staff_person_id(conn: Connection, staff_ref: str) -> int:
    table = Person.__table__
    row = conn.execute(
        sa.select(table.c.id).where(table.c.ref == staff_ref, table.c.kind == "staff")
    ).first()
    if row is None:
        raise NotFound(f"staff {staff_ref!r} is not on the staff list", hint="import the roster's staff.csv first")
    return row[0]


_ACCOUNT_COLUMNS = ["id", "platform", "key", "username", "display_name_raw", "display_name", "profile_url",
                    "platform_id", "phones", "emails", "purged"]


def _known_accounts(conn: Connection, platform: str, keys: list[str]):
    """(id, key) of the accounts already held among ``keys`` on one platform. Straight to the
    driver: the import asks this for every file, and building the statement through SQLAlchemy
    cost more than the database's index lookups."""
    quote = conn.dialect.identifier_preparer.quote
    head = f"SELECT id, {quote('key')} FROM {quote(Account.__table__.name)} WHERE platform = "
    if conn.dialect.name == "postgresql":
        return conn.exec_driver_sql(head + "%s AND " + quote("key") + " = ANY(%s)", (platform, keys)).all()
    found = []
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        sql = head + "? AND " + quote("key") + f" IN ({', '.join('?' * len(chunk))})"
        found += conn.exec_driver_sql(sql, (platform, *chunk)).all()
    return found


def _upsert_accounts(conn: Connection, records: Sequence[ContactRecord]) -> list[int]:
    table = Account.__table__
    keys = [(r.platform, account_key(r)) for r in records]
    wanted: dict[tuple[str, str], ContactRecord] = {}
    for k, r in zip(keys, records, strict=True):
        wanted.setdefault(k, r)
    ids: dict[tuple[str, str], int] = {}
    by_platform: dict[str, list[str]] = defaultdict(list)
    for platform, key in wanted:
        by_platform[platform].append(key)
    for platform, platform_keys in by_platform.items():
        for account_id, key in _known_accounts(conn, platform, platform_keys):
            ids[(platform, key)] = account_id
    missing = [k for k in wanted if k not in ids]
    if missing:
        new_ids = allocate_ids(conn, table, len(missing))
        insert_values(conn, table, _ACCOUNT_COLUMNS, [
            (new_id, k[0], k[1], r.username, r.display_name_raw, r.display_name, r.profile_url, r.platform_id,
             r.phones or [], r.emails or [], False)
            for k, new_id in zip(missing, new_ids, strict=True) for r in (wanted[k],)
        ])
        ids.update(zip(missing, new_ids, strict=True))
    return [ids[k] for k in keys]


_CONNECTION_COLUMNS = ["file_id", "staff_id", "account_id", "kind", "direction", "connected_at", "member", "layout",
                       "extra"]


def store_export(conn: Connection, run_id: int, staff_id: int, parsed: ParsedExport, path_label: str) -> int:
    """Write one parsed export (inside the caller's transaction); returns the file id."""
    files = ImportedFile.__table__
    owner = parsed.owners[0] if parsed.owners else None
    result = conn.execute(files.insert().values(
        run_id=run_id, staff_id=staff_id, kind="export", path=storable(path_label), sha256=parsed.sha256,
        platform=",".join(parsed.platforms), layout=",".join(parsed.layouts),
        rows=len(parsed.records), skipped=parsed.skipped, warnings=parsed.warnings,
        members=parsed.members,
        owner=({"platform": owner.platform, "name": owner.name, "username": owner.username,
                "platform_id": owner.platform_id} if owner else None),
        exported_at=owner.exported_at if owner else None, imported_at=utcnow(),
    ))
    file_id = result.inserted_primary_key[0]
    if parsed.records:
        account_ids = _upsert_accounts(conn, parsed.records)
        insert_values(conn, ConnectionRow.__table__, _CONNECTION_COLUMNS, [
            (file_id, staff_id, account_id, rec.kind, rec.direction, rec.connected_at, rec.member, rec.layout, rec.extra)
            for rec, account_id in zip(parsed.records, account_ids, strict=True)
        ])
    for info in parsed.owners:
        conn.execute(StaffAccount.__table__.insert().values(
            staff_id=staff_id, platform=info.platform, username=info.username,
            display_name=info.name, platform_id=info.platform_id, source="export_owner", file_id=file_id,
        ))
    return file_id


def begin_run(db: Database, kind: str) -> int:
    with db.begin() as conn:
        return conn.execute(ImportRun.__table__.insert().values(
            kind=kind, started_at=utcnow(), status="running", tool_version=__version__,
            actor=auditlog.current_actor(),
        )).inserted_primary_key[0]


def finish_run(db: Database, run_id: int, status: str, summary: dict) -> None:
    with db.begin() as conn:
        conn.execute(ImportRun.__table__.update().where(ImportRun.__table__.c.id == run_id).values(
            finished_at=utcnow(), status=status, summary=summary))


def _imported_member_hashes(conn: Connection, staff_id: int) -> frozenset[str]:
    files = ImportedFile.__table__
    hashes: set[str] = set()
    for (members,) in conn.execute(sa.select(files.c.members).where(files.c.staff_id == staff_id, files.c.kind == "export")):
        for m in members or []:
            if m.get("sha256") and m.get("rows"):
                hashes.add(m["sha256"])
    return frozenset(hashes)


def _parse_job(job: tuple[Path, str, Limits]) -> ParsedExport | AuditorError:
    """Parse one file, returning a refusal instead of raising it (runs in worker processes)."""
    path, label, limits = job
    try:
        return parse_export(path, label, limits)
    except AuditorError as exc:
        return exc


def _die_with_parent(parent: int | None = None) -> None:
    """Worker initialiser: a parser process must not outlive an import that was killed.
    ``parent`` is the pid of the process that started the pool: if it died before the signal
    was armed (a kill just after the fork), the worker has been re-parented already and goes."""
    gc.enable()  # forked from a process that paused it (auditor.gcpause): parsers may make cycles
    parent = parent or os.getppid()
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (Linux)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _parsed_in_order(jobs: list[tuple[Path, str, Limits]]):
    """Parse files in worker processes while the caller stores them, in the order given.

    Parsing is most of an import's work and needs no database, so with two or more cores the
    files are parsed ahead (a few at a time, to bound memory) by a process pool."""
    workers = min(4, os.cpu_count() or 1)
    if len(jobs) < 8 or workers < 2:
        for job in jobs:
            yield _parse_job(job)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        window = workers * 3
        pending = [pool.submit(_parse_job, job) for job in jobs[:window]]
        for index in range(len(jobs)):
            result = pending[index].result()
            pending[index] = None  # let the parsed export go once it is stored
            if index + window < len(jobs):
                pending.append(pool.submit(_parse_job, jobs[index + window]))
            yield result


def _drop_members_already_imported(parsed: ParsedExport, known: frozenset[str]) -> ParsedExport:
    """Split downloads repeat a list in several parts: a member with the same content as one
    already imported for this member of staff is not imported twice. Returns the export to
    store (a copy when something is dropped: a batch that is rolled back stores it again)."""
    repeated = {m["member"] for m in parsed.members if m.get("sha256") in known and m.get("rows")}
    if not repeated:
        return parsed
    return replace(parsed, records=[r for r in parsed.records if r.member not in repeated],
                   warnings=parsed.warnings + [f"{member}: already imported from another part; skipped"
                                               for member in sorted(repeated)])


def _result_for(staff_ref: str, parsed: ParsedExport | AuditorError, label: str) -> FileResult:
    result = FileResult(path=label, staff_ref=staff_ref)
    if isinstance(parsed, AuditorError):
        result.status, result.error = "refused", str(parsed)
    else:
        result.sha256 = parsed.sha256
        result.platform = ",".join(parsed.platforms) or None
        result.layout = ",".join(parsed.layouts) or None
    return result


def _store_in(conn: Connection, run_id: int, staff_ref: str, parsed: ParsedExport | AuditorError,
              label: str) -> FileResult:
    """Store one parsed file inside the caller's transaction, with its audit-log entry (so the
    two commit together); a refusal found while storing raises."""
    result = _result_for(staff_ref, parsed, label)
    if isinstance(parsed, AuditorError):
        return result
    staff_id = staff_person_id(conn, staff_ref)
    files = ImportedFile.__table__
    existing = conn.execute(sa.select(files.c.rows, files.c.skipped).where(
        files.c.staff_id == staff_id, files.c.sha256 == parsed.sha256, files.c.kind == "export")).first()
    if existing is not None:
        result.status = "unchanged"
        result.rows, result.skipped = existing.rows, existing.skipped
        result.warnings = ["already imported (same sha256); nothing changed"]
        return result
    parsed = _drop_members_already_imported(parsed, _imported_member_hashes(conn, staff_id))
    store_export(conn, run_id, staff_id, parsed, label)
    auditlog.append(conn, "import", subject=staff_ref, details={
        "sha256": parsed.sha256, "platform": result.platform, "rows": len(parsed.records)})
    result.rows, result.skipped, result.warnings = len(parsed.records), parsed.skipped, parsed.warnings
    return result


def store_one(db: Database, run_id: int, staff_ref: str, parsed: ParsedExport | AuditorError,
              label: str) -> FileResult:
    """Store one parsed file for one member of staff in its own transaction; refusals come
    back as a result."""
    try:
        with db.begin() as conn:
            return _store_in(conn, run_id, staff_ref, parsed, label)
    except AuditorError as exc:
        if isinstance(exc, NotFound):
            raise
        result = _result_for(staff_ref, parsed, label)
        result.status, result.error = "refused", str(exc)
        return result


# A transaction holds several files (each with its audit-log entry), committed together: one
# commit per file rewrote the same index pages in the write-ahead log file after file. An
# interrupted import loses only the files of the open batch, which the next run imports.
BATCH_ROWS = 20_000
BATCH_FILES = 64
BATCH_SECONDS = 2.0


def _store_batches(db: Database, run_id: int, parsed_items, progress: Progress) -> list[FileResult]:
    """Store (staff_ref, parsed, label) items in order, several per transaction. If storing
    one refuses it, the open batch is rolled back and its files stored one per transaction,
    so the refusal (or a member of staff not on the list) ends exactly as it would alone."""
    import time

    results: list[FileResult] = []
    with db.engine.connect() as conn:
        batch: list[tuple[str, ParsedExport | AuditorError, str]] = []
        done = 0  # results of committed batches
        transaction, started, rows = conn.begin(), time.monotonic(), 0
        try:
            for item in parsed_items:
                batch.append(item)
                try:
                    result = _store_in(conn, run_id, *item)
                except AuditorError:
                    transaction.rollback()
                    del results[done:]
                    for again in batch:
                        results.append(store_one(db, run_id, *again))
                    progress.advance()
                    batch, done = [], len(results)
                    transaction, started, rows = conn.begin(), time.monotonic(), 0
                    continue
                results.append(result)
                progress.advance()
                rows += result.rows
                if rows >= BATCH_ROWS or len(batch) >= BATCH_FILES or time.monotonic() - started >= BATCH_SECONDS:
                    transaction.commit()
                    batch, done = [], len(results)
                    transaction, started, rows = conn.begin(), time.monotonic(), 0
            transaction.commit()
        finally:
            if transaction.is_active:
                transaction.rollback()
    return results


def _import_all(db: Database, items: list[tuple[str, Path, str]], progress: Progress, limits: Limits) -> list[FileResult]:
    with cyclic_gc_paused():
        return _import_all_paused(db, items, progress, limits)


def _import_all_paused(db: Database, items: list[tuple[str, Path, str]], progress: Progress,
                       limits: Limits) -> list[FileResult]:
    run_id = begin_run(db, "export")
    progress.start("importing exports", len(items))
    jobs = [(path, label, limits) for _, path, label in items]
    parsed_items = ((staff_ref, parsed, label)
                    for (staff_ref, _path, label), parsed in zip(items, _parsed_in_order(jobs), strict=True))
    results = _store_batches(db, run_id, parsed_items, progress)
    progress.finish()
    finish_run(db, run_id, "done", _summary(results))
    return results


def import_files(db: Database, staff_ref: str, paths: Sequence[Path], progress: Progress = NULL_PROGRESS,
                 limits: Limits = DEFAULT_LIMITS) -> list[FileResult]:
    with db.begin() as conn:
        staff_person_id(conn, staff_ref)
    return _import_all(db, [(staff_ref, Path(p), str(p)) for p in paths], progress, limits)


def read_manifest(manifest: Path) -> list[tuple[str, Path, str]]:
    """(staff_ref, absolute path, path as written) for each manifest row."""
    try:
        text = decode_text(manifest.read_bytes())
    except OSError as exc:
        raise InputError(f"{manifest}: cannot read ({exc.strerror or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "staff_ref" not in fields or "path" not in fields:
        raise InputError(f"{manifest}: a manifest needs the columns staff_ref,path")
    rows = []
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        if not row.get("staff_ref") and not row.get("path"):
            continue
        if not row.get("staff_ref") or not row.get("path"):
            raise InputError(f"{manifest}: row {number} needs both staff_ref and path")
        rows.append((row["staff_ref"], (manifest.parent / row["path"]).resolve(), row["path"]))
    return rows


def import_manifest(db: Database, manifest: Path, progress: Progress = NULL_PROGRESS,
                    limits: Limits = DEFAULT_LIMITS) -> list[FileResult]:
    rows = read_manifest(manifest)
    with db.begin() as conn:
        missing = sorted({ref for ref, _, _ in rows if not _staff_exists(conn, ref)})
    if missing:
        shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        raise NotFound(f"{manifest}: {len(missing)} staff_ref(s) not on the staff list: {shown}")
    return _import_all(db, rows, progress, limits)


def _staff_exists(conn: Connection, staff_ref: str) -> bool:
    try:
        staff_person_id(conn, staff_ref)
    except NotFound:
        return False
    return True


def _summary(results: list[FileResult]) -> dict:
    return {
        "files": len(results), "rows": sum(r.rows for r in results if r.status == "imported"),
        "refused": sum(r.status == "refused" for r in results),
        "unchanged": sum(r.status == "unchanged" for r in results),
    }


def resolve_platform_ids(db: Database, platform: str, handles: dict[str, str], profile_url: str) -> int:
    """Fill the username (and profile URL) of stored accounts known only by a platform id, from
    an id → handle map (X archives name accounts by id only). ``profile_url`` is a format string
    with ``{handle}``. Returns how many accounts changed; one transaction, so a failure changes
    nothing. Accounts keep their key, so re-importing the archive finds the resolved account;
    they are matched again at the next audit, now that they have a name to match."""
    table = Account.__table__
    ids = sorted(handles)
    changed = 0
    with db.begin() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = conn.execute(sa.select(table.c.id, table.c.platform_id, table.c.username).where(
                table.c.platform == platform, table.c.platform_id.in_(chunk))).all()
            for row in rows:
                handle = handles[row.platform_id]
                if row.username == handle:
                    continue
                conn.execute(table.update().where(table.c.id == row.id).values(
                    username=handle, profile_url=profile_url.format(handle=handle), matched_state=None))
                changed += 1
        if changed:
            auditlog.append(conn, "resolve", subject=platform, details={"accounts": changed, "map_rows": len(handles)})
    return changed
