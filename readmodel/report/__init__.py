"""A process's report, built from its recorded events alone, one job per module:

- `model`: the document (sections of plain-text blocks; no markup anywhere in it);
- `build`: `build_report`, the recorded events folded into that document, with the help of
  `rows` (events decoded and corrected), `names` (who is who), `stages` (time in each
  stage) and `sections` (parties, sources, mission, reviews);
- `markdown` and `html`: the two renderers, each the one place its format escapes text
  (`html` through Jinja2 templates in `templates/`, autoescaped).

No I/O here (the command is `cli/report_cli.py`).
"""

from .build import build_report
from .html import stage_chart_svg, to_html
from .markdown import md, to_markdown
from .model import (
    Block,
    Entry,
    Facts,
    Paragraph,
    Report,
    Section,
    StageChart,
    StagePeriod,
    Table,
    Timeline,
)
from .stages import span, span_between, stage_label, stage_periods

__all__ = [
    "Block",
    "Entry",
    "Facts",
    "Paragraph",
    "Report",
    "Section",
    "StageChart",
    "StagePeriod",
    "Table",
    "Timeline",
    "build_report",
    "md",
    "span",
    "span_between",
    "stage_chart_svg",
    "stage_label",
    "stage_periods",
    "to_html",
    "to_markdown",
]
