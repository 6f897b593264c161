"""The command line: a thin layer over the library. It parses options, calls the core, prints
results, and turns domain errors into one line and a non-zero exit (never a traceback)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import click

from auditor.errors import AuditorError

EPILOG_DB = "The database is --db, else AUDITOR_DB, else [database] url in the config, else ./auditor.db."


@dataclass
class State:
    db_option: str | None
    config_option: str | None
    quiet: bool
    _config: object | None = None
    _opened: list = field(default_factory=list)

    @property
    def config(self):
        if self._config is None:
            from auditor.config import load_config

            self._config = load_config(self.config_option)
        return self._config

    def db_url(self) -> str | None:
        return self.db_option or os.environ.get("AUDITOR_DB") or self.config.database

    def database(self, check: bool = True, encrypt: bool = False):
        from auditor.db import Database

        db = Database(self.db_url(), passphrase=self.passphrase(encrypt), encrypt=encrypt)
        self._opened.append(db)
        if check:
            db.check()
        return db

    def close(self) -> None:
        """Close every connection: SQLite folds its write-ahead log back into the database file."""
        for db in self._opened:
            db.dispose()
        self._opened.clear()

    def passphrase(self, new: bool = False) -> str | None:
        """AUDITOR_PASSPHRASE, else asked for (hidden) when the database is encrypted, or is to be,
        and a terminal is attached; else None (the core then says what is missing)."""
        from auditor import crypto
        from auditor.db import resolve_url

        found = crypto.passphrase_from_env()
        if found or not sys.stdin.isatty():
            return found
        url = resolve_url(self.db_url())
        path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
        if new or crypto.is_encrypted(path):
            return click.prompt("new passphrase" if new else "passphrase", hide_input=True,
                                confirmation_prompt=new, err=True)
        return None

    def progress(self):
        from auditor.progress import NULL_PROGRESS

        if self.quiet or not sys.stderr.isatty():
            return NULL_PROGRESS
        return RichProgress()


class RichProgress:
    """A rich progress bar on stderr (only when stderr is a terminal and --quiet is off)."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._task = None

    def start(self, label: str, total: int | None = None) -> None:
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, amount: int = 1) -> None:
        if self._task is not None:
            self._progress.advance(self._task, amount)

    def finish(self) -> None:
        self._progress.stop()
        self._task = None


class AuditorGroup(click.Group):
    """Turns our errors into one clear line; anything unexpected into one line too."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AuditorError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("interrupted; the database keeps only what was complete", err=True)
            sys.exit(130)
        except BrokenPipeError:  # output piped into head, less ...: stop quietly
            try:
                sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
            except OSError:
                pass
            sys.exit(0)
        except MemoryError:
            click.echo("error: out of memory", err=True)
            sys.exit(70)
        except Exception as exc:
            if os.environ.get("AUDITOR_DEBUG"):
                raise
            click.echo(f"error: internal error ({type(exc).__name__}); rerun with AUDITOR_DEBUG=1 "
                       "for details and report it", err=True)
            sys.exit(70)


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=1, ensure_ascii=False, default=str))


@click.group(cls=AuditorGroup, epilog=EPILOG_DB)
@click.option("--db", "db_option", metavar="PATH|URL", help="Database: a file path (SQLite) or a PostgreSQL URL.")
@click.option("--config", "config_option", metavar="FILE", help="Config file (TOML).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars.")
@click.version_option(package_name="auditor")
@click.pass_context
def main(ctx: click.Context, db_option: str | None, config_option: str | None, quiet: bool) -> None:
    """Audit staff social-media connections against the school's roster and policy.

    \b
    Typical term:
      auditor init --policy luton
      auditor roster import roster/
      auditor exemptions import exemptions.csv
      auditor import --manifest exports/manifest.csv
      auditor audit --format html --out report.html
    """
    ctx.obj = State(db_option, config_option, quiet)
    ctx.call_on_close(ctx.obj.close)


@main.command()
@click.option("--policy", default="default", show_default=True,
              help="Policy preset: luton, milton-keynes, bedford, hardmoor, hertfordshire or default "
                   "(a config file's [policy] can change it).")
@click.option("--encrypt", is_flag=True,
              help="Create the database encrypted (SQLCipher), with a passphrase; reports written are encrypted too.")
@click.pass_obj
def init(state: State, policy: str, encrypt: bool) -> None:
    """Create (or bring up to date) the database and choose the school's policy.

    \b
    With --encrypt (SQLite only) the new database, and every report written from it, is
    encrypted with a key made from a passphrase (AUDITOR_PASSPHRASE, or asked for). The
    passphrase is never stored: without it nobody, including you, can read the data.
    \b
    Examples:
      auditor --db school.db init --policy luton
      AUDITOR_PASSPHRASE='four unrelated words here' auditor --db school.db init --encrypt
    """
    from auditor.setup import initialise

    db = state.database(check=False, encrypt=encrypt)
    result = initialise(db, policy, state.config)
    click.echo(f"database ready ({result['database']}); policy {result['policy']}"
               + (f"; applied {', '.join(result['migrations'])}" if result["migrations"] else "")
               + (f"; encrypted (SQLCipher, key from the passphrase by {db.keys.params['name']})" if db.keys else ""))


@main.group()
def roster() -> None:
    """The school's roster: pupils, past pupils, parents and carers, staff."""


