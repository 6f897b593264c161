"""Running an audit: match what needs matching, build the graph, apply the policy, keep the
findings (with exemptions and earlier review decisions applied) and compare with the last audit.

The audit date is an argument; nothing here reads the clock except to timestamp the record of
when the audit was run.
"""

from __future__ import annotations

import gc
import hashlib
import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from auditor import auditlog
from auditor.ages import age_on
from auditor.db import Database, driver_rows, fast_insert, insert_values, utcnow
from auditor.errors import InputError
from auditor.gcpause import cyclic_gc_paused
from auditor.graph import Corroboration, account_node, build_graph, person_node, staff_node
from auditor.match.engine import MATCHER_VERSION, AccountView, Evidence, RosterEntry, RosterIndex, band_for
from auditor.models import (
    Account,
    AuditRun,
    ContactPoint,
    Exemption,
    Finding,
    ImportedFile,
    MatchCandidate,
    Person,
    PupilContact,
    ReviewDecision,
    Role,
    School,
)
from auditor.models import (
    Connection as ConnectionRow,
)
from auditor.policy import SEVERITY_RANK, Policy
from auditor.progress import NULL_PROGRESS, Progress
from auditor.registry import rule_kinds
from auditor.roster import roster_version
from auditor.rules import Child, StaffMember, Subject
from auditor.version import __version__

MATCH_CHUNK = 5000
CORROBORATION_MIN_WEIGHT = -1.5  # a household member's own match must be at least this strong


# -- the roster on the audit date -----------------------------------------------------------
@dataclass
class RosterSnapshot:
    subjects: dict[int, Subject]
    entries: list[RosterEntry]
    staff: dict[int, StaffMember]
    refs: dict[int, str]
    links: list[tuple[int, int, str | None]]
    schools: dict[int, str]
    version: str
    names: dict[int, tuple[str | None, str | None, str | None]] = field(default_factory=dict)


def _role_on(roles: list, as_of: date) -> str:
    """A pupil is current if on roll on the audit date, past if they left on or before it."""
    current = past = future = False
    for r in roles:
        if r.role != "pupil":
            continue
        started = r.start_date is None or r.start_date <= as_of
        ended = r.end_date is not None and r.end_date <= as_of
        if ended:
            past = True
        elif started:
            current = True
        else:
            future = True
    return "pupil" if current else "past_pupil" if past else "future_pupil" if future else "pupil"


def current_roster_version(conn: Connection) -> str:
    """The digest recorded by the last roster import (computed afresh if there is none)."""
    from auditor.models import Setting

    table = Setting.__table__
    found = conn.execute(sa.select(table.c.value).where(table.c.key == "roster_version")).scalar()
    return found or roster_version(conn)


def load_roster(conn: Connection, as_of: date) -> RosterSnapshot:
    """The roster as the audit sees it on ``as_of``. Read as plain tuples and built in one
    pass per table: a trust's roster is tens of thousands of people, read on every audit."""
    person, role_t, point_t, link_t, school_t = (Person.__table__, Role.__table__, ContactPoint.__table__,
                                                  PupilContact.__table__, School.__table__)
    people = conn.execute(sa.select(
        person.c.id, person.c.ref, person.c.kind, person.c.title, person.c.legal_forename, person.c.legal_surname,
        person.c.preferred_forename, person.c.preferred_surname, person.c.middle_names, person.c.former_surname,
        person.c.date_of_birth, person.c.vulnerable).order_by(person.c.id)).all()
    if not people:
        raise InputError("the roster is empty", hint="run: auditor roster import PATH")
    roles: dict[int, list] = defaultdict(list)
    for r in conn.execute(sa.select(role_t.c.person_id, role_t.c.school_id, role_t.c.role, role_t.c.start_date,
                                    role_t.c.end_date, role_t.c.job_title).order_by(role_t.c.id)):
        roles[r.person_id].append(r)
    phones: dict[int, set[str]] = defaultdict(set)
    emails: dict[int, set[str]] = defaultdict(set)
    for pid, kind, value in conn.execute(sa.select(point_t.c.person_id, point_t.c.kind, point_t.c.value)):
        if kind == "phone":
            phones[pid].add(value)
        elif kind == "email":
            emails[pid].add(value)
    links = [(a, b, rel) for a, b, rel in conn.execute(
        sa.select(link_t.c.pupil_id, link_t.c.contact_id, link_t.c.relationship).order_by(link_t.c.id))]
    schools = {sid: ref for sid, ref in conn.execute(sa.select(school_t.c.id, school_t.c.ref))}

    no_roles: list = []
    age_of_birth: dict[date | None, int | None] = {}  # many people share a date of birth
    role_on: dict[int, str] = {}
    ages: dict[int, int | None] = {}
    own: dict[int, frozenset[int]] = {}
    for pid, _ref, kind, *_names, born, _vulnerable in people:
        mine = roles.get(pid, no_roles)
        own[pid] = frozenset(r.school_id for r in mine if r.school_id is not None)
        role_on[pid] = _role_on(mine, as_of) if kind == "pupil" else "parent_carer" if kind == "contact" else "staff"
        if born not in age_of_birth:
            age_of_birth[born] = age_on(born, as_of)
        ages[pid] = age_of_birth[born]
    children: dict[int, list[Child]] = defaultdict(list)
    for pupil_id, contact_id, relationship in links:
        if pupil_id in role_on:
            children[contact_id].append(Child(pupil_id, relationship, role_on[pupil_id], own[pupil_id], ages[pupil_id]))
    # A contact's "schools" are those of their children, so own-school scopes work for parents.
    subjects = {}
    entries = []
    staff = {}
    refs = {}
    names = {}
    empty: frozenset[str] = frozenset()
    for pid, ref, kind, title, legal_fore, legal_sur, pref_fore, pref_sur, middle, former, born, vulnerable in people:
        own_schools = own[pid]
        mine_children = children.get(pid, ())
        if kind == "contact" and mine_children:
            own_schools = frozenset().union(*(c.schools for c in mine_children))
        role, age = role_on[pid], ages[pid]
        subjects[pid] = Subject(pid, ref, kind, role, own_schools, age, bool(vulnerable), tuple(mine_children))
        entries.append(RosterEntry(
            person_id=pid, kind=kind, role=role, legal_forename=legal_fore, legal_surname=legal_sur,
            preferred_forename=pref_fore, preferred_surname=pref_sur, middle_names=middle, former_surname=former,
            title=title, birth_year=born.year if born else None, age=age,
            phones=frozenset(phones[pid]) if pid in phones else empty,
            emails=frozenset(emails[pid]) if pid in emails else empty, schools=own_schools,
        ))
        if kind == "staff":
            job = next((r.job_title for r in roles.get(pid, no_roles) if r.role == "staff"), None)
            staff[pid] = StaffMember(pid, ref, own_schools, job)
        refs[pid] = ref
        names[pid] = (pref_fore or legal_fore, legal_sur, kind)
    return RosterSnapshot(subjects, entries, staff, refs, links, schools, current_roster_version(conn), names=names)


