"""The HTML page says what the report model says, element by element, for every scenario the
domain decider plays alone (no Temporal).

The expected structure is written here from the model, independently of the templates: the
page's body parsed into tokens (whitespace between elements ignored, as a browser does)
must be exactly the tokens the model calls for. Event text is in it verbatim, so it also
shows that autoescaping neither loses nor adds anything.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from domain import DomainError
from domain.dates import spoken
from domain.text import visible
from readmodel.report import (
    Block,
    Entry,
    Facts,
    Paragraph,
    Report,
    StageChart,
    Table,
    build_report,
    stage_label,
    to_html,
)
from tests.report.story import ROOT, scenario_recorder
from tests.report.test_report import hostile_events

Token = tuple[str, ...]


class _Tokens(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tokens: list[Token] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tokens.append(("<", tag, *(f"{k}={v}" for k, v in attrs)))

    def handle_endtag(self, tag: str) -> None:
        self.tokens.append(("/", tag))

    def handle_data(self, data: str) -> None:
        if text := " ".join(data.split()):
            self.tokens.append(("text", text))


def body_tokens(page: str) -> list[Token]:
    parser = _Tokens()
    parser.feed(page)
    parser.close()
    tokens = parser.tokens
    return tokens[tokens.index(("<", "body")) :]


def _text(value: str) -> Token:
    return ("text", " ".join(visible(value, keep_newlines=True).split()))


def _element(tag: str, text: str, *attrs: str) -> list[Token]:
    return [("<", tag, *attrs), _text(text), ("/", tag)]


def _entry(entry: Entry) -> list[Token]:
    on = entry.on
    machine = (f"datetime={on.start.text}",) if on.end is None and not on.start.qualifier else ()
    tokens = [("<", "li"), *_element("time", spoken(on), *machine), ("<", "div")]
    if entry.by:
        tokens += [_text(entry.text), *_element("span", f"({entry.by})", "class=by")]
    else:
        tokens.append(_text(entry.text))
    tokens.append(("/", "div"))
    if entry.notes:
        tokens.append(("<", "ul", "class=notes"))
        for note in entry.notes:
            tokens += _element("li", note)
        tokens.append(("/", "ul"))
    return [*tokens, ("/", "li")]


def _chart(chart: StageChart, page_tokens: list[Token]) -> list[Token]:
    """The chart's own tokens, checked for what the model decides: a row label per stage
    and one bar per period, titled with its dates as written."""
    start = page_tokens.index(next(t for t in page_tokens if t[:2] == ("<", "svg")))
    end = page_tokens.index(("/", "svg"), start)
    svg = page_tokens[start : end + 1]
    texts = [t[1] for t in svg if t[0] == "text"]
    stages = list(dict.fromkeys(p.stage for p in chart.periods))
    assert [stage_label(s) for s in stages] == [
        text for text in texts if text in {stage_label(s) for s in stages}
    ]
    for period in chart.periods:
        until = spoken(period.end) if period.end else chart.until.isoformat()
        assert f"{stage_label(period.stage)}: {spoken(period.start)} to {until}" in texts
    assert sum(t[:2] == ("<", "rect") for t in svg) == len(chart.periods)
    del page_tokens[start : end + 1]  # the next chart, if any, is found after this one
    return svg


def _block(block: Block, page_tokens: list[Token]) -> list[Token]:
    if isinstance(block, StageChart):
        return _chart(block, page_tokens)
    if isinstance(block, Paragraph):
        return _element("p", block.text)
    if isinstance(block, Facts):
        tokens: list[Token] = [("<", "dl")]
        for label, value in block.rows:
            tokens += _element("dt", label) + _element("dd", value)
        return [*tokens, ("/", "dl")]
    if isinstance(block, Table):
        tokens = [("<", "table"), ("<", "thead"), ("<", "tr")]
        for heading in block.header:
            tokens += _element("th", heading, "scope=col")
        tokens += [("/", "tr"), ("/", "thead"), ("<", "tbody")]
        for row in block.rows:
            tokens.append(("<", "tr"))
            for cell in row:
                tokens += _element("td", cell)
            tokens.append(("/", "tr"))
        return [*tokens, ("/", "tbody"), ("/", "table")]
    tokens = [("<", "ol", "class=timeline")]
    for entry in block.entries:
        tokens += _entry(entry)
    return [*tokens, ("/", "ol")]


def expected_body(report: Report, page_tokens: list[Token]) -> list[Token]:
    remaining = list(page_tokens)
    tokens: list[Token] = [("<", "body"), ("<", "header")]
    tokens += _element("h1", report.title) + _element("p", report.subtitle, "class=subtitle")
    if report.as_of is not None:
        tokens += [("<", "p", "class=as-of"), ("text", "Report as of")]
        tokens += [*_element("time", report.as_of.isoformat()), ("/", "p")]
    tokens += [("/", "header"), ("<", "main")]
    for section in report.sections:
        tokens += [("<", "section"), *_element("h2", section.title)]
        for block in section.blocks:
            tokens += _block(block, remaining)
        tokens.append(("/", "section"))
    tokens.append(("/", "main"))
    if report.provenance:
        tokens.append(("<", "footer"))
        for line in report.provenance:
            tokens += _element("p", line)
        tokens.append(("/", "footer"))
    return [*tokens, ("/", "body"), ("/", "html")]


def assert_page_matches(report: Report) -> None:
    tokens = body_tokens(to_html(report))
    assert tokens == expected_body(report, tokens)


SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_the_page_is_the_model(path: Path) -> None:
    try:
        events = scenario_recorder(path, f"coop-{path.stem}").events
    except (DomainError, AssertionError) as error:
        pytest.skip(f"the decider alone cannot play it: {type(error).__name__} {error}")
    generated = datetime(2026, 2, 1, 10, 0, tzinfo=UTC)
    assert_page_matches(build_report(events))
    assert_page_matches(build_report(events, chain_ok=True, generated_at=generated))


def test_hostile_text_is_shown_as_written() -> None:
    assert_page_matches(build_report(hostile_events()))