@roster.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--strict", is_flag=True, help="Refuse the roster if any row has a problem.")
@click.option("--partial", is_flag=True,
              help="The files hold only some pupils: do not give a leaving date to pupils missing from them.")
@click.option("--json", "as_json", is_flag=True, help="Print the change summary as JSON.")
@click.pass_obj
def roster_import(state: State, paths: tuple[Path, ...], strict: bool, partial: bool, as_json: bool) -> None:
    """Import the roster from a canonical CSV folder, CTF XML, OneRoster or SDS CSV.

    \b
    People are updated in place; pupils on roll before and missing now are given a leaving
    date (past pupils, never deleted). Nothing is written if the roster cannot be read.
    \b
    Examples:
      auditor roster import roster/                    # pupils.csv, contacts.csv, staff.csv
      auditor roster import ctf/*.xml roster/staff.csv
      auditor roster import oneroster.zip staff.csv
      auditor roster import "Pupil List.csv"           # a MIS report; map headings in [roster.columns]
    """
    from auditor.roster import import_roster

    options = dict(state.config.roster)
    if partial:
        options["partial"] = True
    summary = import_roster(state.database(), list(paths), strict=strict, options=options)
    _echo_roster_summary(summary, as_json)


def _echo_roster_summary(summary, as_json: bool) -> None:
    if as_json:
        emit_json(summary.as_dict())
        return
    click.echo(f"roster: {summary.people} people, {summary.links} contact links; joined {summary.joined}, "
               f"left {summary.left}, changed {summary.changed}, unchanged {summary.unchanged}"
               + (f", not in this import {summary.absent} (kept)" if summary.absent else "")
               + (f"; {summary.unlinked_contacts} contacts now linked to no pupil" if summary.unlinked_contacts else ""))
    for issue in summary.issues[:20]:
        click.echo(f"  warning: {issue}", err=True)
    if len(summary.issues) > 20:
        click.echo(f"  ... and {len(summary.issues) - 20} more warnings (--json lists all)", err=True)


@roster.command("template")
@click.argument("folder", default="roster-template", type=click.Path(path_type=Path))
def roster_template(folder: Path) -> None:
    """Write an empty canonical roster folder with a README describing every column.

    \b
    Example:
      auditor roster template my-roster/
    """
    from auditor.connectors.roster.canonical import write_template

    written = write_template(folder)
    click.echo(f"wrote {len(written)} files to {folder}: " + ", ".join(p.name for p in written))


@roster.command("wonde")
@click.option("--school", "school_id", required=True, metavar="ID", help="The school's Wonde id.")
@click.option("--api-url", metavar="URL", help="Wonde API base (default https://api.wonde.com/v1.0/; a test or proxy server).")
@click.option("--strict", is_flag=True, help="Refuse the roster if any record has a problem.")
@click.option("--json", "as_json", is_flag=True, help="Print the change summary as JSON.")
@click.pass_obj
def roster_wonde(state: State, school_id: str, api_url: str | None, strict: bool, as_json: bool) -> None:
    """Import the roster from the Wonde API (uses the network): pupils with their contacts,
    leavers and staff.

    \b
    The token is read from AUDITOR_WONDE_TOKEN (or [wonde] token in the config); it is never
    printed or stored.
    \b
    Example:
      AUDITOR_WONDE_TOKEN=... auditor roster wonde --school A1234567890
    """
    from auditor.connectors.roster.wonde import fetch_roster, token_from
    from auditor.roster import consolidate, import_data

    db = state.database()
    wonde = dict(state.config.wonde)
    data = fetch_roster(school_id, token_from(wonde, os.environ), api_url or wonde.get("api_url"))
    summary = import_data(db, consolidate(data), strict=strict)
    _echo_roster_summary(summary, as_json)


@main.command("import")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--manifest", type=click.Path(path_type=Path), help="CSV with columns staff_ref,path.")
@click.option("--staff", "staff_ref", metavar="STAFF_REF", help="Whose exports FILES are.")
@click.option("--json", "as_json", is_flag=True, help="Print one result per file as JSON.")
@click.pass_obj
def import_(state: State, files: tuple[Path, ...], manifest: Path | None, staff_ref: str | None, as_json: bool) -> None:
    """Import staff exports: zips, folders or loose files, from any platform auditor reads.

    \b
    Examples:
      auditor import --manifest exports/manifest.csv
      auditor import --staff T0012 facebook-jsmith-2026.zip TikTok_Data_123.zip
    """
    from auditor.errors import InputError
    from auditor.ingest import import_files, import_manifest

    if bool(manifest) == bool(staff_ref):
        raise InputError("give either --manifest FILE or --staff STAFF_REF FILE...")
    if staff_ref and not files:
        raise InputError("--staff needs at least one FILE")
    if manifest and files:
        raise InputError("--manifest takes no FILE arguments")
    db = state.database()
    if manifest:
        results = import_manifest(db, manifest, progress=state.progress())
    else:
        results = import_files(db, staff_ref, list(files), progress=state.progress())
    if as_json:
        emit_json({"files": [r.as_json() for r in results]})
    else:
        for r in results:
            if r.status == "refused":
                click.echo(f"refused  {r.path}: {r.error}", err=True)
            else:
                click.echo(f"{r.status:9} {r.path}: {r.platform} ({r.layout}) {r.rows} rows"
                           + (f", {r.skipped} skipped" if r.skipped else ""))
    refused = [r for r in results if r.status == "refused"]
    if refused:
        if not as_json:
            click.echo(f"error: {len(refused)} of {len(results)} file(s) refused; the others were imported", err=True)
        sys.exit(2)