# -- matching ------------------------------------------------------------------------------
def match_state(roster: RosterSnapshot, as_of: date) -> str:
    return f"{roster.version}:{MATCHER_VERSION}:{as_of.isoformat()}"


_WORKER_INDEX: RosterIndex | None = None  # set before worker processes fork; read by _match_rows


_CANDIDATE_COLUMNS = ["account_id", "person_id", "weight", "probability", "band", "evidence", "reading", "ambiguous",
                      "pieces", "year_agrees", "name_only", "colleague", "state"]
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps with options builds an encoder per call


def _match_rows(rows: list[tuple], state: str | None = None) -> list[tuple]:
    """Candidates for a batch of accounts (id, platform, display name, username, phones, e-mails),
    as rows in ``_CANDIDATE_COLUMNS`` order (tuples: less to send back from a worker)."""
    from auditor.match.engine import match_account

    index = _WORKER_INDEX
    out = []
    for account_id, platform, display_name, username, phones, emails in rows:
        view = AccountView(account_id, platform, display_name, username, tuple(phones or ()), tuple(emails or ()))
        for cand in match_account(index, view):
            out.append((
                account_id, cand.person_id, round(cand.weight, 3), round(cand.probability, 4), cand.band,
                _JSON_TEXT([ev.as_dict() for ev in cand.evidence]), cand.reading, cand.ambiguous, cand.pieces,
                cand.year_agrees, cand.name_only, any(ev.comparison == "colleague" for ev in cand.evidence), state,
            ))
    return out


def _matched_batches(batches, workers: int, state: str | None = None):
    """Match batches in order, in worker processes when there is enough to share out (the roster
    index is built once, before the workers fork, and shared copy-on-write)."""
    if workers < 2:
        for batch in batches:
            yield batch, _match_rows(batch, state)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from auditor.ingest import _die_with_parent

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_die_with_parent,
                             initargs=(os.getpid(),)) as pool:
        pending = []
        for batch in batches:
            pending.append((batch, pool.submit(_match_rows, batch, state)))
            if len(pending) > workers * 2:
                done_batch, future = pending.pop(0)
                yield done_batch, future.result()
        for done_batch, future in pending:
            yield done_batch, future.result()


def _json_list(text: str | list | None) -> list:
    """A JSON list column read as text (a driver may already have decoded it)."""
    if not text or text == "[]":
        return []
    return json.loads(text) if isinstance(text, str) else list(text)


def run_matching(db: Database, roster: RosterSnapshot, as_of: date, progress: Progress = NULL_PROGRESS) -> int:
    """Match every account not yet matched under this roster, matcher and date; returns how many.
    Work is committed in chunks, each with its accounts' state, so an interrupted run resumes."""
    global _WORKER_INDEX
    state = match_state(roster, as_of)
    accounts = Account.__table__
    due = sa.and_(sa.or_(accounts.c.matched_state.is_(None), accounts.c.matched_state != state),
                  accounts.c.purged.is_(False))
    with db.engine.connect() as conn:
        todo = [r[0] for r in conn.execute(sa.select(accounts.c.id).where(due).order_by(accounts.c.id))]
    if not todo:
        return 0
    _WORKER_INDEX = RosterIndex(roster.entries, as_of.year)
    # Everything so far (roster, index) lives for the whole run: the cyclic collector need not
    # walk it again and again (a fifth of matching time otherwise), and forked workers then
    # share its memory pages untouched.
    gc.freeze()
    workers = min(4, os.cpu_count() or 1) if len(todo) >= 4 * MATCH_CHUNK else 1
    # Chunks of ``todo`` are read by id range (a walk along the primary key) rather than by a
    # list of thousands of ids; the statements are compiled once.
    # Phones and e-mails are read as text and decoded here: nearly all are "[]".
    read = sa.select(accounts.c.id, accounts.c.platform, accounts.c.display_name, accounts.c.username,
                     sa.cast(accounts.c.phones, sa.Text), sa.cast(accounts.c.emails, sa.Text)).where(
        accounts.c.id.between(sa.bindparam("low"), sa.bindparam("high")), due).order_by(accounts.c.id)

    def batches():
        with db.engine.connect() as conn:
            for start in range(0, len(todo), MATCH_CHUNK):
                chunk = todo[start:start + MATCH_CHUNK]
                wanted = set(chunk)
                yield [(aid, platform, name, username, _json_list(phones), _json_list(emails))
                       for aid, platform, name, username, phones, emails
                       in conn.execute(read, {"low": chunk[0], "high": chunk[-1]}) if aid in wanted]

    progress.start("matching contacts", len(todo))
    cands = MatchCandidate.__table__
    held = sa.select(cands.c.id).where(cands.c.account_id.between(sa.bindparam("low"), sa.bindparam("high"))).limit(1)
    try:
        for batch, found in _matched_batches(batches(), workers, state):
            ids = [row[0] for row in batch]
            if not ids:
                continue
            with db.begin() as conn:
                listed = ", ".join(str(int(i)) for i in ids)  # ids from the database: integers, written inline
                if conn.execute(held, {"low": ids[0], "high": ids[-1]}).first() is not None:
                    conn.execute(sa.text(f"DELETE FROM {cands.name} WHERE account_id IN ({listed})"))
                insert_values(conn, cands, _CANDIDATE_COLUMNS, found, json_ready=("evidence",))
                conn.execute(sa.text(f"UPDATE {accounts.name} SET matched_state = :state WHERE id IN ({listed})"),
                             {"state": state})
            progress.advance(len(batch))
    finally:
        _WORKER_INDEX = None
        gc.unfreeze()
    progress.finish()
    return len(todo)


