"""Input hygiene and bounded errors (issue 12, findings 4-6), on the pure domain.

Future business dates, text hygiene, duplicate JSON keys, the size rule, and the bounds on
every rejection's message and field.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import (
    FUTURE_TOLERANCE,
    MAX_COMMAND_BYTES,
    MESSAGE_LIMIT,
    DomainError,
    LogContact,
    decide,
    decode_event,
    initial_state,
    parse_command,
)
from domain.errors import FIELD_LIMIT
from domain.text import visible
from tests.domain.domain_scenario import (
    CHAIR,
    CONFIG,
    DG,
    MFA_HEAD,
    SIGNATORIES,
    SYSTEM,
    command,
    run_to,
)
from tests.hypothesis_budget import examples

TODAY = date(2026, 12, 4)
MEETING: dict[str, Any] = {
    "actor": MFA_HEAD,
    "occurred_on": "2020-01-01",
    "format": "online",
    "initiator": "mfa",
    "summary": "Talks",
}


def invalid(name: str, data: Any, *, include_system: bool = False) -> DomainError:
    with pytest.raises(DomainError) as caught:
        parse_command(name, data, include_system=include_system)
    assert caught.value.code == "invalid_input", caught.value
    assert len(caught.value.message) <= MESSAGE_LIMIT
    return caught.value


# -- future business dates (DOMAIN.md invariant 1) ---------------------------------------


def test_a_date_up_to_today_plus_one_day_is_accepted() -> None:
    assert timedelta(days=1) == FUTURE_TOLERANCE
    run = run_to("options_review")
    for on in (TODAY, TODAY + timedelta(days=1)):
        meeting = command("record_meeting", MFA_HEAD, on, format="online", initiator="mfa")
        assert [e.event_type for e in decide(run.state, meeting, today=TODAY)] == [
            "MeetingRecorded"
        ]


def test_a_date_two_days_ahead_is_refused_naming_the_rule() -> None:
    run = run_to("options_review")
    on = TODAY + timedelta(days=2)
    meeting = command("record_meeting", MFA_HEAD, on, format="online", initiator="mfa")
    with pytest.raises(DomainError) as caught:
        decide(run.state, meeting, today=TODAY)
    error = caught.value
    assert (error.code, error.field) == ("invalid_input", "occurred_on")
    assert "later than today (UTC) plus one day of tolerance" in error.message
    assert "2026-12-06" in error.message and "2026-12-05" in error.message
    # The typo of the issue (2205 for 2025) too.
    typo = command("record_meeting", MFA_HEAD, date(2205, 3, 17), format="online", initiator="mfa")
    with pytest.raises(DomainError, match="plus one day of tolerance"):
        decide(run.state, typo, today=TODAY)


def test_without_today_there_is_no_future_check() -> None:
    run = run_to("options_review")
    far = command("record_meeting", MFA_HEAD, date(2205, 3, 17), format="online", initiator="mfa")
    assert decide(run.state, far)[0].occurred_on == date(2205, 3, 17)


def test_open_process_is_checked_too() -> None:
    opening = command("open_process", CHAIR, TODAY + timedelta(days=2), process=CONFIG)
    with pytest.raises(DomainError) as caught:
        decide(initial_state(), opening, today=TODAY)
    assert (caught.value.code, caught.value.field) == ("invalid_input", "occurred_on")
    ok = command("open_process", CHAIR, TODAY + timedelta(days=1), process=CONFIG)
    assert decide(initial_state(), ok, today=TODAY)[0].event_type == "ProcessOpened"


def test_the_future_check_comes_first_like_a_malformed_value() -> None:
    # Withdrawn (terminal) and a wrong actor: the date is still what is reported.
    run = run_to("options_review")
    run.do("withdraw", DG, reason="No mandate")
    meeting = command(
        "record_meeting", DG, TODAY + timedelta(days=30), format="online", initiator="mfa"
    )
    with pytest.raises(DomainError) as caught:
        decide(run.state, meeting, today=TODAY)
    assert caught.value.code == "invalid_input"
    with pytest.raises(DomainError) as caught:
        decide(run.state, meeting)
    assert caught.value.code == "terminal"


def test_timer_commands_are_never_refused_for_their_date() -> None:
    run = run_to("options_review")
    dormancy = command("dormancy_due", SYSTEM, TODAY + timedelta(days=400))
    events = decide(run.state, dormancy, today=TODAY)
    assert [e.event_type for e in events] == ["ProcessWentDormant"]


# -- text hygiene ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "field", "data"),
    [
        ("log_contact", "venue", {"venue": "   "}),
        ("log_contact", "venue", {"venue": "\u3000\u00a0"}),  # Unicode spaces only
        ("log_contact", "participants.0", {"venue": "Baku", "participants": [" \t "]}),
        ("suspend", "reason", {"reason": " \n "}),
        ("grant_consent", "conditions.0", {"tor_version": 1, "conditions": ["  "]}),
        ("deliver_report", "title", {"title": " ", "version": 1, "recipient": "mfa"}),
    ],
)
def test_whitespace_only_required_text_is_refused(
    name: str, field: str, data: dict[str, Any]
) -> None:
    payload = {"actor": CHAIR, "occurred_on": "2020-01-01", "classification": "public", **data}
    if name != "deliver_report":
        payload.pop("classification")
    error = invalid(name, payload)
    assert error.field == field
    assert "must not be empty or only whitespace" in error.message
    assert field in error.message


def test_whitespace_only_names_in_actor_and_configuration_are_refused() -> None:
    error = invalid("record_meeting", MEETING | {"actor": MFA_HEAD | {"name": "  "}})
    assert error.field == "actor.name"
    agencies = [CONFIG["agencies"][0] | {"name": " "}, *CONFIG["agencies"][1:]]
    for process, field in (
        (CONFIG | {"country": "\t"}, "process.country"),
        (CONFIG | {"partner": {"name": "ICMP", "short_name": "  "}}, "process.partner.short_name"),
        (CONFIG | {"agencies": agencies}, "process.agencies.0.name"),
    ):
        opening = {"actor": CHAIR, "occurred_on": "2018-05-17", "process": process}
        assert invalid("open_process", opening).field == field
    signing = {
        "actor": CHAIR,
        "occurred_on": "2020-01-01",
        "draft_version": 1,
        "place": "Baku",
        "signatories": [SIGNATORIES[0] | {"name": " "}, SIGNATORIES[1]],
    }
    assert invalid("sign_instrument", signing).field == "signatories.0.name"


def test_text_is_stripped_and_optional_text_may_be_empty() -> None:
    contact = {"actor": CHAIR, "occurred_on": "2018-05-17", "venue": "  The Hague\n"}
    parsed = parse_command("log_contact", contact | {"summary": "   ", "participants": [" A "]})
    assert isinstance(parsed, LogContact)
    assert (parsed.venue, parsed.summary, parsed.participants) == ("The Hague", "", ("A",))


@pytest.mark.parametrize("char", ["\x1b", "\x08", "\r", "\x7f", "\x85", "\x9b", "\u2028", "\x0c"])
def test_control_characters_are_refused_in_free_text(char: str) -> None:
    error = invalid("record_meeting", MEETING | {"summary": f"Talks{char}[2J forged"})
    assert error.field == "summary"
    assert "control characters other than newline and tab" in error.message
    assert "forged" not in error.message


def test_newline_and_tab_are_free_texts_only() -> None:
    text = "First point.\n\tSecond point."
    assert parse_command("record_meeting", MEETING | {"summary": text}).summary == text  # type: ignore[attr-defined]
    for field, value in (("location", "Baku\nFake line"), ("location", "Baku\tx")):
        error = invalid("record_meeting", MEETING | {field: value})
        assert error.field == field
        assert "one line without control characters" in error.message
    error = invalid("log_contact", {"actor": CHAIR, "occurred_on": "2018-05-17", "venue": "a\nb"})
    assert error.field == "venue"


@pytest.mark.parametrize("char", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066",
                                  "\u2067", "\u2068", "\u2069"])  # fmt: skip
def test_bidi_embeddings_overrides_and_isolates_are_refused(char: str) -> None:
    error = invalid("record_meeting", MEETING | {"summary": f"approved{char}devorppa ton"})
    assert error.field == "summary"
    assert "bidirectional" in error.message
    assert "devorppa" not in error.message
    error = invalid("record_meeting", MEETING | {"actor": MFA_HEAD | {"name": f"A{char}B"}})
    assert error.field == "actor.name"


def test_bidi_marks_of_ordinary_right_to_left_text_are_allowed() -> None:
    text = "\u0645\u0648\u0627\u0641\u0642\u0629\u200f (2023)\u200e \u061c"
    assert parse_command("record_meeting", MEETING | {"summary": text}).summary == text  # type: ignore[attr-defined]


def test_stored_facts_are_read_as_recorded() -> None:
    # Recorded before the hygiene rules: still readable, never rewritten by them.
    stored = {"occurred_on": "2018-05-17", "venue": "  ", "summary": "a\x1bb\u202e"}
    event = decode_event("ContactLogged", 2, stored)
    assert (event.venue, event.summary) == ("  ", "a\x1bb\u202e")  # type: ignore[attr-defined]
    config = CONFIG | {"country": " Azerbaijan\u202e "}
    opened = decode_event("ProcessOpened", 1, {"occurred_on": "2018-05-17", "process": config})
    assert opened.process.country == " Azerbaijan\u202e "  # type: ignore[attr-defined]


# -- duplicate keys ---------------------------------------------------------------------------


def test_duplicate_keys_are_refused_at_any_depth_naming_the_path() -> None:
    top = json.dumps(MEETING)[:-1] + ', "summary": "Other"}'
    nested_actor = json.dumps(MEETING).replace(
        '"role": "head"', '"role": "head", "role": "representative"'
    )
    for raw, path in ((top, "summary"), (nested_actor, "actor.role")):
        for form in (raw, raw.encode()):
            error = invalid("record_meeting", form)
            assert error.field == path
            assert f"field '{path}'" in error.message
            assert "a key appears twice" in error.message
    opening = json.dumps({"actor": CHAIR, "occurred_on": "2018-05-17", "process": CONFIG})
    deep = opening.replace('"key": "presidential_administration"', '"key": "x", "key": "pa"')
    assert invalid("open_process", deep).field == "process.agencies.1.key"
    # Escaped spellings of one key are the same key.
    escaped = json.dumps(MEETING)[:-1] + ', "\\u0073ummary": "Other"}'
    assert invalid("record_meeting", escaped).field == "summary"


def test_a_duplicated_unknown_key_is_quoted_short_and_sanitized() -> None:
    key = "k\x1b[31m" + "x" * 500
    raw = json.dumps(MEETING | {"actor": {**MFA_HEAD}})
    raw = raw.replace(
        '"actor": {', '"actor": {' + json.dumps(key) + ": 1, " + json.dumps(key) + ": 2, "
    )
    error = invalid("record_meeting", raw)
    assert error.field is not None and error.field.startswith("actor.k")
    assert "x" * 60 not in error.message and "\x1b" not in error.message


def test_same_key_in_different_objects_is_not_a_duplicate() -> None:
    signing = {
        "actor": CHAIR | {"name": "Chair"},
        "occurred_on": "2020-01-01",
        "draft_version": 1,
        "place": "Baku",
        "signatories": SIGNATORIES,
    }
    assert parse_command("sign_instrument", json.dumps(signing)).name == "sign_instrument"


# -- the size rule ------------------------------------------------------------------------------


def test_an_oversized_payload_is_refused_before_parsing() -> None:
    raw = json.dumps(MEETING | {"summary": "x" * MAX_COMMAND_BYTES})
    for form in (raw, raw.encode(), MEETING | {"summary": "x" * MAX_COMMAND_BYTES}):
        error = invalid("record_meeting", form)
        assert error.field is None
        assert f"at most {MAX_COMMAND_BYTES} bytes" in error.message
    # Not even JSON: the size is all that is looked at.
    assert "bytes" in invalid("record_meeting", b"[" * (MAX_COMMAND_BYTES + 1)).message


def test_the_largest_valid_command_is_below_the_size_rule() -> None:
    # submit_review at every bound, in a three-byte script, sent as UTF-8 (as Accord's
    # pydantic converter and the temporal CLI send it).
    review = {
        "actor": MFA_HEAD | {"name": "語" * 200},
        "occurred_on": "2024-02-01",
        "report_version": 1000,
        "conclusions": "語" * 2000,
        "proposals": ["語" * 500] * 50,
    }
    raw = json.dumps(review, ensure_ascii=False).encode()
    assert MAX_COMMAND_BYTES * 0.6 < len(raw) < MAX_COMMAND_BYTES
    assert parse_command("submit_review", raw).name == "submit_review"
    # A long review in Cyrillic with every character \u-escaped (ensure_ascii encoders).
    review |= {"conclusions": "Ж" * 2000, "proposals": ["Ж" * 500] * 25, "actor": MFA_HEAD}
    escaped = json.dumps(review)
    assert len(escaped) < MAX_COMMAND_BYTES
    assert parse_command("submit_review", escaped).name == "submit_review"


# -- bounded errors -------------------------------------------------------------------------------


def test_a_970_character_unknown_key_is_not_echoed() -> None:
    key = "q" * 970
    error = invalid("record_meeting", json.dumps(MEETING | {key: "value-secret"}))
    assert key not in error.message and "value-secret" not in error.message
    assert error.field is not None and len(error.field) <= 40
    assert "Extra inputs are not permitted" in error.message


def test_at_most_five_problems_are_listed() -> None:
    error = invalid("record_meeting", MEETING | {f"extra_{i}": i for i in range(12)})
    assert error.message.count("field '") == 5
    assert error.message.endswith("; and 7 more")
    assert error.field == "extra_0"


def test_a_long_wrong_list_stops_at_its_first_bad_item() -> None:
    # The 120 KB command: one problem, not 40,000 (lists fail fast).
    opinion = {"actor": CHAIR, "occurred_on": "2020-01-01", "recommendation": "negotiate"}
    error = invalid("submit_opinion", json.dumps(opinion | {"conditions": [1] * 40000}))
    assert error.message == "submit_opinion: field 'conditions.0': Input should be a valid string"
    error = invalid("submit_opinion", opinion | {"conditions": ["x"] * 20000})
    assert error.field == "conditions" and "at most 20 items" in error.message


def test_a_payload_with_too_many_problems_is_not_analysed() -> None:
    error = invalid("record_meeting", MEETING | {f"k{i}": 0 for i in range(1000)})
    assert error.field is None
    assert "1000 problems in the payload, too many to list" in error.message


def test_many_unknown_keys_stay_within_the_limit() -> None:
    keys = {f"unknown_key_number_{i:04d}_" + "z" * 30: i for i in range(150)}
    error = invalid("record_meeting", MEETING | keys)
    assert "and " in error.message and "more" in error.message
    assert error.field is not None and error.field.startswith("unknown_key_number_0000")


def test_an_unknown_command_name_is_quoted_short_and_sanitized() -> None:
    error = invalid("\x1b]0;pwned\x07" + "n" * 500, MEETING)
    assert error.field == "name"
    assert "unknown command" in error.message
    assert "\x1b" not in error.message and "\x07" not in error.message
    assert "n" * 50 not in error.message


def test_every_domain_error_is_bounded_and_sanitized() -> None:
    error = DomainError("guard_failed", "rule \x1b[2J" + "m" * 5000, "f\u202e" + "x" * 500)
    assert len(error.message) == MESSAGE_LIMIT and error.message.endswith("…")
    assert error.field is not None and len(error.field) == FIELD_LIMIT
    assert "\x1b" not in error.message and "\u202e" not in error.field
    as_dict = error.to_dict()
    assert as_dict == {"code": "guard_failed", "message": error.message, "field": error.field}
    assert len(json.dumps(as_dict)) < 1000


# -- what the CLI prints --------------------------------------------------------------------


def test_visible_escapes_what_could_drive_a_terminal() -> None:
    assert visible("Baku, Azərbaycan") == "Baku, Azərbaycan"
    assert visible("a\x1b[2Jb\rc\x08d\u202ee\nf") == "a\\x1b[2Jb\\rc\\x08d\\u202ee\\nf"
    assert visible("a\nb\tc\x1b", keep_newlines=True) == "a\nb\tc\\x1b"
    # A typed backslash cannot pass for an escape once anything is escaped.
    assert visible("\\x1b\x1b") == "\\\\x1b\\x1b"


# -- the duplicate check's fast path never misses a repeat --------------------------------

_OPENING = {"actor": CHAIR, "occurred_on": "2018-05-17", "process": CONFIG}
_SIGNING = {
    "actor": CHAIR | {"name": ":colon first"},
    "occurred_on": "2020-01-01",
    "draft_version": 1,
    "place": 'Baku "old town": centre',
    "signatories": SIGNATORIES,
}
_VALID: list[tuple[str, dict[str, Any]]] = [
    ("record_meeting", MEETING | {"summary": '":" and ":-) and \\":'}),
    ("sign_instrument", _SIGNING),
    ("open_process", _OPENING),
]


def _objects(node: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        found.append(node)
        for value in node.values():
            _objects(value, found)
    elif isinstance(node, list):
        for value in node:
            _objects(value, found)
    return found


def _render(node: Any, repeat: tuple[int, int] | None, counter: list[int], style: str) -> str:
    """JSON text of `node`; object number repeat[0] repeats its key number repeat[1]."""
    colon = {"compact": ":", "spaced": ": ", "before": " : ", "newline": "\n:"}[style]
    if isinstance(node, dict):
        index = counter[0]
        counter[0] += 1
        pairs = [(k, _render(v, repeat, counter, style)) for k, v in node.items()]
        if repeat is not None and repeat[0] == index:
            pairs.append(pairs[repeat[1] % len(pairs)])
        return "{" + ",".join(json.dumps(k) + colon + v for k, v in pairs) + "}"
    if isinstance(node, list):
        return "[" + ",".join(_render(v, repeat, counter, style) for v in node) + "]"
    return json.dumps(node)


@given(
    which=st.integers(0, len(_VALID) - 1),
    where=st.integers(0, 1000),
    key=st.integers(0, 50),
    style=st.sampled_from(["compact", "spaced", "before", "newline"]),
    repeat=st.booleans(),
    as_bytes=st.booleans(),
)
@settings(max_examples=examples(300), deadline=None)
def test_a_repeated_key_is_found_however_the_json_is_written(
    which: int, where: int, key: int, style: str, repeat: bool, as_bytes: bool
) -> None:
    name, payload = _VALID[which]
    count = len(_objects(json.loads(json.dumps(payload)), []))
    text = _render(
        json.loads(json.dumps(payload)), (where % count, key) if repeat else None, [0], style
    )
    raw: str | bytes = text.encode() if as_bytes else text
    if repeat:
        error = invalid(name, raw)
        assert "a key appears twice" in error.message, error
    else:
        assert parse_command(name, raw).name == name


def test_a_repeat_hidden_by_spaced_colons_and_a_colon_in_a_value_is_found() -> None:
    # Two keys written `"key" :` (not counted as `":`), a value holding `\":` (counted):
    # the `":` count equals the fields set, yet "format" repeats.
    body = json.dumps(MEETING | {"summary": 'He said "yes": fine'}, separators=(",", ":"))
    body = body.replace('"format":', '"format" :').replace('"initiator":', '"initiator" :')
    body = body[:-1] + ',"format":"online"}'
    assert invalid("record_meeting", body).field == "format"