@main.command()
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Audit date (fixes ages); default today.")
@click.option("--policy", "policy_name", metavar="PRESET", help="Policy preset; default the one chosen at init.")
@click.option("--format", "fmt", default="json", show_default=True, help="json, csv, html (see 'auditor report --help').")
@click.option("--out", type=click.Path(path_type=Path), help="Write the report here (default: standard output).")
@click.option("--since", type=int, metavar="AUDIT", help="Compare with this audit instead of the previous one.")
@click.pass_obj
def audit(state: State, as_of: str | None, policy_name: str | None, fmt: str, out: Path | None, since: int | None) -> None:
    """Match contacts, apply the policy and report the forbidden connections.

    \b
    Examples:
      auditor audit --as-of 2026-11-01 --format json --out findings.json
      auditor audit --policy milton-keynes --format html --out report.html
    """
    from auditor.audit import run_audit
    from auditor.policy import resolve_policy
    from auditor.registry import report_writers
    from auditor.reporting import check_audit, generate_report

    if fmt not in report_writers:
        from auditor.errors import InputError

        raise InputError(f"--format {fmt!r} is not a report format (formats: {', '.join(report_writers.names())})")
    if fmt == "letters" and out is None:
        raise click.BadParameter("letters need a folder: --out DIR", param_hint="--out")
    db = state.database()
    when = _parse_date(as_of)
    if since is not None:
        check_audit(db, since)
    policy = resolve_policy(policy_name, state.config, db.get_setting("policy"))
    result = run_audit(db, when, policy, progress=state.progress(), since=since,
                       keep_unmatched=state.config.keep_unmatched)
    text = generate_report(db, fmt, out, audit_id=result.audit_id, result=result)
    if text is not None:
        click.echo(text, nl=False)
    s = result.summary
    sev = s.get("by_severity", {})
    click.echo(f"audit {result.audit_id} ({policy.name} {policy.version}, as of {when.isoformat()}): "
               f"{s['connections']} connections of {s['staff_with_exports']} staff; findings: "
               f"{sev.get('breach', 0)} breach, {sev.get('report', 0)} report, {sev.get('advisory', 0)} advisory"
               + (f"; wrote {_written(db, out, fmt)}" if out else ""), err=True)


def _written(db, out: Path, fmt: str) -> str:
    """The report's path as written: an encrypted workspace adds .enc (to each letter)."""
    if getattr(db, "keys", None) is None:
        return str(out)
    from auditor.crypto import encrypted_name

    return f"{out} (encrypted letters, *.enc)" if fmt == "letters" else f"{encrypted_name(out)} (encrypted)"


def _parse_date(value: str | None):
    from datetime import date

    from auditor.errors import InputError

    if not value:
        return date.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of {value!r} is not a date (YYYY-MM-DD)") from None


@main.group()
def exemptions() -> None:
    """The exemptions register (declared relatives, with approver and review date)."""


@exemptions.command("import")
@click.argument("file", type=click.Path(path_type=Path))
@click.pass_obj
def exemptions_import(state: State, file: Path) -> None:
    """Import exemptions from CSV: staff_ref,person_ref,relationship,approved_by,review_date.

    \b
    Example:
      auditor exemptions import exemptions.csv
    """
    from auditor.exemptions import add_exemptions, read_exemptions
    from auditor.policy import resolve_policy

    db = state.database()
    policy = resolve_policy(None, state.config, db.get_setting("policy"))
    rows = read_exemptions(file)
    warnings: list[str] = []
    added = add_exemptions(db, rows, policy, warnings)
    click.echo(f"exemptions: {added} added, {len(rows) - added} already held")
    for warning in warnings:
        click.echo(f"  warning: {warning}", err=True)


@exemptions.command("add")
@click.argument("staff_ref")
@click.argument("person_ref")
@click.option("--relationship", required=True, help="e.g. own child, niece, nephew, spouse.")
@click.option("--approved-by", "approved_by", required=True, help="Who approved it (a role, not a name).")
@click.option("--review-date", "review_date", required=True, metavar="YYYY-MM-DD", help="When it lapses.")
@click.option("--reason", help="Why (kept with the exemption).")
@click.pass_obj
def exemptions_add(state: State, staff_ref: str, person_ref: str, relationship: str, approved_by: str,
                   review_date: str, reason: str | None) -> None:
    """Declare one relationship: the member of staff may be connected with this person.

    \b
    Example:
      auditor exemptions add T0012 P0345 --relationship "own child" --approved-by Headteacher --review-date 2027-08-31
    """
    from auditor.exemptions import ExemptionRow, add_exemptions
    from auditor.policy import resolve_policy

    db = state.database()
    policy = resolve_policy(None, state.config, db.get_setting("policy"))
    warnings: list[str] = []
    row = ExemptionRow(staff_ref, person_ref, relationship, approved_by, _parse_date(review_date), reason)
    added = add_exemptions(db, [row], policy, warnings)
    click.echo("exemption added" if added else "exemption already held")
    for warning in warnings:
        click.echo(f"  warning: {warning}", err=True)