# -- findings ------------------------------------------------------------------------------
@dataclass
class AuditResult:
    audit_id: int
    as_of: date
    policy: Policy
    findings: list[dict]
    summary: dict
    trend: dict
    carried_staff: int = 0  # staff whose findings were carried over from the last audit unchanged
    finding_ids: dict[str, int] = field(default_factory=dict)  # key -> the stored finding's id


def finding_key(staff_ref: str, person_ref: str, platform: str, account_key: str, kind: str) -> str:
    body = "\x1f".join([staff_ref, person_ref, platform, account_key, kind])
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def evidence_fingerprint(account_key: str, evidence: list[dict]) -> str:
    levels = sorted(f"{e.get('comparison')}={e.get('level')}" for e in evidence if "comparison" in e)
    return hashlib.sha256(json.dumps([account_key, levels]).encode()).hexdigest()[:32]


def _school_evidence(subject: Subject, staff: StaffMember, school_share: dict[int, float]) -> Evidence | None:
    """Staff mostly know the current pupils of their own school: with several schools loaded,
    a current pupil of the member's own school is a little more likely, one of another school a
    little less. Past pupils and parents are spread across schools, so say nothing."""
    if subject.role != "pupil" or len(school_share) < 2 or not staff.schools or not subject.schools:
        return None
    share = sum(school_share.get(s, 0.0) for s in staff.schools)
    if share <= 0 or share >= 1:
        return None
    if subject.schools & staff.schools:
        return Evidence("school", "current pupil of the member of staff's school", min(math.log2(0.75 / share), 1.5))
    return Evidence("school", "current pupil of another school", max(math.log2(0.25 / (1 - share)), -1.0))


@dataclass
class AuditInputs:
    """Everything the policy evaluation reads, loaded once."""

    roster: RosterSnapshot
    candidates: dict[int, list]
    rows: list  # connections of accounts that have candidates, with file and account fields
    exemptions: list
    decisions: dict[str, object]
    previous: int | None
    totals: tuple[int, int, int]
    owners: list[tuple[int, str, str | None, str | None]]
    evidence_of: object = None  # candidate ids -> {id: [evidence]}, read only for findings


def _connections_query(staff_ids: Collection[int] | None):
    """Connections to accounts that have candidates, with file and account fields, in
    connection order (the first connection to give a finding key is the one reported). The
    database walks the account index for the accounts with candidates."""
    accounts, conns, files, cands = (Account.__table__, ConnectionRow.__table__, ImportedFile.__table__,
                                     MatchCandidate.__table__)
    query = (sa.select(conns.c.id, conns.c.staff_id, conns.c.account_id, conns.c.kind, conns.c.connected_at,
                       conns.c.member, files.c.sha256, accounts.c.platform, accounts.c.key,
                       accounts.c.display_name, accounts.c.username, accounts.c.profile_url)
             .join(files, files.c.id == conns.c.file_id).join(accounts, accounts.c.id == conns.c.account_id)
             .where(conns.c.account_id.in_(sa.select(cands.c.account_id))))
    if staff_ids is not None:
        query = query.where(_of_staff(conns))
    return query.order_by(conns.c.id)


def _of_staff(conns: sa.Table):
    """Connections of these staff (parameter ``staff``), found through their files: the
    connection table's file index serves this (it has none on staff, which imports would pay for)."""
    files, staff = ImportedFile.__table__, sa.bindparam("staff", expanding=True)
    return sa.and_(conns.c.file_id.in_(sa.select(files.c.id).where(files.c.staff_id.in_(staff))),
                   conns.c.staff_id.in_(staff))


def load_connections(db: Database, staff_ids: Collection[int] | None = None) -> tuple[list, dict[int, list]]:
    """The connections evaluate reads and their accounts' candidates (without evidence, read
    for findings only); with ``staff_ids``, those members of staff's only."""
    cands = MatchCandidate.__table__
    candidates: dict[int, list] = defaultdict(list)
    if staff_ids is not None and not staff_ids:
        return [], candidates
    columns = [c for c in cands.c if c.name != "evidence"]
    query = sa.select(*columns).order_by(cands.c.id)
    params: dict = {}
    if staff_ids is not None:
        conns = ConnectionRow.__table__
        params = {"staff": sorted(staff_ids)}
        query = query.where(cands.c.account_id.in_(
            sa.select(conns.c.account_id).where(_of_staff(conns))))
    with db.engine.connect() as conn:
        for c in conn.execute(query, params).all():
            candidates[c.account_id].append(c)
        rows = conn.execute(_connections_query(staff_ids), params).all()
    return rows, candidates


