"""Business dates with their source's precision (DOMAIN.md, "Dates and sources"): what a
date may be written as, the days it stands for, and how ordering, the future-date refusal
and clocks read imprecise dates."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import DomainError, Stage, decide, parse_command
from domain.dates import BusinessDate, spoken
from tests.domain.domain_scenario import CHAIR, DG, MFA_HEAD, command, run_to


@pytest.mark.parametrize(
    ("text", "earliest", "latest"),
    [
        ("2022-04-04", date(2022, 4, 4), date(2022, 4, 4)),
        ("2021-11", date(2021, 11, 1), date(2021, 11, 30)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),  # a leap year's February
        ("2021", date(2021, 1, 1), date(2021, 12, 31)),
        ("2022-01~", date(2022, 1, 1), date(2022, 1, 31)),  # approximation does not widen
        ("2021?", date(2021, 1, 1), date(2021, 12, 31)),
        ("2021-11-15%", date(2021, 11, 15), date(2021, 11, 15)),
        ("2023-06-16/2025-03-10", date(2023, 6, 16), date(2025, 3, 10)),
        ("2018-05-17/2021", date(2018, 5, 17), date(2021, 12, 31)),
        ("2022-01~/2022-04-04", date(2022, 1, 1), date(2022, 4, 4)),
    ],
)
def test_the_days_a_date_stands_for(text: str, earliest: date, latest: date) -> None:
    parsed = BusinessDate.parse(text)
    assert (parsed.text, parsed.earliest, parsed.latest) == (text, earliest, latest)
    assert str(parsed) == text  # kept exactly as written


@pytest.mark.parametrize(
    "text",
    [
        "2021-13",  # no such month
        "2021-02-29",  # no such day
        "21",
        "2021-1X",  # unspecified digits: not in the subset
        "2022-21",  # a season: not in the subset
        "2021/..",  # open end
        "../2021",
        "2025/2024",  # ends before it starts
        "2021-11-15T10:00",
        " 2021",
        "2021\n",
        "",
    ],
)
def test_what_is_not_a_business_date(text: str) -> None:
    with pytest.raises(ValueError):
        BusinessDate.parse(text)


def test_a_day_is_the_date_it_always_was() -> None:
    day = BusinessDate.parse("2022-04-04")
    assert day.is_day and day == date(2022, 4, 4) and hash(day) == hash(date(2022, 4, 4))
    assert BusinessDate.parse("2022-04") != date(2022, 4, 1)  # a month is no day
    assert BusinessDate.parse("2022-04-04~") != date(2022, 4, 4)
    with pytest.raises(TypeError):
        _ = BusinessDate.parse("2021") < BusinessDate.parse("2022")  # type: ignore[operator]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("2022-04-04", "2022-04-04"),
        ("2021-11", "November 2021"),
        ("2021", "in 2021"),
        ("2022-01~", "early 2022 (approximate)"),
        ("2021?", "in 2021 (uncertain)"),
        ("2021-11%", "late 2021 (approximate, uncertain)"),
        ("2021-06~", "mid 2021 (approximate)"),
        ("2021-11?", "November 2021 (uncertain)"),
        ("2023-06-16/2025-03-10", "between 2023-06-16 and 2025-03-10"),
        ("2018-05/2021", "between May 2018 and 2021"),
    ],
)
def test_a_report_says_no_more_than_the_source(text: str, said: str) -> None:
    assert spoken(BusinessDate.parse(text)) == said


def test_a_command_keeps_its_date_as_written_and_refuses_another_form() -> None:
    payload = {"actor": CHAIR, "occurred_on": "2021-11", "reason": "no progress"}
    assert str(parse_command("mark_dormant", payload).occurred_on) == "2021-11"
    with pytest.raises(DomainError) as refused:
        parse_command("mark_dormant", payload | {"occurred_on": "November 2021"})
    assert refused.value.code == "invalid_input"
    assert "field 'occurred_on': must be a date as its source gives it (EDTF)" in str(refused.value)


# --- invariant 1 on the earliest possible days ------------------------------------------


def _after(last: str, then: str) -> list[object]:
    """Record a meeting dated `last`, then one dated `then`: the events, or DomainError."""
    run = run_to(Stage.NEGOTIATING)
    meeting = {"format": "online", "initiator": "partner"}
    run.do("record_meeting", MFA_HEAD, on=BusinessDate.parse(last), **meeting)
    later = command("record_meeting", MFA_HEAD, BusinessDate.parse(then), **meeting)
    return list(decide(run.state, later))


@pytest.mark.parametrize(
    ("last", "then"),
    [
        ("2030", "2030-11-15"),  # a day within or after the last date's span
        ("2030-11", "2030-11"),  # equal months
        ("2030-11", "2030-11-01"),
        ("2030-01/2030-06", "2030-01/2030-03"),  # equal earliest days, overlapping ranges
        ("2030-01/2030-06", "2030-03/2030-04"),  # a range inside the last one
        ("2030-01~", "2030-01-01"),
    ],
)
def test_dates_compared_by_their_earliest_possible_day(last: str, then: str) -> None:
    assert _after(last, then)


@pytest.mark.parametrize(
    ("last", "then"),
    [
        ("2030-11", "2030-10"),  # cannot be later: refused
        ("2030-11-15", "2030"),  # "in 2030" may be before 15 November: its earliest day is
        ("2030-11-15", "2030-11-14/2030-12"),
        ("2031", "2030-12~"),  # approximate, but its span is all before 2031
        ("2030-06", "2030-01/2031"),  # a range that may start before the last date
    ],
)
def test_a_date_surely_earlier_is_refused(last: str, then: str) -> None:
    with pytest.raises(DomainError) as refused:
        _after(last, then)
    assert refused.value.code == "out_of_order" and refused.value.field == "occurred_on"
    assert "never go backwards" in refused.value.message


def test_the_future_is_refused_on_the_earliest_possible_day() -> None:
    run = run_to(Stage.NEGOTIATING)
    today = date(2026, 12, 4)
    meeting = {"format": "online", "initiator": "partner"}
    this_year = command("record_meeting", MFA_HEAD, BusinessDate.parse("2026"), **meeting)
    assert decide(run.state, this_year, today=today)  # it may have happened already
    for later in ("2027", "2026-12-06", "2027-01~", "2026-12-06/2027-03"):
        future = command("record_meeting", MFA_HEAD, BusinessDate.parse(later), **meeting)
        with pytest.raises(DomainError) as refused:
            decide(run.state, future, today=today)
        assert refused.value.code == "invalid_input" and refused.value.field == "occurred_on"


def test_a_cited_source_from_the_future_is_refused() -> None:
    run = run_to(Stage.NEGOTIATING)
    today = date(2026, 12, 4)
    source = {"title": "An article", "publisher": "Trend", "date": "2027-01"}
    payload = {
        "actor": MFA_HEAD,
        "occurred_on": "2026-11",
        "format": "online",
        "initiator": "partner",
        "source": source,
    }
    with pytest.raises(DomainError) as refused:
        decide(run.state, parse_command("record_meeting", payload), today=today)
    assert (refused.value.code, refused.value.field) == ("invalid_input", "source.date")
    cited = parse_command("record_meeting", payload | {"source": source | {"date": "2025-03-10"}})
    assert decide(run.state, cited, today=today)


def test_a_source_is_strict() -> None:
    payload = {"actor": CHAIR, "occurred_on": "2021", "reason": "r"}
    for wrong in (
        {"title": "T"},  # no date
        {"title": "T", "date": "March 2025"},
        {"title": "T", "date": "2025", "url": "x"},  # unknown key
        {"title": "", "date": "2025"},
    ):
        with pytest.raises(DomainError) as refused:
            parse_command("mark_dormant", payload | {"source": wrong})
        assert refused.value.code == "invalid_input" and "source" in str(refused.value.field)


def test_the_mission_start_is_checked_against_the_days_an_imprecise_start_allows() -> None:
    run = run_to(Stage.MISSION_READY)
    start = run.today + timedelta(days=40)
    month = BusinessDate.parse(start.strftime("%Y-%m"))
    run.do("start_mission", DG, on=month)
    # actual_start must be one of the days "started in <month>" stands for.
    outside = {"actual_start": (month.earliest - timedelta(days=1)).isoformat()}
    done = {"actual_end": month.latest.isoformat(), "mode": "in_person"}
    with pytest.raises(DomainError) as refused:
        decide(run.state, command("complete_mission", DG, month.latest, **outside, **done))
    assert refused.value.field == "actual_start"
    inside = {"actual_start": month.earliest.isoformat()}
    assert decide(run.state, command("complete_mission", DG, month.latest, **inside, **done))