@exemptions.command("list")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Date that decides active or lapsed; default today.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def exemptions_list(state: State, as_of: str | None, as_json: bool) -> None:
    """The register: every exemption, active, lapsed (review date passed) or expired.

    \b
    Example:
      auditor exemptions list --as-of 2026-11-01
    """
    from auditor.exemptions import list_exemptions

    rows = list_exemptions(state.database(), _parse_date(as_of))
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['id']:5} {r['staff_ref']:10} {r['person_ref']:12} {r['relationship']:14} "
                   f"approved by {r['approved_by']}, review {r['review_date']}: {r['state']}")
    if not rows:
        click.echo("no exemptions")


@exemptions.command("expire")
@click.argument("exemption_id", type=int)
@click.option("--reason", required=True, help="Why it ends now (logged).")
@click.pass_obj
def exemptions_expire(state: State, exemption_id: int, reason: str) -> None:
    """End an exemption before its review date; the finding comes back at the next audit.

    \b
    Example:
      auditor exemptions expire 4 --reason "pupil left; relationship no longer relevant"
    """
    from auditor.exemptions import expire_exemption

    expire_exemption(state.database(), exemption_id, reason)
    click.echo(f"exemption {exemption_id} expired")


@main.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("demo-output"), show_default=True,
              help="Folder for the synthetic world, its database and the reports.")
@click.option("--seed", type=int, default=1, show_default=True, help="Generator seed (same seed, same school).")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Audit date; default today.")
@click.pass_obj
def demo(state: State, out: Path, seed: int, as_of: str | None) -> None:
    """Generate a synthetic trust and run the whole audit on it, offline.

    \b
    Example:
      auditor demo --out demo-output      # then open demo-output/report.html
    """
    from rich.console import Console
    from rich.table import Table

    from auditor.demo import run_demo

    result = run_demo(out, _parse_date(as_of), seed=seed, progress=state.progress())
    s = result.summary
    table = Table(title=f"auditor demo — synthetic trust, policy {result.policy}, as of {result.as_of}")
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    rows = [
        ("staff with exports", s["staff_with_exports"]), ("export files read", result.files),
        ("contact rows", s["connections"]), ("accounts matched to someone", s["accounts_matched"]),
    ]
    rows += [(f"findings: {k}", v) for k, v in s.get("by_severity", {}).items()]
    rows += [(f"status: {k.replace('_', ' ')}", v) for k, v in s.get("by_status", {}).items()]
    for label, value in rows:
        table.add_row(label, str(value))
    Console().print(table)
    for fmt, path in result.reports.items():
        click.echo(f"{fmt:9} {path}")
    click.echo(f"done in {result.seconds:.1f} s; database {result.database}")


@main.command()
@click.option("--json", "as_json", is_flag=True)
def connectors(as_json: bool) -> None:
    """List the platforms auditor reads and the layouts of each.

    \b
    Example:
      auditor connectors
    """
    from auditor.registry import export_connectors

    rows = [{"platform": cls.platform, "title": cls.title, "layouts": cls.layouts} for _, cls in export_connectors.items()]
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        click.echo(f"{row['platform']}: {row['title']}")
        for layout, text in row["layouts"].items():
            click.echo(f"  {layout:22} {text}")


@main.group()
def resolve() -> None:
    """Fill in accounts that an export names only by id."""