def load_inputs(db: Database, roster: RosterSnapshot, staff_ids: Collection[int] | None = None) -> AuditInputs:
    """What evaluate reads; with ``staff_ids``, the connections of those members of staff only
    (an empty collection: none, only the rest)."""
    conns, files, cands_t, runs = (ConnectionRow.__table__, ImportedFile.__table__, MatchCandidate.__table__,
                                   AuditRun.__table__)
    rows, candidates = load_connections(db, staff_ids)
    with db.engine.connect() as conn:
        exemptions = list(conn.execute(sa.select(Exemption.__table__).order_by(Exemption.__table__.c.id)))
        decisions: dict[str, object] = {}
        for d in conn.execute(sa.select(ReviewDecision.__table__).order_by(ReviewDecision.__table__.c.id)):
            decisions[d.finding_key] = d
        previous = conn.execute(sa.select(runs.c.id).where(runs.c.status == "done")
                                .order_by(runs.c.id.desc()).limit(1)).scalar()
        totals = tuple(conn.execute(sa.select(sa.func.count(conns.c.id), sa.func.count(sa.distinct(conns.c.staff_id)),
                                              sa.func.count(sa.distinct(conns.c.file_id)))).first())
        owners = [(r.staff_id, (r.owner or {}).get("platform") or (r.platform or "").split(",")[0],
                   (r.owner or {}).get("name"), (r.owner or {}).get("username"))
                  for r in conn.execute(sa.select(files.c.staff_id, files.c.platform, files.c.owner)
                                        .where(files.c.staff_id.is_not(None), files.c.owner.is_not(None)))]

    def evidence_of(ids: list[int]) -> dict[int, list]:
        found: dict[int, list] = {}
        with db.engine.connect() as conn:
            for start in range(0, len(ids), 900):
                chunk = ids[start:start + 900]
                for cid, evidence in conn.execute(sa.select(cands_t.c.id, cands_t.c.evidence)
                                                  .where(cands_t.c.id.in_(chunk))):
                    found[cid] = evidence or []
        return found

    return AuditInputs(roster, candidates, rows, exemptions, decisions, previous, totals, owners, evidence_of)


@dataclass
class InputScan:
    """Every connection to a matched account, with its account's match state last, as the
    database holds them: not converted, since they are read only for digests and the
    audit-wide summary. Rows are in ``_connections_query`` order."""

    rows: list
    matched_accounts: int  # accounts with at least one candidate


def scan_inputs(db: Database) -> InputScan:
    """The candidates themselves are not read: an account's candidates are what the matcher
    made of the account's fields under its match state (roster version, matcher version,
    audit date), written with that state in one transaction and never changed after, so the
    fields and the state stand for them in the digests."""
    cands, accounts = MatchCandidate.__table__, Account.__table__
    with db.engine.connect() as conn:
        rows = driver_rows(conn, _connections_query(None).add_columns(accounts.c.matched_state))
        matched = conn.execute(sa.select(sa.func.count(sa.distinct(cands.c.account_id)))).scalar() or 0
    return InputScan(rows, matched)


# -- carrying findings over ----------------------------------------------------------------
# A member of staff's findings depend only on the audit-wide context below and on their own
# slice of the inputs. When both are unchanged since the last audit, evaluating them again
# would give the same findings in the same order, so the last audit's are carried over and
# only the staff whose slice changed (a new export, a re-match, an exemption) are evaluated.
REUSE_VERSION = "3"  # bump when evaluate reads anything new, or the digests change


def policy_fingerprint(policy: Policy) -> str:
    """The whole policy, not only its name and version: a school's own copy can be edited."""
    import dataclasses

    body = json.dumps(dataclasses.asdict(policy), sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:32]


def context_digest(inputs: AuditInputs, policy: Policy, as_of: date) -> str:
    """What every member of staff's findings depend on: the code, the roster, the policy, the
    audit date and the DSL's review decisions."""
    digest = hashlib.sha256()
    for part in (REUSE_VERSION, __version__, MATCHER_VERSION, inputs.roster.version, policy_fingerprint(policy),
                 as_of.isoformat()):
        digest.update(part.encode() + b"\x1f")
    for decision in inputs.decisions.values():
        digest.update(repr(tuple(decision)).encode())
    return digest.hexdigest()[:32]


def staff_digests(roster: RosterSnapshot, scan: InputScan, exemptions: list,
                  owners: list[tuple[int, str, str | None, str | None]]) -> dict[int, str]:
    """Per member of staff on the roster, a digest of everything ``evaluate`` reads about
    them: their connections to matched accounts (with the file, the account's fields and its
    match state, which stand for its candidates: see ``scan_inputs``), their exemptions, and
    the owners their exports name (with who else submitted the same owner account)."""
    digests = {staff_id: hashlib.sha256() for staff_id in roster.staff}
    for row in scan.rows:
        digest = digests.get(row[1])  # staff_id
        if digest is not None:
            digest.update(repr(tuple(row)).encode())
    for ex in exemptions:
        if ex.staff_id in digests:
            digests[ex.staff_id].update(b"exemption" + repr(tuple(ex)).encode())
    sharing: dict[tuple[str, str], set[int]] = defaultdict(set)
    for staff_id, platform, _name, username in owners:
        if username:
            sharing[(platform, username.lower())].add(staff_id)
    for staff_id, platform, name, username in owners:
        if staff_id in digests:
            shared = sorted(sharing[(platform, username.lower())]) if username else []
            digests[staff_id].update(b"owner" + repr((platform, name, username, shared)).encode())
    return {staff_id: digest.hexdigest()[:32] for staff_id, digest in digests.items()}


