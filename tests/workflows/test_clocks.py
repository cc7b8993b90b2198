"""The process's clocks as pure functions of (state, clocks, now): no Temporal needed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from domain import Event, Stage
from domain.dates import BusinessDate
from tests.domain.domain_scenario import CHAIR, DG, MFA_HEAD, SSS_HEAD, Run, run_to
from workflows import clocks
from workflows.clocks import Clock

DAY = 86400.0
# A running time when every date of these processes has happened (a clock never counts from
# a day after today); the other tests only compare times with each other.
LATER = datetime(2099, 1, 1, tzinfo=UTC).timestamp()


def step(run: Run, current: dict[str, Clock], now: float, events: list[Event]) -> dict[str, Clock]:
    return clocks.reconcile(current, run.state, events, now)


def test_a_proposed_mission_arms_the_consent_deadline_for_its_full_period() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    armed = step(run, {}, LATER, [])
    consent = armed["consent/1"]
    period = run.state.config.durations.consent_deadline.total_seconds()  # type: ignore[union-attr]
    assert (consent.command, consent.due_at) == ("consent_deadline_reached", LATER + period)
    assert consent.armed_on == run.state.last_occurred_on


def test_a_clock_armed_by_an_imprecise_date_counts_from_its_latest_possible_day() -> None:
    run = run_to(Stage.INSTRUMENT_SIGNED)
    last = run.state.last_occurred_on
    assert last is not None
    year = str(last.earliest.year + 1)
    # Proposed "in <year>": the consent deadline cannot have started before its last day.
    run.do("propose_mission", DG, on=BusinessDate.parse(year), **_mission(year))
    consent = step(run, {}, LATER, [])["consent/1"]
    assert consent.armed_on == date(int(year), 12, 31)
    # Fired later, it is dated no earlier than the proposal's earliest day, never the future.
    assert consent.fire_date(run.state.last_occurred_on, date(int(year), 3, 1)) == date(
        int(year), 3, 1
    )


def test_a_range_open_into_the_future_counts_from_today_not_from_its_end() -> None:
    """ "<year>/9999" is accepted (its earliest day has passed) but the fact happened by
    today: the clock counts from today (and the day of tolerance), fires, and is dated."""
    run = run_to(Stage.INSTRUMENT_SIGNED)
    last = run.state.last_occurred_on
    assert last is not None
    year = str(last.earliest.year + 1)
    run.do("propose_mission", DG, on=BusinessDate.parse(f"{year}/9999"), **_mission(year))
    now = datetime(int(year) + 1, 6, 1, tzinfo=UTC)
    consent = step(run, {}, now.timestamp(), [])["consent/1"]
    assert consent.armed_on == now.date() + timedelta(days=1)
    period = timedelta(seconds=consent.period)
    fired = consent.fire_date(run.state.last_occurred_on, now.date() + timedelta(days=400))
    assert fired == consent.armed_on + period  # a date, not an overflow at the year 9999


def _mission(year: str) -> dict[str, object]:
    return {
        "tor_version": 1,
        "planned_start": f"{year}-12-31",
        "planned_end": f"{year}-12-31",
        "team": ["A"],
        "agencies_to_meet": ["mfa"],
        "purpose": "Evaluation",
    }


def test_a_clock_the_state_no_longer_wants_is_dropped() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    armed = step(run, {}, 0.0, [])
    events = run.do("grant_consent", MFA_HEAD, tor_version=1)
    events += run.do("grant_consent", SSS_HEAD, tor_version=1)
    assert run.stage() == Stage.MISSION_READY
    assert step(run, armed, 10.0, events) == {}


def test_suspension_stops_every_clock_and_resume_keeps_the_time_left() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    period = run.state.config.durations.consent_deadline.total_seconds()  # type: ignore[union-attr]
    armed = step(run, {}, 0.0, [])
    suspended_at = period - 2 * DAY  # two days before the deadline
    events = run.do("suspend", CHAIR, reason="Elections")
    stopped = step(run, armed, suspended_at, events)
    assert stopped["consent/1"].due_at is None
    assert stopped["consent/1"].remaining == 2 * DAY
    assert clocks.due(stopped, suspended_at + 365 * DAY) == []  # nothing fires meanwhile
    assert clocks.next_due(stopped) is None
    run.tick(30)
    events = run.do("resume", CHAIR, reason="Government formed")
    resumed_at = suspended_at + 30 * DAY
    again = step(run, stopped, resumed_at, events)
    assert again["consent/1"].due_at == resumed_at + 2 * DAY  # not a fresh period


def test_a_clock_already_due_at_suspension_fires_at_once_on_resume_dated_the_resumption() -> None:
    run = run_to(Stage.MISSION_PLANNING)
    armed = step(run, {}, 0.0, [])
    late = armed["consent/1"].due_at or 0.0
    events = run.do("suspend", CHAIR, reason="Elections")
    stopped = step(run, armed, late + 5, events)  # due, not yet fired
    assert stopped["consent/1"].remaining == 0.0
    run.tick(10)
    events = run.do("resume", CHAIR, reason="Back")
    again = step(run, stopped, late + 1000, events)
    [due] = clocks.due(again, late + 1000)
    assert due.fire_date(run.state.last_occurred_on, run.today) == run.today


def test_suspension_and_resumption_do_not_re_arm_dormancy_but_other_events_do() -> None:
    run = run_to(Stage.NEGOTIATING)
    armed = step(run, {}, 0.0, [])
    first = armed["dormancy"].due_at or 0.0
    events = run.do("suspend", CHAIR, reason="Pause")
    stopped = step(run, armed, 100.0, events)
    events = run.do("resume", CHAIR, reason="On")
    resumed = step(run, stopped, 200.0, events)
    assert resumed["dormancy"].due_at == first + 100.0  # the 100 s suspended do not count
    events = run.do(
        "record_meeting", CHAIR, format="online", initiator="national_body", summary="Talks"
    )
    rearmed = step(run, resumed, 300.0, events)
    assert rearmed["dormancy"].due_at == 300.0 + resumed["dormancy"].period


def test_a_deadline_fires_before_a_reminder_due_with_it() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    armed = step(run, {}, 0.0, [])
    same = {k: c.model_copy(update={"due_at": 50.0}) for k, c in armed.items()}
    order = [c.command for c in clocks.due(same, 50.0)]
    assert order == ["review_deadline_reached"] * 2 + ["review_reminder_due"] * 2
    # Earlier reminders come first, as they fall due.
    assert clocks.due(armed, 10 * 365 * DAY)[0].command == "review_reminder_due"


def test_reminders_repeat_each_period() -> None:
    run = run_to(Stage.UNDER_REVIEW)
    armed = step(run, {}, 0.0, [])
    reminder = armed["reminder/1/mfa"]
    fired = clocks.after_firing(reminder)
    assert fired.due_at == (reminder.due_at or 0.0) + reminder.period
    assert fired.periods_done == 1


def test_a_fire_date_is_never_after_today_nor_before_the_last_date() -> None:
    clock = Clock(
        key="consent/1",
        command="consent_deadline_reached",
        period=90 * DAY,
        armed_on=date(2026, 11, 1),
        due_at=0.0,
    )
    assert clock.fire_date(None, date(2027, 6, 1)) == date(2027, 1, 30)
    assert clock.fire_date(None, date(2026, 12, 4)) == date(2026, 12, 4)  # not the future
    assert clock.fire_date(BusinessDate.parse("2027-03-01"), date(2027, 6, 1)) == date(2027, 3, 1)
    # After an imprecise date, never before its earliest possible day (invariant 1's bound).
    assert clock.fire_date(BusinessDate.parse("2027-03~"), date(2027, 6, 1)) == date(2027, 3, 1)
    assert clock.fire_date(BusinessDate.parse("2026-12/2027-04"), date(2027, 6, 1)) == date(
        2027, 1, 30
    )
    # Durations of seconds (tests, scenario replays): the date it was armed on.
    short = clock.model_copy(update={"period": 2.0})
    assert short.fire_date(None, date(2027, 6, 1)) == date(2026, 11, 1)


def test_an_unopened_or_closed_process_wants_no_clock() -> None:
    run = Run()
    assert clocks.wanted(run.state) == {}
    run = run_to(Stage.MISSION_PLANNING)
    run.do("withdraw", DG, reason="No mandate")
    assert clocks.wanted(run.state) == {}


def test_the_days_a_clock_stood_still_move_its_date_on() -> None:
    """Armed on day 0 with 30 days to run, stopped on day 10 for 20 days: it runs its last
    20 days from day 30 and fires on day 50, dated 50 days after it was armed."""
    run = run_to(Stage.MISSION_PLANNING)
    armed = step(run, {}, 0.0, [])
    clock = armed["consent/1"].model_copy(update={"period": 30 * DAY, "due_at": 30 * DAY})
    events = run.do("suspend", CHAIR, reason="Elections")
    stopped = step(run, {"consent/1": clock}, 10 * DAY, events)
    events = run.do("resume", CHAIR, reason="Back")
    resumed = step(run, stopped, 30 * DAY, events)["consent/1"]
    assert resumed.due_at == 50 * DAY
    assert resumed.armed_on == clock.armed_on + timedelta(days=20)
    far = date(2100, 1, 1)
    assert resumed.fire_date(None, far) == clock.armed_on + timedelta(days=50)
