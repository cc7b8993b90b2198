"""The report as Markdown: every string escaped as it is written (`md`).

Written by hand rather than from a template: the output is line-oriented, and escaping
Markdown (emphasis, links, table pipes, block markers at a line's start) is not what a
template engine's autoescape does; `md` is that one place.
"""

from __future__ import annotations

import re

from domain.dates import spoken
from domain.text import visible

from .model import Block, Facts, Paragraph, Report, StageChart, Table

# Emphasis, code, links and images, HTML, table cells, entities and strikethrough; `(` is
# inert once `[` and `]` are escaped. Block markers matter only where a line starts.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|&~])")
_MD_LINE_START = re.compile(r"^([-+=#]|\d+[.)])")


def md(text: str) -> str:
    """Plain text as inert Markdown: one line, every markup character escaped, and every
    control or bidi character written as its escape (the document may go to a terminal)."""
    flat = visible(" ".join(text.split()))
    escaped = _MD_SPECIAL.sub(r"\\\1", flat)
    # `- x` and `# x` take the backslash in front; `1. x` on its punctuation (digits
    # cannot be escaped).
    return _MD_LINE_START.sub(
        lambda m: m[1][:-1] + "\\" + m[1][-1] if m[1][0].isdigit() else "\\" + m[1], escaped
    )


def to_markdown(report: Report) -> str:
    out = [f"# {md(report.title)}", "", f"*{md(report.subtitle)}*", ""]
    if report.as_of is not None:
        out += [f"Report as of {report.as_of.isoformat()}", ""]
    for section in report.sections:
        out += [f"## {md(section.title)}", ""]
        for block in section.blocks:
            out += _md_block(block)
            out.append("")
    if report.provenance:
        out += ["---", ""] + [md(line) + "  " for line in report.provenance]
    return "\n".join(out).rstrip() + "\n"


def _md_block(block: Block) -> list[str]:
    if isinstance(block, StageChart):
        return []  # Markdown has the table beside it; the HTML draws the chart
    if isinstance(block, Paragraph):
        return [md(block.text)]
    if isinstance(block, Facts):
        return [f"- **{md(label)}:** {md(value)}" for label, value in block.rows]
    if isinstance(block, Table):
        lines = ["| " + " | ".join(md(h) for h in block.header) + " |"]
        lines.append("|" + "|".join(" --- " for _ in block.header) + "|")
        lines += ["| " + " | ".join(md(c) for c in row) + " |" for row in block.rows]
        return lines
    lines = []
    for entry in block.entries:
        by = f" *({md(entry.by)})*" if entry.by else ""
        lines.append(f"- **{md(spoken(entry.on))}**: {md(entry.text)}{by}")
        lines += [f"  - {md(note)}" for note in entry.notes]
    return lines