def inputs_record(context: str, digests: dict[int, str]) -> str:
    """What an audit keeps of its inputs (``AuditRun.inputs_digest``), for the next audit."""
    return json.dumps({"context": context, "staff": {str(k): v for k, v in sorted(digests.items())}},
                      separators=(",", ":"))


def unchanged_staff(recorded: str | None, context: str, digests: dict[int, str]) -> set[int]:
    """The staff whose findings the audit that recorded ``recorded`` can lend: all inputs the
    same. None of them when the context differs or nothing was recorded."""
    if not recorded:
        return set()
    try:
        before = json.loads(recorded)
    except ValueError:
        return set()
    if not isinstance(before, dict) or before.get("context") != context:
        return set()
    staff = before.get("staff") or {}
    return {staff_id for staff_id, digest in digests.items() if staff.get(str(staff_id)) == digest}


def carried_findings(conn: Connection, audit_id: int, staff_ids: set[int], roster: RosterSnapshot) -> dict[str, dict]:
    """An earlier audit's findings for these staff, in its order, in ``evaluate``'s shape."""
    table = Finding.__table__
    found: dict[str, dict] = {}
    if not staff_ids:
        return found
    for r in conn.execute(sa.select(table).where(table.c.audit_id == audit_id).order_by(table.c.id)):
        if r.staff_id not in staff_ids:
            continue
        found[r.key] = {
            "key": r.key, "staff_id": r.staff_id, "staff_ref": roster.refs[r.staff_id], "person_id": r.person_id,
            "person_ref": roster.refs.get(r.person_id) if r.person_id is not None else None,
            "person_role": r.person_role, "rule": r.rule, "clause": r.clause, "severity": r.severity,
            "status": r.status, "confidence": r.confidence, "platform": r.platform, "relationship": r.relationship,
            "account_id": r.account_id,
            "account": {"display_name": r.display_name, "username": r.username, "profile_url": r.profile_url},
            "source": {"file_sha256": r.file_sha256, "member": r.member},
            "connected_at": r.connected_at.isoformat() if r.connected_at else None,
            "explanation": r.explanation or [], "evidence_fingerprint": r.evidence_fingerprint,
            "detail": r.detail if r.detail is not None else {},
        }
    return found


def _school_shares(roster: RosterSnapshot) -> dict[int, float]:
    shares: dict[int, int] = defaultdict(int)
    pupils = [s for s in roster.subjects.values() if s.kind == "pupil"]
    for subject in pupils:
        for school in subject.schools:
            shares[school] += 1
    return {k: v / max(len(pupils), 1) for k, v in shares.items()}


def _rescore(c, subject: Subject, staff: StaffMember, row, corroboration, school_share,
             thresholds) -> tuple[float, str, list[dict]]:
    """An account-level candidate re-weighed for one member of staff: own-school evidence and
    household corroboration (capped, explained; never enough alone). Returns the weight, the
    band and the evidence this member of staff adds."""
    pieces = c.pieces
    weight = c.weight
    extra: list[dict] = []
    school = _school_evidence(subject, staff, school_share) if subject.kind != "staff" else None
    if school:
        weight += school.weight
        extra.append(school.as_dict())
    bonus = 0.0
    if pieces >= 1:
        bonus, reasons = corroboration.bonus(staff_node(row.staff_id), account_node(row.account_id),
                                             person_node(c.person_id))
        if bonus:
            weight += bonus
            extra.append({"comparison": "household", "level": "; ".join(reasons), "weight": round(bonus, 2)})
            pieces += 1
    name_only = c.name_only and not bonus
    band = "no_link" if c.colleague else band_for(thresholds, weight, pieces, c.year_agrees, c.ambiguous, name_only)
    return weight, band, extra


def _strictest_rule(policy: Policy, subject: Subject, staff: StaffMember, kind: str):
    best_rule, best_sev, reason = None, "none", None
    for rule in policy.rules:
        why = rule_kinds.get(rule.kind).applies(rule.params, subject, staff)
        if not why:
            continue
        severity = rule.severity_for(kind)
        if SEVERITY_RANK[severity] > SEVERITY_RANK[best_sev]:
            best_rule, best_sev, reason = rule, severity, why
    return best_rule, best_sev, reason