@resolve.command("x")
@click.argument("handle_map", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def resolve_x(state: State, handle_map: Path, as_json: bool) -> None:
    """Give imported X (Twitter) accounts their handles from an id,handle CSV.

    X archives list followers, following, blocks and mutes by account id only; until an id
    has a handle the audit counts it as an account it cannot see.

    \b
    Example:
      auditor resolve x x-handles.csv      # columns accountId,username (header optional)
    """
    from auditor.connectors.twitter import read_handle_map
    from auditor.ingest import resolve_platform_ids

    handles = read_handle_map(handle_map)
    changed = resolve_platform_ids(state.database(), "x", handles, "https://x.com/{handle}")
    if as_json:
        emit_json({"map_rows": len(handles), "accounts_resolved": changed})
    else:
        click.echo(f"resolved {changed} X account(s) from {len(handles)} map row(s)")


@main.group()
def fetch() -> None:
    """Fetch a member of staff's public lists from an open platform's API (uses the network).

    \b
    Stored like an imported export, with the API URLs and a hash of the pages fetched.
    Only these commands reach the network; everything else works offline.
    """


def _fetch_options(api_help: str):
    def decorate(fn):
        fn = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (like 'import --json').")(fn)
        fn = click.option("--api-url", metavar="URL", help=api_help)(fn)
        fn = click.option("--staff", "staff_ref", required=True, metavar="STAFF_REF",
                          help="Whose account it is (staff_id on the staff list).")(fn)
        return click.pass_obj(fn)

    return decorate


def _run_fetch(state: State, platform: str, account: str, staff_ref: str, api_url: str | None, as_json: bool) -> None:
    from auditor.connectors.api.run import fetch_and_store

    result = fetch_and_store(state.database(), platform, account, staff_ref, api_url=api_url,
                             progress=state.progress())
    if as_json:
        emit_json({"files": [result.as_json()]})
        return
    lists = ", ".join(f"{info['rows']} {name}" for name, info in result.lists.items())
    click.echo(f"{result.status:9} {result.path}: {result.platform} ({result.layout}) {result.rows} rows ({lists})"
               + (f", {result.skipped} skipped" if result.skipped else ""))
    for warning in result.warnings:
        click.echo(f"  warning: {warning}", err=True)


@fetch.command("bluesky")
@click.argument("handle")
@_fetch_options("AppView to ask (default https://public.api.bsky.app).")
def fetch_bluesky(state: State, handle: str, staff_ref: str, api_url: str | None, as_json: bool) -> None:
    """Followers and follows of a Bluesky HANDLE (or DID), from the public AppView.

    \b
    Example:
      auditor fetch bluesky ms-example.bsky.social --staff T0012
    """
    _run_fetch(state, "bluesky", handle, staff_ref, api_url, as_json)


@fetch.command("mastodon")
@click.argument("address", metavar="USER@SERVER")
@_fetch_options("Server API to ask (default https://SERVER).")
def fetch_mastodon(state: State, address: str, staff_ref: str, api_url: str | None, as_json: bool) -> None:
    """Followers and following of a Mastodon account, from its home server.

    \b
    An account that hides its network is reported (a warning), not taken as empty.
    Example:
      auditor fetch mastodon msexample@mastodon.social --staff T0012
    """
    _run_fetch(state, "mastodon", address, staff_ref, api_url, as_json)


@fetch.command("roblox")
@click.argument("user", metavar="USER")
@_fetch_options("One server for the friends and users APIs (default friends.roblox.com and users.roblox.com).")
def fetch_roblox(state: State, user: str, staff_ref: str, api_url: str | None, as_json: bool) -> None:
    """Friends, followers and followings of a Roblox USER (username or profile URL).

    \b
    Example:
      auditor fetch roblox MsExampleBuilds --staff T0012
    """
    _run_fetch(state, "roblox", user, staff_ref, api_url, as_json)


@main.command()
@click.option("--audit", "audit_id", type=int, metavar="N", help="Which audit (default: the latest).")
@click.option("--format", "fmt", required=True, metavar="FORMAT",
              help="html, csv, json, letters (one file per member of staff, needs --out DIR) or governor.")
@click.option("--out", type=click.Path(path_type=Path), help="File (or folder for letters); default standard output.")
@click.option("--include-review", is_flag=True, help="Letters: also findings still awaiting review.")
@click.option("--staff", "staff_refs", multiple=True, metavar="STAFF_REF", help="Letters: only for this member of staff.")
@click.pass_obj
def report(state: State, audit_id: int | None, fmt: str, out: Path | None, include_review: bool,
           staff_refs: tuple[str, ...]) -> None:
    """Write a report of a stored audit again, in any format (each report is logged).

    \b
    Formats:
      html      the DSL's report: summary, per-staff findings with evidence, pictures
      csv       one row per finding for Excel (UTF-8 with BOM, formulas neutralised)
      json      the findings contract (DESIGN.md)
      letters   a letter to each member of staff with their own findings (--out DIR)
      governor  counts only, small numbers suppressed, no names
    \b
    Examples:
      auditor report --format html --out report.html
      auditor report --audit 3 --format csv --out findings.csv
      auditor report --format letters --out letters/
      auditor report --format governor --out governors.html
    """
    from auditor.registry import report_writers
    from auditor.reporting import generate_report

    if fmt not in report_writers:
        from auditor.errors import InputError

        raise InputError(f"--format {fmt!r} is not a report format (formats: {', '.join(report_writers.names())})")
    if fmt == "letters" and out is None:
        raise click.BadParameter("letters need a folder: --out DIR", param_hint="--out")
    options: dict = {}
    if include_review:
        options["include_review"] = True
    if staff_refs:
        options["staff"] = list(staff_refs)
    db = state.database()
    text = generate_report(db, fmt, out, audit_id=audit_id, options=options)
    if text is not None:
        click.echo(text, nl=False)
    elif out is not None:
        click.echo(f"wrote {_written(db, out, fmt)}", err=True)


@main.group()
def review() -> None:
    """The DSL's review of findings: decisions are kept and re-applied by later audits.

    \b
    A decision stays in force while the evidence for that finding is unchanged; new evidence
    about the contact reopens it. Every decision is in the audit log with who, when and why.
    FINDING is a finding id from a report or 'review list', or a key (or its first characters).
    """


def _finding_line(f: dict) -> str:
    account = f["account"]
    who = account.get("username") or account.get("display_name") or "?"
    from auditor.reports.display import plain

    return (f"{f['id']:>6}  {f['key'][:12]}  {f['staff_ref']:<10} {f['person_ref'] or '-':<10} {f['severity']:<8} "
            f"{f['status']:<12} {f['platform']:<10} {plain(who, 30)}" + ("  [name only]" if f.get("name_only") else ""))


@review.command("list")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="needs_review, probable, confirmed, dismissed, excepted (repeatable; default all).")
@click.option("--staff", "staff_ref", metavar="STAFF_REF")
@click.option("--severity", metavar="SEVERITY")
@click.option("--rule", metavar="RULE")
@click.option("--platform", metavar="PLATFORM")
@click.option("--audit", "audit_id", type=int, metavar="N", help="Default: the latest audit.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def review_list(state: State, statuses: tuple[str, ...], staff_ref: str | None, severity: str | None, rule: str | None,
                platform: str | None, audit_id: int | None, as_json: bool) -> None:
    """List findings, with filters.

    \b
    Examples:
      auditor review list --status needs_review
      auditor review list --staff T0012 --json
    """
    from auditor.review import list_findings

    items = list_findings(state.database(), audit_id, statuses or None, staff_ref, severity, rule, platform)
    if as_json:
        emit_json(items)
        return
    click.echo(f"{'id':>6}  {'key':<12}  {'staff':<10} {'person':<10} {'severity':<8} {'status':<12} {'platform':<10} account")
    for f in items:
        click.echo(_finding_line(f))
    click.echo(f"{len(items)} finding(s)", err=True)


