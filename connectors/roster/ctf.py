"""DfE Common Transfer File (CTF) XML: a school's pupils, their contacts and school history.

A school can export a CTF of any set of pupils addressed to itself, which gives a full roster
with contacts from any English (or Welsh) MIS without an API. Several files = several schools.

Layout history (element names read namespace-agnostically; parsed with defusedxml, streamed
pupil by pupil, DTDs and entities refused):

- root ``CTfile`` > ``Header`` (``CTFversion``, ``CTFVersion`` in some vendor output;
  ``DateTime``; ``DocumentQualifier`` full|partial; ``SourceSchool`` and ``DestSchool`` with
  ``LEA``, ``Estab``, ``URN``, ``SchoolName``) > ``CTFpupilData`` > ``Pupil``.
- CTF 12 (2011) … CTF 20 (2020): the pupil's sex is ``Gender``; the contact's parental
  responsibility flag is ``Responsibility`` (Follett Aspen's CTF 12 reader and writer).
- CTF 25 (2025/26): the pupil's sex is ``Sex`` (DfE's own CTF 25 writer); the contact flag
  is ``Responsible``. Both spellings of both are read whatever the version says.
- ``Pupil``: ``UPN``, ``Surname``, ``Forename``, ``DOB``; ``BasicDetails`` with
  ``PreferredForename``, ``PreferredSurname``, ``FormerSurname``, ``MiddleNames``,
  ``NCyearActual``; ``Contacts/Contact`` with ``Order``, ``Title``, ``Surname``, ``Forename``,
  ``Relationship`` (CBDS code: PAR, CAR, FAM ...), the responsibility flag, ``AddressAsPupil``
  or an address, ``Phones/Phone/PhoneNo`` and ``Email``; ``SchoolHistory/School`` with
  ``LEA``, ``Estab``, ``EntryDate``, ``LeavingDate``, ``LeavingReason``.

Identity: a CTF pupil has no MIS id, so the UPN is the reference (a pupil without one gets a
ref derived from the school and position and a warning). Contacts have no id at all: each is
``<UPN>-C<order>`` and contacts are merged across pupils only when forename, surname and a
phone or e-mail agree (``auditor.roster.merge_derived_contacts``), never on names alone.
UPN check letters are validated: a bad one is warned about, the pupil is kept.
A ``full`` CTF a school addressed to itself is its whole roster (pupils missing from it
have left); a partial one, or one addressed elsewhere, is not.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from auditor.errors import InputError
from auditor.registry import roster_connectors
from auditor.roster import (
    RosterConnector,
    RosterData,
    RosterLink,
    RosterPerson,
    RosterSchool,
    RowIssue,
    normalise_relationship,
    normalise_sex,
    parse_bool,
    parse_date,
    upn_problem,
)

KNOWN_MAJORS = range(11, 27)  # CTF 11 (2010) … CTF 26 (2026/27)
_ROOT = re.compile(rb"<(?:[\w.-]+:)?CTfile[\s>/]")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(elem: Element | None, *names: str) -> Element | None:
    if elem is None:
        return None
    for child in elem:
        if _local(child.tag) in names:
            return child
    return None


def _text(elem: Element | None, *names: str) -> str:
    found = _child(elem, *names)
    return (found.text or "").strip() if found is not None else ""


def _children(elem: Element | None, name: str) -> list[Element]:
    return [c for c in elem if _local(c.tag) == name] if elem is not None else []


def is_ctf(path: Path) -> bool:
    if not path.is_file():
        return False
    with open(path, "rb") as handle:
        head = handle.read(4096)
    return bool(_ROOT.search(head))


class _Reader:
    """One CTF file, read pupil by pupil."""

    def __init__(self, path: Path, data: RosterData) -> None:
        self.path, self.data = path, data
        self.label = path.name
        self.school_ref: str | None = None
        self.source_lea = self.source_estab = ""
        self.seen_upns: set[str] = set()
        self.count = 0

    def issue(self, row: int | None, message: str) -> None:
        self.data.issues.append(RowIssue(self.label, row, message, unit="pupil"))

    def header(self, elem: Element) -> None:
        version = _text(elem, "CTFversion", "CTFVersion")
        major = re.match(r"\d+", version)
        if not major or int(major.group()) not in KNOWN_MAJORS:
            self.issue(None, f"CTF version {version or '(none)'} is not one auditor knows (11–26); read anyway")
        source = _child(elem, "SourceSchool")
        dest = _child(elem, "DestSchool")
        self.source_lea, self.source_estab = _text(source, "LEA"), _text(source, "Estab")
        urn = _text(source, "URN")
        if not (self.source_lea and self.source_estab) and not urn:
            raise InputError(f"{self.label}: the CTF header names no source school (LEA and Estab, or URN)")
        self.school_ref = f"{self.source_lea}{self.source_estab}" if self.source_lea and self.source_estab else urn
        self.data.schools.append(RosterSchool(
            ref=self.school_ref, name=_text(source, "SchoolName") or None, urn=urn or None,
            la=self.source_lea or None, estab=self.source_estab or None, derived=True))
        try:
            self.data.extracted_on = parse_date(_text(elem, "DateTime")[:10])
        except ValueError:
            self.issue(None, "header DateTime is not a date")
        to_itself = (_text(dest, "LEA"), _text(dest, "Estab")) == (self.source_lea, self.source_estab)
        if _text(elem, "DocumentQualifier").lower() == "full" and to_itself:
            self.data.complete_schools.add(self.school_ref)

    def pupil(self, elem: Element) -> None:
        self.count += 1
        row = self.count  # pupils are numbered in file order: "pupil 12"
        if self.school_ref is None:
            raise InputError(f"{self.label}: pupil data before the CTF header")
        upn = _text(elem, "UPN").upper()
        basic = _child(elem, "BasicDetails")
        if not upn:
            digest = hashlib.sha256("|".join([_text(elem, "Surname"), _text(elem, "Forename"),
                                              _text(elem, "DOB")]).encode()).hexdigest()[:10]
            ref = f"{self.school_ref}-NOUPN-{digest}"
            self.issue(row, f"pupil has no UPN; kept as {ref}")
        else:
            ref = upn
            if problem := upn_problem(upn):
                self.issue(row, f"UPN {upn}: {problem} (kept)")
        if ref in self.seen_upns:
            self.issue(row, f"UPN {ref} appears twice; later pupil skipped")
            return
        self.seen_upns.add(ref)
        dob = self._date(row, elem, "DOB")
        if dob is None and not _text(elem, "DOB"):
            self.issue(row, "no DOB (ages cannot be checked)")
        start = end = None
        reason = None
        history = _children(_child(elem, "SchoolHistory"), "School")
        ours = [s for s in history if (_text(s, "LEA"), _text(s, "Estab")) == (self.source_lea, self.source_estab)]
        if ours:
            entry = ours[-1]
            start, end = self._date(row, entry, "EntryDate"), self._date(row, entry, "LeavingDate")
            reason = _text(entry, "LeavingReason") or None
        self.data.people.append(RosterPerson(
            ref=ref, kind="pupil", upn=upn or None, legal_forename=_text(elem, "Forename") or None,
            legal_surname=_text(elem, "Surname") or None,
            preferred_forename=_text(basic, "PreferredForename") or None,
            preferred_surname=_text(basic, "PreferredSurname") or None,
            former_surname=_text(basic, "FormerSurname") or None, middle_names=_text(basic, "MiddleNames") or None,
            date_of_birth=dob, sex=normalise_sex(_text(elem, "Sex", "Gender")), school_ref=self.school_ref,
            year_group=_text(basic, "NCyearActual") or None, start_date=start, end_date=end, leaving_reason=reason,
        ))
        orders: set[int] = set()
        for position, contact in enumerate(_children(_child(elem, "Contacts"), "Contact"), start=1):
            self.contact(row, ref, position, contact, orders)

    def contact(self, row: int, pupil_ref: str, position: int, elem: Element, orders: set[int]) -> None:
        order_text = _text(elem, "Order")
        order = int(order_text) if order_text.isdigit() else None
        if order is None or order in orders:
            self.issue(row, f"contact {position}: Order {order_text or '(none)'} missing or repeated; "
                            f"position {position} used")
            order = None
        key = order if order is not None else position
        orders.add(key)
        forename, surname = _text(elem, "Forename"), _text(elem, "Surname")
        if not forename and not surname:
            self.issue(row, f"contact {position} has no name; skipped")
            return
        phones = [(p.text or "").strip() for p in elem.iter() if _local(p.tag) == "PhoneNo" and (p.text or "").strip()]
        emails = [(e.text or "").strip() for e in elem.iter() if _local(e.tag) == "Email" and (e.text or "").strip()]
        ref = f"{pupil_ref}-C{key}"
        self.data.people.append(RosterPerson(
            ref=ref, kind="contact", title=_text(elem, "Title") or None, legal_forename=forename or None,
            legal_surname=surname or None, middle_names=_text(elem, "MiddleNames") or None,
            sex=normalise_sex(_text(elem, "Gender", "Sex")), phones=phones, emails=emails, derived_ref=True))
        raw = _text(elem, "Relationship") or None
        relationship = normalise_relationship(raw)
        if raw and relationship is None:
            self.issue(row, f"contact {position}: unknown relationship code {raw!r} (kept as 'other')")
            relationship = "other"
        self.data.links.append(RosterLink(
            pupil_ref=pupil_ref, contact_ref=ref, relationship_raw=raw, relationship=relationship,
            parental_responsibility=parse_bool(_text(elem, "Responsible", "Responsibility") or None), priority=order))

    def _date(self, row: int, elem: Element, name: str):
        try:
            return parse_date(_text(elem, name))
        except ValueError:
            self.issue(row, f"{name} is not a date")
            return None

    def read(self) -> None:
        root_seen = False
        try:
            for _event, elem in SafeET.iterparse(str(self.path), events=("end",), forbid_dtd=True):
                name = _local(elem.tag)
                if name == "Header":
                    self.header(elem)
                    elem.clear()
                elif name == "Pupil":
                    self.pupil(elem)
                    elem.clear()
                elif name == "CTfile":
                    root_seen = True
        except ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else "?"
            raise InputError(f"{self.label}: not well-formed XML (line {line}); nothing was imported") from None
        except (defusedxml.DTDForbidden, defusedxml.EntitiesForbidden, defusedxml.ExternalReferenceForbidden):
            raise InputError(f"{self.label}: refused, the XML declares a DTD or entities") from None
        except OSError as exc:
            raise InputError(f"{self.label}: cannot read ({exc.strerror or exc})") from None
        if not root_seen:
            raise InputError(f"{self.label}: not a Common Transfer File (no CTfile root)")
        if self.school_ref is None:
            raise InputError(f"{self.label}: the CTF has no header")


@roster_connectors.register("ctf")
class CommonTransferFile(RosterConnector):
    name = "ctf"
    title = "DfE Common Transfer File XML (one file per school, or a folder of them)"

    def detect(self, path: Path, options: dict) -> bool:
        if path.is_dir():
            return not (path / "pupils.csv").exists() and any(is_ctf(p) for p in sorted(path.glob("*.xml")))
        return is_ctf(path)

    def read(self, path: Path, options: dict) -> RosterData:
        data = RosterData(source="ctf")
        files = sorted(p for p in path.glob("*.xml") if is_ctf(p)) if path.is_dir() else [path]
        for file in files:
            _Reader(file, data).read()
            data.files.append((file.name, hashlib.sha256(file.read_bytes()).hexdigest()))
        return data