def evaluate(inputs: AuditInputs, policy: Policy, as_of: date, staff_ids: Collection[int] | None = None
             ) -> dict[str, dict]:
    """The findings: for each connection, who the account most likely is (for this member of
    staff), which rule of the policy that breaks, and the status after exemptions and the DSL's
    earlier decisions. Pure: reads ``inputs``, writes nothing. With ``staff_ids``, only those
    members of staff (their findings are exactly those a whole evaluation gives them)."""
    from auditor.match.engine import DEFAULT_THRESHOLDS as T

    roster = inputs.roster
    rows = inputs.rows if staff_ids is None else [r for r in inputs.rows if r.staff_id in staff_ids]
    # The graph holds what the analyses read: identities strong enough to corroborate a
    # household member, the staff connected to those accounts, and the households.
    candidates = inputs.candidates if staff_ids is None else {
        a: inputs.candidates.get(a, []) for a in dict.fromkeys(r.account_id for r in rows)}
    corroborating = [(c.account_id, c.person_id, c.weight, c.band) for cs in candidates.values() for c in cs
                     if c.weight >= CORROBORATION_MIN_WEIGHT]
    accounts = {a for a, _, _, _ in corroborating}
    G = build_graph(roster.staff, [(r.staff_id, r.account_id, r.kind) for r in rows if r.account_id in accounts],
                    corroborating, roster.links)
    school_share = _school_shares(roster)
    corroboration = Corroboration(G)
    active, lapsed = {}, {}
    for ex in inputs.exemptions:
        pair = (ex.staff_id, ex.person_id)
        if ex.expired_at is None and ex.review_date >= as_of:
            active[pair] = ex
        else:
            lapsed[pair] = ex

    findings: dict[str, dict] = {}
    for row in rows:
        staff = roster.staff.get(row.staff_id)
        if staff is None or not policy.covers_staff(staff.job_title) or not policy.covers_platform(row.platform):
            continue
        if row.display_name and row.display_name in policy.exempt_accounts:
            continue
        scored = []
        for c in inputs.candidates[row.account_id]:
            subject = roster.subjects[c.person_id]
            weight, band, explanation = _rescore(c, subject, staff, row, corroboration, school_share, T)
            scored.append((weight, c, subject, band, explanation))
        if not scored:
            continue
        scored.sort(key=lambda x: -x[0])
        # The best fit; and when others fit about as well (ambiguous), each of them too, all for
        # review: the DSL sees every person the account may be, not a coin toss between them.
        top_weight, top = scored[0][0], scored[0][1]
        for weight, c, subject, band, explanation in scored:
            if c is not top and (not top.ambiguous or weight < top_weight - T.ambiguity_margin):
                break
            if band == "no_link" or subject.kind == "staff":
                continue
            rule, severity, reason = _strictest_rule(policy, subject, staff, row.kind)
            if rule is None or severity == "none":
                continue
            status = "needs_review" if severity == "breach_review" else band
            severity = "breach" if severity == "breach_review" else severity
            person_ref, staff_ref = roster.refs[c.person_id], roster.refs[row.staff_id]
            key = finding_key(staff_ref, person_ref, row.platform, row.key, row.kind)
            if key in findings:
                continue
            detail: dict = {"reason": reason}
            alternatives = [roster.refs[x[1].person_id] for x in scored if x[1] is not c and x[3] != "no_link"]
            if c.ambiguous or alternatives:
                detail["alternatives"] = alternatives
            pair = (row.staff_id, c.person_id)
            if pair in active:
                ex = active[pair]
                if policy.allows_exemption(ex.relationship):
                    status = "excepted"
                    detail["exemption"] = {"relationship": ex.relationship, "approved_by": ex.approved_by,
                                           "review_date": ex.review_date.isoformat()}
                else:
                    detail["exemption_refused"] = f"{policy.name} does not allow exempting a {ex.relationship}"
            elif pair in lapsed:
                detail["exemption_lapsed"] = lapsed[pair].review_date.isoformat()
            findings[key] = {
                "candidate_id": c.id, "weight": weight,
                "key": key, "staff_id": row.staff_id, "staff_ref": staff_ref, "person_id": c.person_id,
                "person_ref": person_ref, "person_role": subject.role, "rule": rule.id,
                "clause": rule.clause, "severity": severity, "status": status,
                "confidence": round(1.0 / (1.0 + 2.0 ** (-weight)), 4), "platform": row.platform,
                "relationship": row.kind, "account_id": row.account_id, "account_key": row.key,
                "account": {"display_name": row.display_name, "username": row.username, "profile_url": row.profile_url},
                "source": {"file_sha256": row.sha256, "member": row.member},
                "connected_at": row.connected_at.isoformat() if row.connected_at else None,
                "explanation": explanation, "detail": detail,
            }
    _complete(findings, inputs)
    findings.update(alias_findings(inputs, policy, G, rows, staff_ids))
    return findings


def _complete(findings: dict[str, dict], inputs: AuditInputs) -> None:
    """Put each finding's stored evidence before what this member of staff added, the prior
    first (so the waterfall adds up to the confidence), and apply the DSL's earlier decision
    if the evidence it was made on is unchanged."""
    stored = inputs.evidence_of([f["candidate_id"] for f in findings.values()]) if inputs.evidence_of else {}
    for key, f in findings.items():
        explanation = list(stored.get(f.pop("candidate_id"), [])) + f["explanation"]
        weight = f.pop("weight")
        prior = {"comparison": "prior", "level": "a contact is rarely any given roster person",
                 "weight": round(weight - sum(e["weight"] for e in explanation), 2)}
        f["explanation"] = [prior] + explanation
        f["evidence_fingerprint"] = evidence_fingerprint(f["account_key"], explanation)
        f["status"] = _apply_decision(inputs.decisions.get(key), f["evidence_fingerprint"], f["status"], f["detail"])
        del f["account_key"]


def _apply_decision(decision, fingerprint: str, status: str, detail: dict) -> str:
    """A DSL's decision holds while the evidence it was made on is unchanged."""
    if decision is None or status == "excepted":
        return status
    if decision.evidence_fingerprint == fingerprint:
        detail["decision"] = {"by": decision.actor, "at": decision.decided_at.isoformat(), "reason": decision.reason}
        return decision.decision
    detail["decision_lapsed"] = "new evidence since the last decision"
    return status


def _staff_name_matcher(name: str, forenames: set[str], surnames: set[str]) -> bool:
    from auditor.match.names import compact, parse_display_name
    from auditor.match.nicknames import related

    tokens = parse_display_name(name).tokens
    if not tokens:
        return True  # nothing to compare: not evidence of another owner
    has_fore = any(t in forenames or any(related(t, f) for f in forenames) for t in tokens)
    has_sur = any(compact(t) in surnames for t in tokens) or compact("".join(tokens[1:])) in surnames
    return has_fore or has_sur


