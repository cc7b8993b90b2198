"""The story replay says what its source says, no more (issue #17, DOMAIN.md "Dates and
sources"): no day the source does not give, every person it names by name and title, no
name or title it does not give, every fact citing it.

The documented days and names are listed here from the seed text (`../shared/seed/
story.txt`), each with the words that give it, not taken from the scenario file: a
scenario that invents a day or a name fails here."""

from __future__ import annotations

import pytest

from domain import BusinessDate, decode_event
from domain import events as ev
from domain.dates import DatePoint
from readmodel.report import build_report, to_markdown
from store.embedded import project_root
from tests.report.story import story_events

SEED = project_root().parent / "shared" / "seed" / "story.txt"

# Each day the source gives, with the words that give it.
DOCUMENTED_DAYS = {
    "2018-05-17": "during a meeting on May 17, 2018",
    "2022-04-04": "On April 4, 2022",
    "2023-06-05": "on June 5-16, 2023",
    "2023-06-16": "on June 5-16, 2023",
    "2025-03-10": "BAKU, Azerbaijan, March 10",  # the article and the presentation
}
# The people the source names, with the title it gives each.
NAMED = {
    "Gazanfar Ahmadov": "Secretary of the State Commission on Prisoners of War, Hostages "
    "and Missing Citizens of Azerbaijan",
    "Hikmet Hajiyev": "Assistant to the President of Azerbaijan \u2013 Head of the Foreign Policy "
    "Department of the Presidential Administration",
    "Kathryne Bomberger": "Director-General",
    "Andreas Kleiser": "Director for Policy and Cooperation",
    "Carmen Osorno Solis": "Program Manager",
}
# Officials the source mentions by title only.
TITLED = ("Ambassador of Azerbaijan to the Netherlands", "ICMP Director of Policy and Cooperation")


def _points(value: BusinessDate) -> list[DatePoint]:
    return [value.start] if value.end is None else [value.start, value.end]


def test_no_event_carries_a_day_the_source_does_not_give() -> None:
    events = story_events()
    days: list[str] = []
    for recorded in events:
        event = decode_event(recorded.event_type, recorded.schema_version, recorded.data)
        days += [p.text for p in _points(event.occurred_on) if p.precision == "day"]
        if isinstance(event, ev.MissionProposed | ev.MissionRescheduled):
            days += [event.planned_start.isoformat(), event.planned_end.isoformat()]
        if isinstance(event, ev.MissionCompleted):
            days += [event.actual_start.isoformat(), event.actual_end.isoformat()]
        source = recorded.metadata.source
        assert source is not None, f"event {recorded.version} cites no source"
        source_date = BusinessDate.parse(str(source["date"]))
        days += [p.text for p in _points(source_date) if p.precision == "day"]
    invented = sorted(set(days) - set(DOCUMENTED_DAYS))
    assert not invented, f"days the source does not give: {invented}"
    assert set(DOCUMENTED_DAYS) <= set(days)  # and every day it gives is used


def test_the_source_gives_months_years_and_ranges_and_the_record_keeps_them() -> None:
    written = {
        str(decode_event(e.event_type, e.schema_version, e.data).occurred_on)
        for e in story_events()
    }
    # "In 2021", "In November 2021", "since the beginning of 2022", the letter "in May 2018",
    # and undated facts between the dated ones.
    assert {"2021", "2021-11", "2022-01~", "2018-05"} <= written
    assert "2023-06-16/2025-03-10" in written  # the report sent, reviewed, accepted


def test_people_appear_by_name_and_title_and_nobody_else_is_named() -> None:
    events = story_events()
    names: set[str] = set()
    for recorded in events:
        actor = recorded.metadata.actor or {}
        if actor.get("name"):
            names.add(str(actor["name"]))
            assert NAMED[str(actor["name"])] in str(actor.get("title", "")), actor
        event = decode_event(recorded.event_type, recorded.schema_version, recorded.data)
        if isinstance(event, ev.InstrumentSigned):
            # "a Protocol was signed between the State Commission and ICMP": no signatory named.
            assert all(s.name is None for s in event.signatories)
        if isinstance(event, ev.MissionProposed):
            names.update(event.team)
        if isinstance(event, ev.MeetingRecorded | ev.ContactLogged):
            for participant in event.participants:
                name, _, title = participant.partition(", ")
                if name in NAMED:
                    names.add(name)
                    assert NAMED[name] in title, participant
                else:
                    assert participant in TITLED, participant
    assert names == set(NAMED), names ^ set(NAMED)
    report = to_markdown(build_report(events))
    for name in NAMED:
        assert name in report
    assert "Ambassador of Azerbaijan to the Netherlands (name not given)" in report
    assert "signatory (chair) of 2022-04-04 is not named in the source" in report
    assert "Presidential Administration head" not in report  # the title, not a flattened role


@pytest.mark.skipif(not SEED.exists(), reason="the seed text is beside the repository")
def test_the_listed_days_and_names_are_the_seeds() -> None:
    seed = " ".join(SEED.read_text(encoding="utf-8").split())
    for words in DOCUMENTED_DAYS.values():
        assert words in seed, words
    for name, title in NAMED.items():
        assert name in seed and title in seed, name
    for title in TITLED:
        assert title.removeprefix("ICMP ") in seed, title
