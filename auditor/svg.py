"""Pictures for the reports as inline SVG, drawn here without JavaScript, fonts or any network.

Two pictures:

- ``ego_network``: one member of staff at the centre; the accounts a finding is about on an
  inner ring (numbered as in the report, coloured by severity, dashed while awaiting review),
  with household links between them; every other contact as a dot on an outer ring, in one
  sector per platform. Sizes and positions come from the data alone, so the same audit always
  gives the same picture.
- ``waterfall``: how a match weight was built, one bar per piece of evidence, starting from the
  prior and ending at the total (the log2 Bayes factors of the matcher).

Every piece of text is escaped here (``markupsafe.escape``); the result is ``Markup`` so a
template can place it as it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from markupsafe import Markup, escape

SEVERITY_COLOURS = {"breach": "#b3261e", "report": "#c25e00", "advisory": "#1f5f99"}
CLOSED_COLOUR = "#8a8a8a"
PLATFORM_PALETTE = ["#4e79a7", "#59a14f", "#9c755f", "#af7aa1", "#76b7b2", "#edc948", "#ff9da7", "#bab0ac",
                    "#f28e2b", "#e15759"]
MAX_DOTS = 360


@dataclass(frozen=True)
class EgoNode:
    """One flagged account in the picture: its number in the report and how to draw it."""

    number: int
    label: str
    severity: str
    status: str
    platform: str
    group: str  # account identity: findings about one account share a node


def _fmt(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def platform_colours(platforms: list[str]) -> dict[str, str]:
    return {p: PLATFORM_PALETTE[i % len(PLATFORM_PALETTE)] for i, p in enumerate(sorted(platforms))}


def ego_network(title: str, by_platform: dict[str, int], nodes: list[EgoNode],
                links: list[tuple[str, str, str]] = (), size: int = 340) -> Markup:
    """The picture of one member of staff's network.

    ``by_platform``: how many contacts on each platform; ``nodes``: flagged accounts (several
    findings about one account share a ``group``); ``links``: (group, group, relationship)
    household links between flagged accounts.

    >>> svg = ego_network("T01", {"snapchat": 3}, [EgoNode(1, "1", "breach", "probable", "snapchat", "a")])
    >>> svg.startswith("<svg") and "<script" not in svg
    True
    """
    cx = cy = size / 2
    inner, outer = size * 0.24, size * 0.44
    colours = platform_colours(list(by_platform))
    total = sum(by_platform.values())
    groups: dict[str, list[EgoNode]] = {}
    for node in nodes:
        groups.setdefault(node.group, []).append(node)
    legend_rows = max(1, math.ceil(len(by_platform) / 3)) + 1
    height = size + 18 * legend_rows + 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="ego" viewBox="0 0 {size} {_fmt(height)}" '
             f'width="{size}" height="{_fmt(height)}" role="img" aria-label="{escape(title)}">',
             f"<title>{escape(title)}</title>",
             f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="{_fmt(outer)}" fill="none" stroke="#ddd"/>',
             f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="{_fmt(inner)}" fill="none" stroke="#ddd"/>']
    # Outer ring: every other contact, one sector per platform, one dot per `per_dot` contacts.
    per_dot = max(1, math.ceil(total / MAX_DOTS))
    dots = [(p, math.ceil(n / per_dot)) for p, n in sorted(by_platform.items()) if n]
    dot_total = sum(n for _, n in dots) or 1
    index = 0
    for platform, count in dots:
        for _ in range(count):
            angle = 2 * math.pi * (index + 0.5) / dot_total - math.pi / 2
            ring = outer - (index % 3) * 5
            parts.append(f'<circle cx="{_fmt(cx + ring * math.cos(angle))}" cy="{_fmt(cy + ring * math.sin(angle))}" '
                         f'r="1.8" fill="{colours[platform]}"/>')
            index += 1
    # Inner ring: flagged accounts, in report order.
    placed: dict[str, tuple[float, float]] = {}
    ordered = sorted(groups.items(), key=lambda item: min(n.number for n in item[1]))
    for i, (group, _members) in enumerate(ordered):
        angle = 2 * math.pi * i / max(len(ordered), 1) - math.pi / 2
        placed[group] = (cx + inner * math.cos(angle), cy + inner * math.sin(angle))
    for a, b, relationship in links:
        if a in placed and b in placed and a != b:
            (x1, y1), (x2, y2) = placed[a], placed[b]
            parts.append(f'<path d="M{_fmt(x1)},{_fmt(y1)} Q{_fmt(cx)},{_fmt(cy)} {_fmt(x2)},{_fmt(y2)}" fill="none" '
                         f'stroke="#6b4fa0" stroke-width="1.5" stroke-dasharray="2 3">'
                         f"<title>household link: {escape(relationship or 'family')}</title></path>")
    for group, _members in ordered:
        x, y = placed[group]
        parts.append(f'<line x1="{_fmt(cx)}" y1="{_fmt(cy)}" x2="{_fmt(x)}" y2="{_fmt(y)}" stroke="#999" '
                     'stroke-width="1"/>')
    for group, members in ordered:
        x, y = placed[group]
        worst = max(members, key=lambda n: ("advisory", "report", "breach").index(n.severity)
                    if n.severity in ("advisory", "report", "breach") else -1)
        closed = all(n.status in ("dismissed", "excepted") for n in members)
        review = any(n.status == "needs_review" for n in members)
        colour = CLOSED_COLOUR if closed else SEVERITY_COLOURS.get(worst.severity, "#555")
        dash = ' stroke-dasharray="3 2"' if review and not closed else ""
        label = ",".join(str(n.number) for n in sorted(members, key=lambda n: n.number))
        tip = "; ".join(f"{n.number}: {n.label} ({n.severity}, {n.status.replace('_', ' ')})" for n in members)
        radius = 11 if len(label) <= 2 else 14
        parts.append(f'<g class="flag" data-severity="{escape(worst.severity)}"><title>{escape(tip)}</title>'
                     f'<circle cx="{_fmt(x)}" cy="{_fmt(y)}" r="{radius}" fill="{colour}" stroke="#222" '
                     f'stroke-width="1.5"{dash}/>'
                     f'<text x="{_fmt(x)}" y="{_fmt(y + 3.5)}" text-anchor="middle" font-size="10" fill="#fff" '
                     f'font-family="sans-serif">{escape(label if len(label) <= 5 else label[:4] + "…")}</text></g>')
    parts.append(f'<circle cx="{_fmt(cx)}" cy="{_fmt(cy)}" r="16" fill="#222"/>'
                 f'<text x="{_fmt(cx)}" y="{_fmt(cy + 4)}" text-anchor="middle" font-size="10" fill="#fff" '
                 f'font-family="sans-serif">staff</text>')
    # Legend: platforms with counts, and the dot scale.
    y = size + 14
    for i, (platform, count) in enumerate(sorted(by_platform.items())):
        col, row = i % 3, i // 3
        x = 8 + col * (size - 16) / 3
        parts.append(f'<circle cx="{_fmt(x + 4)}" cy="{_fmt(y + row * 18 - 4)}" r="4" fill="{colours[platform]}"/>'
                     f'<text x="{_fmt(x + 12)}" y="{_fmt(y + row * 18)}" font-size="10" font-family="sans-serif">'
                     f"{escape(platform)} {count:,}</text>")
    note = f"each dot is {per_dot} contacts" if per_dot > 1 else "each dot is one contact"
    parts.append(f'<text x="8" y="{_fmt(y + (legend_rows - 1) * 18)}" font-size="10" font-family="sans-serif" '
                 f'fill="#555">{escape(note)}; numbered circles are findings</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def waterfall(steps: list[tuple[str, float]], total_label: str = "match weight", width: int = 560) -> Markup:
    """Bars from the running total before each piece of evidence to the total after it; the
    weights are written in a column of their own on the right.

    >>> svg = waterfall([("prior", -8.0), ("forename: exact", 4.0), ("surname: exact", 5.0)])
    >>> svg.count("<rect")
    4
    """
    label_w, value_w, pad, row_h = 200, 44, 6, 16
    running, spans = 0.0, []
    for _, weight in steps:
        spans.append((running, running + weight))
        running += weight
    lo = min([0.0] + [min(a, b) for a, b in spans])
    hi = max([0.0] + [max(a, b) for a, b in spans])
    scale = (width - label_w - value_w - 2 * pad) / ((hi - lo) or 1.0)

    def x(v: float) -> float:
        return label_w + pad + (v - lo) * scale

    height = row_h * (len(steps) + 1) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="waterfall" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="evidence waterfall">',
             f'<line x1="{_fmt(x(0))}" y1="0" x2="{_fmt(x(0))}" y2="{height}" stroke="#999" stroke-dasharray="2 2"/>']
    rows = [(label, weight, a, b, "#2e7d32" if weight > 0 else "#b3261e" if weight < 0 else "#999", False)
            for (label, weight), (a, b) in zip(steps, spans, strict=True)]
    rows.append((total_label, running, 0.0, running, "#333", True))
    for i, (label, weight, a, b, colour, bold) in enumerate(rows):
        y = i * row_h + 2
        left, right = x(min(a, b)), x(max(a, b))
        weight_attr = ' font-weight="bold"' if bold else ""
        parts.append(f'<text x="{label_w - 2}" y="{y + 11}" font-size="10" text-anchor="end" '
                     f'font-family="sans-serif"{weight_attr}>{escape(label)}</text>'
                     f'<rect x="{_fmt(left)}" y="{y + 2}" width="{_fmt(max(right - left, 1.5))}" height="{row_h - 5}" '
                     f'fill="{colour}"/>'
                     f'<text x="{width - 2}" y="{y + 11}" font-size="9" text-anchor="end" font-family="sans-serif" '
                     f'fill="#333"{weight_attr}>{weight:+.2f}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