def alias_findings(inputs: AuditInputs, policy: Policy, G, rows: list | None = None,
                   staff_ids: Collection[int] | None = None) -> dict[str, dict]:
    """Undeclared or alias accounts, when the policy has an alias_account rule: an export whose
    owner is not the member of staff, one owner account submitted by several staff, and an
    account named like the member of staff in their own export (among ``rows``, by default
    all the connections). With ``staff_ids``, only those members of staff's."""
    rules = [r for r in policy.rules if r.kind == "alias_account"]
    if not rules:
        return {}
    from auditor.graph import alias_signals
    from auditor.match.names import compact, parse_display_name

    rule = rules[0]
    roster = inputs.roster
    staff_names: dict[int, tuple[set[str], set[str]]] = {}
    owners = inputs.owners
    if staff_ids is not None:  # others' owners count only as submitted by them (shared owners)
        owners = [o if o[0] in staff_ids else (o[0], o[1], None, o[3]) for o in owners]
    for staff_id in roster.staff if staff_ids is None else [s for s in roster.staff if s in staff_ids]:
        forename, surname, _ = roster.names.get(staff_id, (None, None, None))
        fore = {t for t in parse_display_name(forename).tokens} if forename else set()
        sur = {compact(t) for t in parse_display_name(surname).tokens} if surname else set()
        if surname:
            sur.add(compact("".join(parse_display_name(surname).tokens)))
        staff_names[staff_id] = (fore, sur)
    own_name = []
    owner_usernames = {(s, (u or "").lower()) for s, _p, _n, u in inputs.owners if u}
    for row in inputs.rows if rows is None else rows:
        for c in inputs.candidates[row.account_id]:
            if c.person_id == row.staff_id and c.band in ("probable", "needs_review") \
                    and (row.staff_id, (row.username or "").lower()) not in owner_usernames:
                own_name.append((row.staff_id, row.account_id, row.platform))
    findings = {}
    seen = set()
    for signal in alias_signals(owners, staff_names, sorted(set(own_name)), _staff_name_matcher):
        staff = roster.staff.get(signal.staff_id)
        if staff is None or not policy.covers_staff(staff.job_title) or (
                staff_ids is not None and signal.staff_id not in staff_ids):
            continue
        staff_ref = roster.refs[signal.staff_id]
        key = finding_key(staff_ref, staff_ref, signal.platform or "", f"alias:{signal.kind}:{signal.account_id}",
                          "owner")
        if key in seen:
            continue
        seen.add(key)
        severity = rule.severity_for("friend")
        if severity == "none":
            continue
        detail = {"reason": signal.detail, "signal": signal.kind}
        status = _apply_decision(inputs.decisions.get(key), key, "needs_review", detail)
        findings[key] = {
            "key": key, "staff_id": signal.staff_id, "staff_ref": staff_ref, "person_id": signal.staff_id,
            "person_ref": staff_ref, "person_role": "staff", "rule": rule.id, "clause": rule.clause,
            "severity": "breach" if severity == "breach_review" else severity, "status": status,
            "confidence": 0.5, "platform": signal.platform or "", "relationship": "owner",
            "account_id": signal.account_id, "account": {"display_name": None, "username": None, "profile_url": None},
            "source": {"file_sha256": None, "member": None}, "connected_at": None,
            "explanation": [{"comparison": "alias", "level": signal.detail, "weight": 0.0}],
            "evidence_fingerprint": key, "detail": detail,
        }
    return findings


def shared_account_summary(rows: list, findings: dict[str, dict], min_staff: int = 3) -> list[dict]:
    """Accounts many members of staff are connected to, summarised once (a parent known to
    many, a community page) rather than repeated per member of staff. ``rows`` are
    connections to matched accounts, (id, staff_id, account_id, ...)."""
    staff_per_account = Counter(account_id for account_id, _staff_id in {(row[2], row[1]) for row in rows})
    shared = sorted(account_id for account_id, staff in staff_per_account.items() if staff >= min_staff)
    flagged = defaultdict(set)
    for f in findings.values():
        if f["account_id"] in staff_per_account:
            flagged[f["account_id"]].add(f["person_ref"])
    return [{"account_id": aid, "staff": staff_per_account[aid], "people": sorted(flagged.get(aid, ()))}
            for aid in shared]


def coverage_counts(conn: Connection) -> dict[str, int]:
    """Connections the audit cannot judge: accounts known only by a number (X ids not yet
    resolved) and contacts with no usable name, handle or id. Counted before minimisation."""
    conns, accounts = ConnectionRow.__table__, Account.__table__
    joined = sa.select(sa.func.count(conns.c.id)).join(accounts, accounts.c.id == conns.c.account_id)
    unresolved = conn.execute(joined.where(accounts.c.platform_id.is_not(None), accounts.c.username.is_(None),
                                           accounts.c.display_name.is_(None))).scalar() or 0
    nameless = conn.execute(joined.where(accounts.c.username.is_(None), accounts.c.display_name.is_(None),
                                         accounts.c.platform_id.is_(None), accounts.c.purged.is_(False))).scalar() or 0
    return {"unresolved_ids": unresolved, "nameless_contacts": nameless}


def minimise(db: Database, keep_unmatched: bool) -> int:
    """After an audit, forget what exports said about contacts who matched nobody: their names,
    handles, phones and e-mails go; the account's digest and the connection counts stay.
    An account known only by its platform id (X archives) is kept until it is resolved to a
    handle (``auditor resolve x``): it holds nothing else, and without the id it never could be."""
    if keep_unmatched:
        return 0
    accounts, cands = Account.__table__, MatchCandidate.__table__
    matched = sa.select(cands.c.account_id).distinct()
    awaiting_resolution = sa.and_(accounts.c.platform_id.is_not(None), accounts.c.username.is_(None),
                                  accounts.c.display_name.is_(None))
    with db.begin() as conn:
        result = conn.execute(accounts.update().where(
            accounts.c.purged.is_(False), accounts.c.matched_state.is_not(None), accounts.c.id.not_in(matched),
            sa.not_(awaiting_resolution)
        ).values(username=None, display_name=None, display_name_raw=None, profile_url=None, platform_id=None,
                 phones=None, emails=None, purged=True))
        count = result.rowcount or 0
        if count:
            auditlog.append(conn, "minimise", subject="unmatched contacts", details={"accounts": count})
    return count


