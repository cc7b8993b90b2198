"""Business dates with the precision their source gives (EDTF, ISO 8601-2 level 1 subset).

A fact is dated as its source dates it: a day (`2022-04-04`), a month (`2021-11`), a year
(`2021`), each possibly approximate (`~`), uncertain (`?`) or both (`%`), or a closed range
of two of those (`2023-06-16/2025-03-10`, an undated fact between two dated ones). The text
is kept exactly as written: it is what events store, the feed carries and reports render.
No layer turns a month into its first day.

What the rules need is the span of days the date may stand for:

- `earliest`: invariant 1 (dates never go backwards) compares the earliest possible days,
  and the future-date refusal applies to it (a fact may have happened already);
- `latest`: a clock armed by a fact counts from the latest possible day, so a deadline
  never runs out before it could have started.

Approximation and uncertainty do not widen the span: `2022-01~` spans January 2022. The
qualifier says how far the source vouches for the month, and widening it by some margin
would invent a bound the source does not give; it is kept and shown instead.

Decisions on the subset (DOMAIN.md, "Dates and sources"): level 1's unspecified digits
(`2021-1X`), seasons (`2022-21`), extended and negative years and open or unknown range
ends (`2021/..`) are refused: the domain has no fact that needs them, and each would need
its own rule for ordering and timers. An undated fact is a closed range between the facts
around it.

Parsing: the grammar is gated by one pattern (also the JSON Schemas' `pattern`); bounds
of every form but a plain day come from the `edtf` package (the Library of Congress
specification's reference implementation in Python). A plain day, by far the most common
form and the one every replay folds thousands of times, is read by `date.fromisoformat`:
the package's parser takes ~3.4 ms per call against ~0.1 µs (measured here), and a day's
bounds are the day itself. Results are cached per text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

_DAY = r"(0[1-9]|[12][0-9]|3[01])"
_MONTH = r"(0[1-9]|1[0-2])"
_POINT = rf"[0-9]{{4}}(-{_MONTH}(-{_DAY})?)?[~?%]?"
# The accepted subset, for the JSON Schemas and the gate below.
EDTF_PATTERN = rf"^{_POINT}(/{_POINT})?$"
_GATE = re.compile(EDTF_PATTERN)
_PLAIN_DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

RULE = (
    "must be a date as its source gives it (EDTF): a day 2022-04-04, a month 2021-11 or "
    "a year 2021, optionally followed by ~ (approximate), ? (uncertain) or % (both), or "
    "a range of two such dates joined by /"
)

Precision = Literal["day", "month", "year"]
Qualifier = Literal["", "~", "?", "%"]


@dataclass(frozen=True, slots=True)
class DatePoint:
    """One end of a date: its precision, qualifier and the days it spans."""

    text: str
    precision: Precision
    qualifier: Qualifier
    earliest: date
    latest: date

    @property
    def approximate(self) -> bool:
        return self.qualifier in ("~", "%")

    @property
    def uncertain(self) -> bool:
        return self.qualifier in ("?", "%")


@dataclass(frozen=True, slots=True, eq=False)
class BusinessDate:
    """A business date as written (`text`) and the span of days it may stand for.

    Equal to another when written the same, and a plain day equal to that `date` (so a day
    reads as the `date` it always was). No ordering: callers say which bound they compare
    (`earliest` for invariant 1, `latest` for clocks), so none compares text by mistake."""

    text: str
    start: DatePoint
    end: DatePoint | None = None  # set for a range

    @property
    def earliest(self) -> date:
        return self.start.earliest

    @property
    def latest(self) -> date:
        return (self.end or self.start).latest

    @property
    def is_day(self) -> bool:
        """A plain day, exactly as precise as a `date`."""
        return self.end is None and self.start.precision == "day" and not self.start.qualifier

    @property
    def is_range(self) -> bool:
        return self.end is not None

    @classmethod
    def of(cls, day: date) -> BusinessDate:
        return parse_business_date(day.isoformat())

    @classmethod
    def parse(cls, text: str) -> BusinessDate:
        return parse_business_date(text)

    def __str__(self) -> str:
        return self.text

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BusinessDate):
            return self.text == other.text
        if isinstance(other, date) and not isinstance(other, datetime):
            return self.is_day and self.start.earliest == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.start.earliest) if self.is_day else hash(self.text)

    # Pydantic: validated from the EDTF text (or a `date`, or an instance), dumped as the
    # text in both Python and JSON mode, so an event's data holds the date as written and a
    # day reads and writes exactly as the `date` it replaced did.
    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "pattern": EDTF_PATTERN, "maxLength": 32}


def _validate(value: object) -> BusinessDate:
    if isinstance(value, BusinessDate):
        return value
    if isinstance(value, date):
        return BusinessDate.of(value)
    if isinstance(value, str):
        return parse_business_date(value)
    raise ValueError(RULE)


@lru_cache(maxsize=8192)
def parse_business_date(text: str) -> BusinessDate:
    """The date `text` stands for; ValueError (naming the rule) when it is not one."""
    if not isinstance(text, str) or len(text) > 32 or not _GATE.fullmatch(text):
        raise ValueError(RULE)
    if _PLAIN_DAY.fullmatch(text):
        day = _day(text)
        return BusinessDate(text, DatePoint(text, "day", "", day, day))
    first, _, second = text.partition("/")
    start = _point(first)
    if not second:
        return BusinessDate(text, start)
    end = _point(second)
    if end.earliest < start.earliest or end.latest < start.latest:
        raise ValueError(f"a range must not end before it starts ({text[:32]})")
    return BusinessDate(text, start, end)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text} is not a day of the calendar") from None


def _point(text: str) -> DatePoint:
    qualifier: Qualifier = ""
    bare = text
    if text[-1] in "~?%":
        qualifier = text[-1]  # type: ignore[assignment]
        bare = text[:-1]
    precisions: tuple[Precision, ...] = ("year", "month", "day")
    precision = precisions[bare.count("-")]
    if precision == "day":
        day = _day(bare)
        return DatePoint(text, precision, qualifier, day, day)
    earliest, latest = _span(bare)
    return DatePoint(text, precision, qualifier, earliest, latest)


def _span(bare: str) -> tuple[date, date]:
    """First and last day of a month or year, from the `edtf` package."""
    from edtf import parse_edtf, struct_time_to_date  # ~0.25 s to import: only when needed

    parsed = parse_edtf(bare)
    return struct_time_to_date(parsed.lower_strict()), struct_time_to_date(parsed.upper_strict())


_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_QUALIFIED = {"~": " (approximate)", "?": " (uncertain)", "%": " (approximate, uncertain)"}


def spoken(value: BusinessDate) -> str:
    """A business date as a report says it, no more precise than written: "2022-04-04",
    "November 2021", "in 2021", "early 2022 (approximate)", "between 2023-06-16 and
    2025-03-10". Days stay ISO, as everywhere else in the record.

    An approximate month is said as the part of its year (early: January to April, mid:
    May to August, late: September to December), as DOMAIN.md's example reads `2022-01~`:
    naming the month would claim the precision `~` takes back."""
    if value.end is None:
        return _spoken_point(value.start, standalone=True)
    return (
        f"between {_spoken_point(value.start, standalone=False)} and "
        f"{_spoken_point(value.end, standalone=False)}"
    )


def _spoken_point(point: DatePoint, *, standalone: bool) -> str:
    if point.precision == "day":
        text = point.earliest.isoformat()
    elif point.precision == "month" and point.qualifier in ("~", "%"):
        part = ("early", "mid", "late")[(point.earliest.month - 1) // 4]
        text = f"{part} {point.earliest.year}"
    elif point.precision == "month":
        text = f"{_MONTHS[point.earliest.month - 1]} {point.earliest.year}"
    else:
        text = f"in {point.earliest.year}" if standalone else str(point.earliest.year)
    return text + _QUALIFIED.get(point.qualifier, "")