@review.command("show")
@click.argument("finding")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def review_show(state: State, finding: str, as_json: bool) -> None:
    """Show one finding: who, why, the evidence and earlier decisions.

    \b
    Example:
      auditor review show 1bdea876
    """
    from auditor.reports.display import plain
    from auditor.review import show_finding

    f = show_finding(state.database(), finding)
    if as_json:
        emit_json(f)
        return
    a = f["account"]
    click.echo(f"finding {f['id']} (audit {f['audit_id']}), key {f['key']}")
    click.echo(f"  staff {f['staff_ref']} ({plain(f['staff_name'], 60)}) – person {f['person_ref']} "
               f"({plain(f['person_name'], 60)}, {f['person_role']})")
    click.echo(f"  {f['platform']} {f['relationship']}: {plain(a.get('display_name'), 80)} "
               f"@{plain(a.get('username'), 40)}" + (f" since {f['connected_at'][:10]}" if f.get("connected_at") else ""))
    click.echo(f"  rule {f['rule']} ({f['severity']}), status {f['status']}, confidence {f['confidence']:.2f}"
               + (", name only" if f["name_only"] else ""))
    click.echo(f"  clause: {f['clause']}")
    click.echo("  evidence:")
    for e in f["explanation"]:
        click.echo(f"    {e.get('weight', 0):+7.2f}  {e.get('comparison')}: {plain(e.get('level'), 80)}")
    click.echo(f"  source: {f['source']['file_sha256']} {plain(f['source']['member'], 120)}")
    for d in f["decisions"]:
        click.echo(f"  decision: {d['decision']} by {d['by']} at {d['at'][:19]}: {d['reason']}"
                   + ("" if d["applies"] else " (lapsed: the evidence has changed since)"))
    click.echo("  audits: " + ", ".join(f"{x['audit']}:{x['status']}" for x in f["audits"]))


def _decide(state: State, finding: str, verb: str, reason: str, register: dict | None = None) -> None:
    from auditor.review import decide

    policy = None
    db = state.database()
    if register is not None:
        from auditor.policy import resolve_policy

        policy = resolve_policy(None, state.config, db.get_setting("policy"))
    done = decide(db, finding, verb, reason, register=register, policy=policy)
    click.echo(f"finding {done.finding_id} ({done.key[:12]}): {done.before} -> {done.after}")


_reason_option = click.option("--reason", required=True, metavar="TEXT", help="Why (kept with the decision and logged).")


@review.command("confirm")
@click.argument("finding")
@_reason_option
@click.pass_obj
def review_confirm(state: State, finding: str, reason: str) -> None:
    """Confirm a finding: the account is that person and the rule applies.

    \b
    Example:
      auditor review confirm 1bdea876 --reason "profile photo and school tie match; spoke to T0012"
    """
    _decide(state, finding, "confirm", reason)


@review.command("dismiss")
@click.argument("finding")
@_reason_option
@click.pass_obj
def review_dismiss(state: State, finding: str, reason: str) -> None:
    """Dismiss a finding as a false match; it stays dismissed until new evidence appears.

    \b
    Example:
      auditor review dismiss 1bdea876 --reason "an adult namesake in another town"
    """
    _decide(state, finding, "dismiss", reason)


@review.command("exempt")
@click.argument("finding")
@_reason_option
@click.option("--relationship", metavar="TEXT", help="Also add to the exemptions register (e.g. 'own child').")
@click.option("--review-date", metavar="YYYY-MM-DD", help="With --relationship: when the exemption lapses.")
@click.option("--approved-by", metavar="TEXT", help="With --relationship: who approved it (default: you).")
@click.pass_obj
def review_exempt(state: State, finding: str, reason: str, relationship: str | None, review_date: str | None,
                  approved_by: str | None) -> None:
    """Except a finding (an allowed relationship); with --relationship, register the exemption.

    \b
    Examples:
      auditor review exempt 1bdea876 --reason "staff member's nephew, declared"
      auditor review exempt 1bdea876 --reason "declared" --relationship nephew --review-date 2027-08-31
    """
    from auditor.errors import InputError

    register = None
    if relationship or review_date or approved_by:
        if not (relationship and review_date):
            raise InputError("registering an exemption needs both --relationship and --review-date")
        register = {"relationship": relationship, "review_date": _parse_date(review_date), "approved_by": approved_by}
    _decide(state, finding, "exempt", reason, register)


@review.command("bulk")
@click.argument("decision", type=click.Choice(["confirm", "dismiss"]))
@_reason_option
@click.option("--status", "statuses", multiple=True, type=click.Choice(["needs_review", "probable"]),
              help="Which open findings (default needs_review).")
