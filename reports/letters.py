"""Letters to staff: one printable HTML file per member of staff (``letter-<staff_ref>.html``),
ready to print or save as PDF from a browser.

A letter holds that person's own findings only, and of each only what their own export showed
(the account's display name and handle, the connection and its date) plus the role the school's
records suggest ("a current pupil"), the rule's clause, how sure the match is and on what kind
of evidence, and the export's hash. It never names the roster person, shows their reference,
lists alternative candidates or household evidence, or mentions another member of staff.

Which findings: confirmed and probable ones (``include_review`` adds those still awaiting the
DSL's review); dismissed and excepted findings never go into a letter. Staff with none get no
letter. Options: ``include_review`` (bool), ``staff`` (list of staff refs to write for).
"""

from __future__ import annotations

import re
from pathlib import Path

from auditor.errors import InputError
from auditor.registry import report_writers
from auditor.reporting import ReportContext
from auditor.reports.templating import ROLE_WORDS, render

LETTER_STATUSES = ("confirmed", "probable")
METHOD_WORDS = {"forename": "name", "surname": "name", "middle name": "name", "rarity": "name",
                "phone": "a phone number the school holds", "e-mail": "an e-mail address the school holds",
                "birth year": "a year of birth in the name or username", "household": "other connections in the same family"}
ROLE_PHRASES = {
    "pupil": "a current pupil", "past_pupil": "a past pupil the policy still covers",
    "future_pupil": "a pupil about to join the school", "parent_carer": "a parent or carer of a pupil",
}


def _method(f: dict) -> str:
    seen: list[str] = []
    for e in f.get("explanation") or []:
        word = METHOD_WORDS.get(e.get("comparison"))
        if word and (e.get("weight") or 0) > 0 and word not in seen:
            seen.append(word)
    if not seen:
        return "name"
    return seen[0] if len(seen) == 1 else ", ".join(seen[:-1]) + " and " + seen[-1]


def _status(f: dict) -> str:
    if f["status"] == "confirmed":
        return "The DSL has checked this match."
    if f["status"] == "probable":
        return "A probable match, not yet checked by a person."
    return "A possible match the DSL has still to check."


def _action(f: dict) -> str:
    if f["relationship"] == "request_received":
        return "Do not accept the request or reply; tell the DSL."
    if f["severity"] == "breach":
        return "Remove this connection and tell the DSL when you have done so, unless it is a mistake (see below)."
    if f["severity"] == "report":
        return "Tell the DSL about this connection."
    return "No action is required by the policy; please consider whether the connection is appropriate."


def letter_items(context: ReportContext, staff_ref: str, include_review: bool = False) -> list[dict]:
    statuses = LETTER_STATUSES + (("needs_review",) if include_review else ())
    items = []
    for f in context.findings_for(staff_ref):
        if f["status"] not in statuses:
            continue
        role = ROLE_PHRASES.get(f["person_role"], ROLE_WORDS.get(f["person_role"], "someone on the school's roll"))
        items.append({"f": f, "role_phrase": f"The school's records suggest {role}.", "method": _method(f),
                      "status_phrase": _status(f), "action": _action(f)})
    return items


def render_letter(context: ReportContext, staff_ref: str, include_review: bool = False) -> str | None:
    items = letter_items(context, staff_ref, include_review)
    if not items:
        return None
    info = context.people.get(staff_ref, {})
    platforms = sorted({e["platform"] for e in context.exports.get(staff_ref, []) if e.get("platform")})
    return render("letter.html", audit=context.audit, staff_ref=staff_ref, staff_name=info.get("name") or staff_ref,
                  school=info.get("school"), platforms=platforms, items=items)


def letter_name(staff_ref: str) -> str:
    return "letter-" + re.sub(r"[^A-Za-z0-9_-]", "_", staff_ref) + ".html"


@report_writers.register("letters")
def write_letters(context: ReportContext, out: Path | None, options: dict) -> str | None:
    if out is None:
        raise InputError("letters are one file per member of staff: give a folder with --out DIR")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; letters need a folder (--out DIR)")
    wanted = options.get("staff") or sorted({f["staff_ref"] for f in context.findings})
    unknown = [ref for ref in wanted if ref not in context.people]
    if unknown:
        raise InputError(f"no member of staff {', '.join(unknown)} in this audit")
    letters = {ref: render_letter(context, ref, bool(options.get("include_review"))) for ref in wanted}
    out.mkdir(parents=True, exist_ok=True)
    written = options.get("written")
    write_file = options.get("write_file")  # an encrypted workspace encrypts each letter as written
    for ref, text in letters.items():
        if text is None:
            continue
        path = out / letter_name(ref)
        if write_file is not None:
            path = write_file(path, text.encode("utf-8"))
        else:
            path.write_text(text, encoding="utf-8")
        if isinstance(written, list):
            written.append(path)
    return None


write_letters.many_files = True  # one file per member of staff: see auditor.reporting._write_encrypted
