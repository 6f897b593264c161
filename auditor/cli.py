"""The command line: a thin layer over the library. It parses options, calls the core, prints
results, and turns domain errors into one line and a non-zero exit (never a traceback)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
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

    @property
    def config(self):
        if self._config is None:
            from auditor.config import load_config

            self._config = load_config(self.config_option)
        return self._config

    def db_url(self) -> str | None:
        return self.db_option or os.environ.get("AUDITOR_DB") or self.config.database

    def database(self, check: bool = True):
        from auditor.db import Database

        db = Database(self.db_url())
        if check:
            db.check()
        return db

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


@main.command()
@click.option("--policy", default="default", show_default=True, help="Policy preset (see 'auditor policy list').")
@click.pass_obj
def init(state: State, policy: str) -> None:
    """Create (or bring up to date) the database and choose the school's policy.

    \b
    Example:
      auditor --db school.db init --policy luton
    """
    from auditor.setup import initialise

    result = initialise(state.database(check=False), policy, state.config)
    click.echo(f"database ready ({result['database']}); policy {result['policy']}"
               + (f"; applied {', '.join(result['migrations'])}" if result["migrations"] else ""))


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
               + (f", not in this import {summary.absent} (kept)" if summary.absent else ""))
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
    from auditor.policy import load_policy
    from auditor.registry import report_writers
    from auditor.reporting import load_report, write_report

    if fmt not in report_writers:
        raise click.BadParameter(f"unknown format {fmt!r} (formats: {', '.join(report_writers.names())})",
                                 param_hint="--format")
    db = state.database()
    when = _parse_date(as_of)
    policy = load_policy(policy_name or db.get_setting("policy"), state.config)
    result = run_audit(db, when, policy, progress=state.progress(), since=since)
    text = write_report(load_report(db, result.audit_id), fmt, out)
    if text is not None:
        click.echo(text, nl=False)
    s = result.summary
    sev = s.get("by_severity", {})
    click.echo(f"audit {result.audit_id} ({policy.name} {policy.version}, as of {when.isoformat()}): "
               f"{s['connections']} connections of {s['staff_with_exports']} staff; findings: "
               f"{sev.get('breach', 0)} breach, {sev.get('report', 0)} report, {sev.get('advisory', 0)} advisory"
               + (f"; wrote {out}" if out else ""), err=True)


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
    from auditor.policy import load_policy

    db = state.database()
    policy = load_policy(db.get_setting("policy"), state.config)
    rows = read_exemptions(file)
    added = add_exemptions(db, rows, policy)
    click.echo(f"exemptions: {added} added, {len(rows) - added} already held")


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


if __name__ == "__main__":  # pragma: no cover
    main()