@click.option("--staff", "staff_ref", metavar="STAFF_REF")
@click.option("--severity", metavar="SEVERITY")
@click.option("--rule", metavar="RULE")
@click.option("--platform", metavar="PLATFORM")
@click.option("--dry-run", is_flag=True, help="Show what would be decided; change nothing.")
@click.pass_obj
def review_bulk(state: State, decision: str, reason: str, statuses: tuple[str, ...], staff_ref: str | None,
                severity: str | None, rule: str | None, platform: str | None, dry_run: bool) -> None:
    """Confirm or dismiss many open findings at once; never confirms a name-only match.

    \b
    Examples:
      auditor review bulk dismiss --staff T0012 --platform linkedin --reason "adult namesakes, checked"
      auditor review bulk confirm --rule current-pupil --dry-run --reason "phone numbers match"
    """
    from auditor.review import bulk_decide

    result = bulk_decide(state.database(), decision, reason, statuses=statuses or ("needs_review",),
                         staff_ref=staff_ref, severity=severity, rule=rule, platform=platform, dry_run=dry_run)
    verb = "would be" if dry_run else "were"
    click.echo(f"{len(result.decided)} of {result.selected} selected finding(s) {verb} {decision}ed")
    if result.refused:
        click.echo(f"{len(result.refused)} name-only match(es) left for one-by-one review: "
                   + ", ".join(str(f["id"]) for f in result.refused[:30])
                   + (" …" if len(result.refused) > 30 else ""), err=True)


@main.group("log")
def log_group() -> None:
    """The append-only, hash-chained audit log of imports, audits, reports and decisions."""


@log_group.command("verify")
@click.option("--head", metavar="HASH", help="A hash noted earlier (e.g. from a report): check it is still there.")
@click.pass_obj
def log_verify(state: State, head: str | None) -> None:
    """Check that no entry of the audit log was edited, removed or reordered.

    \b
    Examples:
      auditor log verify
      auditor log verify --head 3f2a9c1d0e6b7a55
    """
    from auditor.errors import AuditorError
    from auditor.review import verify_log

    check = verify_log(state.database(), head)
    if not check.ok:
        where = f"at entry {check.first_bad_id}: " if check.first_bad_id else ""
        raise AuditorError(f"audit log NOT intact {where}{check.reason} ({check.entries} entries read)")
    click.echo(f"audit log intact: {check.entries} entries; last hash {check.head or '-'}"
               + ("; the noted entry is present" if head else ""))


@log_group.command("show")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--action", metavar="ACTION", help="Only entries whose action starts with this (audit, report, review …).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def log_show(state: State, limit: int, action: str | None, as_json: bool) -> None:
    """Show the most recent audit-log entries.

    \b
    Example:
      auditor log show --action review --limit 20
    """
    from auditor.review import log_entries

    entries = log_entries(state.database(), limit, action)
    if as_json:
        emit_json(entries)
        return
    for e in entries:
        details = json.dumps(e["details"], ensure_ascii=False, separators=(",", ":"), default=str) if e["details"] else ""
        click.echo(f"{e['id']:>6} {e['at'][:19]} {e['actor']:<12} {e['action']:<16} {e['subject'] or '':<24} {details}")


@main.command()
@click.option("--older-than", "older_than", metavar="PERIOD",
              help="Remove the contact rows of exports audited more than this long ago: 30d, 6w "
                   "(default: [retention] purge_older_than in the config).")