def run_audit(db: Database, as_of: date, policy: Policy, progress: Progress = NULL_PROGRESS,
              since: int | None = None, actor: str | None = None, keep_unmatched: bool = True,
              reuse: bool = True) -> AuditResult:
    """Match, evaluate, and keep the audit with its findings and trend; then, unless asked to
    keep them, forget the contacts who matched nobody. With ``reuse``, staff whose inputs are
    unchanged since the last audit keep its findings instead of being evaluated again."""
    with cyclic_gc_paused():
        return _run_audit(db, as_of, policy, progress, since, actor, keep_unmatched, reuse)


def _run_audit(db: Database, as_of: date, policy: Policy, progress: Progress, since: int | None,
               actor: str | None, keep_unmatched: bool, reuse: bool) -> AuditResult:
    with db.engine.connect() as conn:
        roster = load_roster(conn, as_of)
    run_matching(db, roster, as_of, progress)
    inputs = load_inputs(db, roster, staff_ids=())  # all but the connections, read below
    scan = scan_inputs(db)
    context = context_digest(inputs, policy, as_of)
    digests = staff_digests(roster, scan, inputs.exemptions, inputs.owners)
    unchanged: set[int] = set()
    carried: dict[str, dict] = {}
    if reuse and inputs.previous is not None:
        runs = AuditRun.__table__
        with db.engine.connect() as conn:
            recorded = conn.execute(sa.select(runs.c.inputs_digest).where(runs.c.id == inputs.previous)).scalar()
            unchanged = unchanged_staff(recorded, context, digests)
            carried = carried_findings(conn, inputs.previous, unchanged, roster)
    evaluated = set(roster.staff) - unchanged if unchanged else None
    inputs.rows, inputs.candidates = load_connections(db, evaluated)
    findings = evaluate(inputs, policy, as_of, staff_ids=evaluated)
    findings.update(carried)
    ordered = sorted(findings.values(), key=lambda f: (f["staff_ref"], -SEVERITY_RANK[f["severity"]],
                                                       f["person_ref"], f["platform"], f["relationship"]))
    connections, staff_count, file_count = inputs.totals
    summary = {
        "staff_with_exports": staff_count, "files": file_count, "connections": connections,
        "accounts_matched": scan.matched_accounts, "findings": len(ordered),
        "by_severity": _count(ordered, "severity"), "by_status": _count(ordered, "status"),
        "by_rule": _count(ordered, "rule"), "by_platform": _count(ordered, "platform"),
        "shared_accounts": shared_account_summary(scan.rows, findings),
    }
    with db.engine.connect() as conn:
        summary["coverage"] = coverage_counts(conn)
    with db.begin() as conn:
        audit_id = conn.execute(AuditRun.__table__.insert().values(
            created_at=utcnow(), as_of=as_of, policy_name=policy.name, policy_version=policy.version,
            tool_version=__version__, roster_version=roster.version, previous_id=since or inputs.previous,
            inputs_digest=inputs_record(context, digests), status="running", summary=summary)).inserted_primary_key[0]
        findings_t = Finding.__table__
        fast_insert(conn, findings_t, [_finding_row(audit_id, f) for f in ordered])
        finding_ids = dict(conn.execute(sa.select(findings_t.c.key, findings_t.c.id)
                                        .where(findings_t.c.audit_id == audit_id)).all())
        trend = compute_trend(conn, audit_id, since or inputs.previous)
        summary["trend"] = trend
        conn.execute(AuditRun.__table__.update().where(AuditRun.__table__.c.id == audit_id)
                     .values(status="done", summary=summary))
        auditlog.append(conn, "audit", subject=f"audit {audit_id}", actor=actor, details={
            "as_of": as_of.isoformat(), "policy": f"{policy.name} {policy.version}", "findings": len(ordered)})
    summary["minimised_accounts"] = minimise(db, keep_unmatched)
    return AuditResult(audit_id, as_of, policy, ordered, summary, trend, carried_staff=len(unchanged),
                       finding_ids=finding_ids)


def _count(items: list[dict], key: str) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[item[key]] += 1
    return dict(sorted(counts.items()))


def _finding_row(audit_id: int, f: dict) -> dict:
    return {
        "audit_id": audit_id, "key": f["key"], "staff_id": f["staff_id"], "person_id": f["person_id"],
        "person_role": f["person_role"], "rule": f["rule"], "clause": f["clause"], "severity": f["severity"],
        "status": f["status"], "confidence": f["confidence"], "platform": f["platform"],
        "relationship": f["relationship"], "account_id": f["account_id"],
        "display_name": f["account"]["display_name"], "username": f["account"]["username"],
        "profile_url": f["account"]["profile_url"], "file_sha256": f["source"]["file_sha256"],
        "member": f["source"]["member"],
        "connected_at": datetime.fromisoformat(f["connected_at"]) if f["connected_at"] else None,
        "explanation": f["explanation"], "evidence_fingerprint": f["evidence_fingerprint"], "detail": f["detail"],
    }


def compute_trend(conn: Connection, audit_id: int, previous_id: int | None) -> dict:
    """New, resolved and unchanged findings against an earlier audit (by stable key)."""
    if previous_id is None:
        return {"previous": None, "new": None, "resolved": None, "unchanged": None}
    table = Finding.__table__
    now = {r[0] for r in conn.execute(sa.select(table.c.key).where(table.c.audit_id == audit_id))}
    before = {r[0] for r in conn.execute(sa.select(table.c.key).where(table.c.audit_id == previous_id))}
    return {"previous": previous_id, "new": len(now - before), "resolved": len(before - now),
            "unchanged": len(now & before)}