@click.option("--dry-run", is_flag=True, help="Say what would be removed; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def purge(state: State, older_than: str | None, dry_run: bool, as_json: bool) -> None:
    """Remove raw contact rows of exports once their audit is older than the retention period.

    \b
    Kept: the record of each file (name, sha256, counts, dates), every audit's findings, review
    decisions, exemptions and the audit log. Removed: the rows the exports brought in, and the
    names, handles, phones and e-mails of contacts who matched nobody. A later audit sees only
    what is still held, so purge once the term's audit is finished. The purge is logged.
    \b
    Examples:
      auditor purge --older-than 30d --dry-run
      auditor purge --older-than 30d
    """
    from auditor.db import utcnow
    from auditor.errors import InputError
    from auditor.retention import parse_period
    from auditor.retention import purge as run_purge

    period = older_than or state.config.retention.get("purge_older_than")
    if not period:
        raise InputError("give --older-than PERIOD (e.g. 30d), or set [retention] purge_older_than in the config")
    result = run_purge(state.database(), parse_period(str(period)), utcnow(), dry_run=dry_run)
    if as_json:
        emit_json(result.as_dict())
        return
    verb = "would remove" if dry_run else "removed"
    click.echo(f"purge (audited before {result.cutoff.date().isoformat()}): {result.files} file(s); {verb} "
               f"{result.connections} contact rows and the details of {result.accounts_cleared} unmatched "
               f"contact(s); kept findings, decisions and file hashes")
    if result.not_yet_due or result.already_purged:
        click.echo(f"  {result.not_yet_due} file(s) not audited long enough ago kept whole; "
                   f"{result.already_purged} purged earlier", err=True)


@main.command("subject-export")
@click.argument("ref", metavar="REF")
@click.option("--out", type=click.Path(path_type=Path), help="Write the JSON here (default: standard output).")
@click.pass_obj
def subject_export(state: State, ref: str, out: Path | None) -> None:
    """Everything held about one person (subject access request), as JSON.

    \b
    REF is a staff_id (or a pupil_id or contact_id). The export holds their roster record,
    accounts, files imported with their hashes, connections still held, findings in every
    audit, decisions, exemptions and the audit-log entries about them. Other people appear by
    reference only. The export is logged; an encrypted workspace writes it encrypted (.enc).
    \b
    Example:
      auditor subject-export T0012 --out T0012-sar.json
    """
    from auditor.crypto import write_output
    from auditor.db import utcnow
    from auditor.retention import record_subject_export, subject_export_bytes
    from auditor.retention import subject_export as build

    db = state.database()
    data = subject_export_bytes(build(db, ref, utcnow()))
    if out is None:
        record_subject_export(db, ref, data, "standard output")
        click.echo(data.decode("utf-8"), nl=False)
        return
    written = write_output(db.keys, out, data)
    record_subject_export(db, ref, data, written.name)
    click.echo(f"wrote {written}" + (" (encrypted)" if db.keys else ""), err=True)


@main.command()
@click.argument("file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path), help="Write the clear file here (default: standard output).")
def decrypt(file: Path, out: Path | None) -> None:
    """Read a report or export written encrypted (.enc) by an encrypted workspace.

    \b
    The passphrase is the database's (AUDITOR_PASSPHRASE, or asked for); the file carries
    its own salt, so it can be read on another computer. Take care where the clear copy goes.
    \b
    Examples:
      auditor decrypt report.html.enc --out report.html
      auditor decrypt findings.json.enc | less
    """
    from auditor import crypto
    from auditor.errors import InputError

    blob = file.read_bytes()
    if not crypto.is_encrypted_file(blob):
        raise InputError(f"{file.name}: not a file encrypted by auditor")
    passphrase = crypto.passphrase_from_env()
    if passphrase is None and sys.stdin.isatty():
        passphrase = click.prompt("passphrase", hide_input=True, err=True)
    if passphrase is None:
        raise InputError(f"set {crypto.PASSPHRASE_ENV} or run in a terminal to be asked for the passphrase")
    _, data = crypto.decrypt_bytes(passphrase, blob, file.name)
    if out is None:
        click.echo(data, nl=False)
    else:
        out.write_bytes(data)
        click.echo(f"wrote {out}", err=True)


@main.command("selfcheck-kit")
@click.option("--out", required=True, type=click.Path(path_type=Path, dir_okay=False), help="Write the kit here.")
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", help="Roster date (fixes who is a pupil, ages); default today.")
@click.option("--policy", "policy_name", metavar="PRESET", help="Policy preset; default the one chosen at init.")
@click.option("--days", default=31, show_default=True, type=click.IntRange(1, 366),
              help="Days the kit stays valid after --as-of.")
@click.option("--school", metavar="REF|all", help="The school whose staff get the kit (needed when the roster "
              "holds several); 'all' for trust-wide staff.")
@click.pass_obj
def selfcheck_kit(state: State, out: Path, as_of: str | None, policy_name: str | None, days: int,
                  school: str | None) -> None:
    """Build a self-check kit: keyed hashes of the roster that staff check their own exports with.

    \b
    The kit holds no names, dates of birth, refs or school names, but whoever holds it can test
    guesses (a name, a name and birth year) one at a time: give it only to staff of the school,
    like the roster itself. It expires --days after --as-of.
    \b
    Examples:
      auditor selfcheck-kit --out kit.json
      auditor selfcheck-kit --school S01 --policy luton --as-of 2026-11-01 --days 30 --out s01-kit.json
    """
    from auditor.policy import load_policy
    from auditor.selfcheck import build_kit, record_kit, write_kit

    db = state.database()
    when = _parse_date(as_of)
    policy = load_policy(policy_name or db.get_setting("policy"), state.config)
    kit = build_kit(db, when, policy, days, school)
    write_kit(kit, out)
    record_kit(db, kit, school)
    click.echo(f"wrote {out}: self-check kit ({policy.name} {policy.version}, roster of {when.isoformat()}"
               + (f", school {school}" if school and school != "all" else "")
               + f"); expires {kit['expires']}. Give it only to staff of the school.", err=True)


@main.command("self-check")
@click.option("--kit", "kit_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="The kit your DSL gave you.")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Also write the result to this file (nothing is written unless asked).")
def self_check(kit_path: Path, files: tuple[Path, ...], as_json: bool, out: Path | None) -> None:
    """Check your own exports against your school's kit, before (or instead of) handing them in.

    \b
    Needs no database and no network: your exports are read on this computer, nothing is sent
    or saved, and the kit holds no names. It lists the contacts your school's policy asks you
    to remove or report, as they appear in your export, with the clause and what to do.
    \b
    Examples:
      auditor self-check --kit kit.json facebook-jsmith-2026.zip instagram-jsmith.zip
      auditor self-check --kit kit.json contacts.vcf --json
    """
    from datetime import date

    from auditor.selfcheck import check, render_text

    result = check(kit_path, list(files), date.today())
    text = json.dumps(result.as_json(), indent=1, ensure_ascii=False) + "\n" if as_json else render_text(result)
    click.echo(text, nl=False)
    if out is not None:
        from auditor.errors import InputError

        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise InputError(f"{out}: cannot write ({exc.strerror or exc})") from None
        click.echo(f"wrote {out}", err=True)
    if result.refused:
        click.echo(f"error: {len(result.refused)} of {len(result.files)} file(s) could not be read; "
                   "the others were checked", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
