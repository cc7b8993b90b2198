"""Bad input, category by category: Hypothesis strategies of commands the domain refuses,
and the checks every refusal must pass. Shared by two layers:

- `tests/domain/test_domain_bad_input.py` sends every category, at its full budget, to
  `parse_command` + `decide` alone (the refusal is theirs: no Temporal needed);
- `tests/badinput/test_bad_commands.py` sends a thin sample of each through a real
  Temporal update, so every way in is still tried from outside, plus the categories only
  the workflow decides (the update's envelope, a finished process).

A case is drawn against a set of processes (`ProcessState`s by name): the story's stages
in the domain, processes held at those stages on a server in the Temporal test. Commands,
who may issue them and where come from the rules registry (`domain.rules.RULES`); the
actors from the process's own parties and the domain's roles.
"""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from domain import (
    COMMANDS,
    MAX_COMMAND_BYTES,
    MESSAGE_LIMIT,
    SYSTEM_COMMANDS,
    DomainError,
    ProcessState,
    decide,
    parse_command,
)
from domain.parties import Actor, ProcessConfig, roles_of
from domain.policy import may_issue
from domain.rules import RULES
from domain.stages import Stage
from domain.text import echo
from domain.vocabulary import NATIONAL_BODY, PARTNER, SYSTEM

# -- what a well-formed command of each kind looks like (every optional field set) ---------

SIGNATORIES = [
    {"party": "national_body", "role": "chair", "name": "Chair"},
    {"party": "partner", "role": "director_general", "name": "Kathryne Bomberger"},
]
FULL: dict[str, dict[str, Any]] = {
    "log_contact": {
        "venue": "The Hague",
        "participants": ["ICMP Director"],
        "modalities": ["membership"],
        "summary": "First contact",
    },
    "submit_opinion": {"recommendation": "negotiate", "conditions": ["With MFA"], "summary": "S"},
    "assign_representative": {"representative": "MFA representative", "title": "Ambassador"},
    "record_meeting": {
        "format": "online",
        "location": "Baku",
        "agencies_present": ["mfa"],
        "initiator": "national_body",
        "summary": "Talks",
    },
    "mark_dormant": {"reason": "No progress"},
    "re_engage": {"initiator": "presidential_administration", "summary": "Again"},
    "propose_instrument": {"type": "mou", "draft_version": 7, "title": "Protocol", "summary": "D"},
    "clear_instrument": {"draft_version": 1},
    "sign_instrument": {"draft_version": 1, "place": "Baku", "signatories": SIGNATORIES},
    "propose_mission": {
        "tor_version": 1,
        "planned_start": "2030-01-01",
        "planned_end": "2030-01-10",
        "team": ["Expert"],
        "agencies_to_meet": ["mfa"],
        "purpose": "Evaluation",
    },
    "grant_consent": {"tor_version": 1, "conditions": ["Escorted"]},
    "refuse_consent": {"tor_version": 1, "reason": "Not now"},
    "reschedule_mission": {
        "planned_start": "2030-01-01",
        "planned_end": "2030-01-10",
        "reason": "Weather",
    },
    "start_mission": {"note": "Arrived"},
    "record_mission_meeting": {
        "received_by": ["national_body"],
        "location": "Baku",
        "summary": "M",
    },
    "complete_mission": {
        "actual_start": "2023-06-05",
        "actual_end": "2023-06-16",
        "mode": "in_person",
        "coverage_gaps": ["Archives"],
    },
    "deliver_report": {
        "title": "Report",
        "version": 1,
        "recipient": "mfa",
        "classification": "restricted",
    },
    "submit_review": {"report_version": 1, "conclusions": "Agreed", "proposals": ["More"]},
    "submit_conclusions": {"report_version": 1, "summary": "Done", "proposals": ["More"]},
    "request_revision": {"report_version": 1, "points": ["Detail"]},
    "revise_report": {"version": 2, "title": "Report v2", "changes": "Fixed"},
    "accept_report": {"report_version": 1},
    "hold_presentation": {"venue": "Baku", "attendee_categories": ["Media"]},
    "clear_publication": {},
    "publish_report": {"languages": ["en", "az"]},
    "suspend": {"reason": "Elections"},
    "resume": {"reason": "Resumed"},
    "withdraw": {"reason": "No mandate"},
    "close_process": {"summary": "Done"},
}
# The commands anyone may send, in the registry's order. open_process is answered by the
# update's envelope (a process is open once it runs); correct_record refers to an earlier
# event by version and checks its fields against that event's own types, in an order of
# its own (domain/corrections.py): its bad inputs are tested with it
# (tests/domain/test_domain_correct_record.py, tests/workflows/test_correction.py).
PUBLIC = [n for n in RULES if n in COMMANDS and n not in ("open_process", "correct_record")]
assert set(PUBLIC) == set(FULL), set(PUBLIC) ^ set(FULL)

# Field kinds, for wrong types and oversized values. Text bounds are DECISIONS.md's.
NAME_FIELDS = {"venue", "representative", "title", "location", "place"}
TEXT_FIELDS = {"summary", "purpose", "note", "conclusions", "changes", "reason"}
TEXT_LIMIT = {**dict.fromkeys(NAME_FIELDS, 200), **dict.fromkeys(TEXT_FIELDS, 2000)}
VERSION_FIELDS = {"draft_version", "tor_version", "version", "report_version"}
DATE_FIELDS = {"planned_start", "planned_end", "actual_start", "actual_end"}
ENUM_FIELDS = {"recommendation", "format", "type", "mode", "classification"}
KEY_FIELDS = {"initiator", "recipient"}
# List fields: their item bound (text) or None (keys, codes, objects), and their length bound.
LIST_FIELDS: dict[str, tuple[int | None, int]] = {
    "participants": (200, 50),
    "team": (200, 30),
    "attendee_categories": (200, 20),
    "conditions": (500, 20),
    "coverage_gaps": (500, 20),
    "points": (500, 50),
    "proposals": (500, 50),
    "agencies_present": (None, 30),
    "agencies_to_meet": (None, 30),
    "received_by": (None, 30),
    "languages": (None, 10),
    "signatories": (None, 20),
    "modalities": (None, 2),
}

WRONG_TYPED: dict[str, list[Any]] = {
    "text": [7, 1.5, True, ["x"], {"x": 1}],
    "version": ["1", 1.5, True, [1], {"v": 1}, None],
    "date": [20180517, "17/05/2018", "2018-02-30", "yesterday", True, ["2018-05-17"], None],
    "enum": ["maybe", 3, True, ["online"], None],
    "key": [7, True, ["mfa"], "Not A Key!", None],
    "list": ["x", 7, {"a": 1}, True, None],
    "actor": ["mfa", 7, ["mfa", "head"], None],
}

MFA_HEAD = {"party": "mfa", "role": "head"}
NB_CHAIR = {"party": "national_body", "role": "chair"}
ICMP_DG = {"party": "partner", "role": "director_general"}

# Valid free text: any character but NUL (refused on its own, see `nul`) and no lone
# surrogates (not encodable as UTF-8 JSON at all).
SAFE_TEXT = st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])
# Text a command accepts anywhere: no control, separator or bidi control characters
# (`unclean_text` sends those on purpose).
CLEAN_TEXT = st.characters(
    blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
    blacklist_categories=["Cs", "Cc", "Zl", "Zp"],
)


def kind_of(field: str) -> str:
    if field in NAME_FIELDS or field in TEXT_FIELDS:
        return "text"
    if field in VERSION_FIELDS:
        return "version"
    if field in DATE_FIELDS or field == "occurred_on":
        return "date"
    if field in ENUM_FIELDS:
        return "enum"
    if field in KEY_FIELDS:
        return "key"
    if field in LIST_FIELDS:
        return "list"
    assert field == "actor", field
    return "actor"


def none_allowed(command: str, field: str) -> bool:
    info = COMMANDS[command].model_fields.get(field)
    return info is not None and not info.is_required() and info.default is None


def actors(config: ProcessConfig) -> list[dict[str, str]]:
    """Every role of every party of the process, and of an agency it does not have."""
    parties = [PARTNER, NATIONAL_BODY, SYSTEM, *(a.key for a in config.agencies)]
    parties.append("ministry_of_culture")  # not a party of these processes
    return [{"party": p, "role": r} for p in parties for r in sorted(roles_of(p))]


def permitted(command: str, config: ProcessConfig) -> list[dict[str, str]]:
    """The actors the rule's `who` admits (RULES fills the policy `may_issue` reads)."""
    return [a for a in actors(config) if may_issue(command, Actor.model_validate(a), config)]


def forbidden(command: str, config: ProcessConfig) -> list[dict[str, str]]:
    return [a for a in actors(config) if not may_issue(command, Actor.model_validate(a), config)]


def accepted_in(command: str) -> frozenset[Stage]:
    stages = RULES[command].stages
    assert stages is not None, command
    return stages


def payload(command: str, actor: dict[str, Any], on: date, **changes: Any) -> dict[str, Any]:
    return {**FULL[command], "actor": actor, "occurred_on": on.isoformat(), **changes}


def today() -> date:
    return datetime.now(UTC).date()


def dates_from(start: date) -> st.SearchStrategy[date]:
    """Dates from `start` up to the last one the worker accepts (today, UTC, plus a day)."""
    latest = (today() + timedelta(days=1) - start).days
    return st.integers(0, max(0, min(3000, latest))).map(lambda days: start + timedelta(days=days))


def dates_before(end: date) -> st.SearchStrategy[date]:
    return st.integers(1, 20000).map(lambda days: end - timedelta(days=days))


# -- a case, as sent and as it must be refused ---------------------------------------------


@dataclass(frozen=True)
class Raw:
    """Bytes sent as they are, labelled JSON: what a client with a broken encoder sends."""

    data: bytes


@dataclass(frozen=True)
class Case:
    category: str
    target: str  # name of the process it is sent to
    name: str  # the command (update) name
    args: tuple[Any, ...]  # arguments, as sent: JSON values or `Raw` bytes
    code: str  # expected error code
    field: str | None = None  # expected `field` (a prefix match for list items / nesting)
    rule: str | None = None  # a fragment the message must contain
    secret: str | None = None  # a value the message must not echo
    form: str = ""  # the kind of malformation, for categories that have several


def wire(arg: Any) -> bytes:
    """The bytes an argument arrives as: Temporal's JSON converter's encoding of it."""
    if isinstance(arg, Raw):
        return arg.data
    return json.dumps(arg, separators=(",", ":"), sort_keys=True).encode()


def refusal(state: ProcessState, case: Case, on_day: date) -> DomainError:
    """The domain's own answer to a one-argument case, as the workflow's validator computes
    it (`parse_command` on the update's bytes, then `decide`); fails if it was accepted."""
    (arg,) = case.args
    try:
        events = decide(state, parse_command(case.name, wire(arg)), today=on_day)
    except DomainError as err:
        return err
    raise AssertionError(f"the domain accepts {case}, causing {events}")


def check(case: Case, code: str, message: str, field: str | None) -> None:
    """A short clear refusal: its code, the field and the rule named, the value not echoed."""
    assert code == case.code, (case, code, message)
    assert message, case
    if case.field is not None:
        assert field is not None and (
            field == case.field
            or field.startswith(case.field + ".")
            or (case.field.endswith(".") and field.startswith(case.field))
        ), (case, field, message)
        # The message names the field too; an unknown command name is named by its rule.
        if code == "invalid_input" and case.field != "name":
            assert case.field.split(".")[0] in message, (case, message)
    if case.rule is not None:
        assert case.rule in message, (case, message)
    if case.secret is not None:
        assert case.secret not in message, "the message echoes the rejected value"
    assert len(message) <= MESSAGE_LIMIT, "messages stay short"


# -- the categories ----------------------------------------------------------------------

# Malformed payloads `parse_command` refuses on its own (the update's envelope, that is the
# number of arguments and the name open_process, is the workflow's: tests/badinput).
MALFORMED = (
    "non_object",  # a JSON value that is not an object
    "broken_json",  # bytes that are not JSON at all
    "empty",  # {}
    "missing_field",
    "deep_nesting",
    "unknown_command",
    "system_command",  # a timer's command, never accepted from outside
)
UNCLEAN = ("blank", "control", "bidi", "line")
DUPLICATE = ("top", "actor")
TOO_LARGE = ("object", "raw")
# Categories with several forms: each form is a test (or a sample) of its own, so that
# every form is tried whatever the budget.
FORMS: dict[str, tuple[str, ...]] = {
    "malformed": MALFORMED,
    "unclean_text": UNCLEAN,
    "duplicate_key": DUPLICATE,
    "too_large": TOO_LARGE,
}

Strategy = Callable[["BadInput", str | None], st.SearchStrategy[Case]]


def _one_line(name: str) -> bool:
    return name in NAME_FIELDS or LIST_FIELDS.get(name, (0,))[0] == 200


def _text_list(field: str) -> bool:
    """A list of free text or names (not of keys, codes or objects)."""
    return LIST_FIELDS.get(field, (None,))[0] is not None


def _unknown(name: str) -> bool:
    return name not in COMMANDS and name not in SYSTEM_COMMANDS


def _list_item(field: str, i: int) -> Any:
    if field in ("agencies_present", "agencies_to_meet", "received_by"):
        return f"agency_{i:03d}"
    if field == "languages":
        return "".join(string.ascii_lowercase[(i // 26**k) % 26] for k in range(3))
    if field == "signatories":
        return {"party": "partner", "role": "mission_member", "name": f"Member {i}"}
    if field == "modalities":
        return ["membership", "bilateral_agreement"][i % 2]
    return f"item {i}"


def _last(state: ProcessState) -> date:
    assert state.last_occurred_on is not None
    return state.last_occurred_on.earliest


def _config(state: ProcessState) -> ProcessConfig:
    assert state.config is not None
    return state.config


class BadInput:
    """Hypothesis strategies, one per category, over processes held at known stages.

    `processes` maps a name to a live (opened, not finished) process's state; the guard
    cases need the story's negotiating (no draft yet), instrument_signed, mission_planning
    (ToR proposed, consents pending) and under_review (reviews awaited) among them.
    """

    def __init__(self, processes: Mapping[str, ProcessState]) -> None:
        self.processes = dict(processes)
        self.names = sorted(self.processes)

    def strategy(self, category: str, form: str | None = None) -> st.SearchStrategy[Case]:
        return CATEGORIES[category](self, form)

    def _target(self, draw: st.DrawFn) -> tuple[str, ProcessState]:
        name = draw(st.sampled_from(self.names))
        return name, self.processes[name]

    def _base(self, draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
        """A well-formed command for any process (parse errors come before all else)."""
        name, state = self._target(draw)
        command = draw(st.sampled_from(PUBLIC))
        actor = draw(st.sampled_from(actors(_config(state))))
        return name, command, payload(command, actor, _last(state))

    def malformed(self, form: str | None) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, command, body = self._base(draw)
            kind = form or draw(st.sampled_from(MALFORMED))

            def case(
                args: tuple[Any, ...], field: str | None, rule: str | None, name: str = command
            ) -> Case:
                return Case(
                    "malformed", target, name, args, "invalid_input", field, rule, form=kind
                )

            if kind == "non_object":
                value = draw(
                    st.one_of(
                        st.lists(st.integers(), max_size=3),
                        st.text(SAFE_TEXT, max_size=20),
                        st.integers(),
                        st.floats(allow_nan=False, allow_infinity=False),
                        st.booleans(),
                        st.just([body]),
                    )
                )
                return case((value,), None, "(payload)")
            if kind == "broken_json":
                text = json.dumps(body).encode()
                cut = draw(st.integers(1, len(text) - 1))
                # No junk closes the object, so the bytes can never be valid JSON.
                junk = draw(st.sampled_from([b"", b"\xff\xfe", b",,", b"'", b"NaN", b"]"]))
                return case((Raw(text[:cut] + junk),), None, "(payload)")
            if kind == "empty":
                return case(({},), "actor", "Field required")
            if kind == "missing_field":
                model = COMMANDS[command].model_fields
                missing = draw(st.sampled_from([f for f, i in model.items() if i.is_required()]))
                del body[missing]
                return case((body,), missing, "Field required")
            if kind == "deep_nesting":
                depth = draw(st.integers(100, 5000))
                nested = b'{"venue": ' + b"[" * depth + b"]" * depth + b"}"
                return case((Raw(nested),), None, None)
            if kind == "system_command":
                name = draw(st.sampled_from(sorted(SYSTEM_COMMANDS)))
                return case((body,), "name", "unknown command", name)
            assert kind == "unknown_command", kind
            name = draw(st.from_regex(r"[a-z_]{1,40}", fullmatch=True).filter(_unknown))
            return case((body,), "name", "unknown command", name)

        return build()

    def wrong_typed(self, form: str | None) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, command, body = self._base(draw)
            field = draw(st.sampled_from(sorted(body)))
            values = [
                v
                for v in WRONG_TYPED[kind_of(field)]
                if not (v is None and none_allowed(command, field))
            ]
            body[field] = draw(st.sampled_from(values))
            return Case("wrong_typed", target, command, (body,), "invalid_input", field)

        return build()

    def wrong_value(self, form: str | None) -> st.SearchStrategy[Case]:
        """Right types, impossible values: bad actor shapes, reversed dates, duplicates."""

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, command, body = self._base(draw)
            options: list[tuple[str, Any, str]] = [
                ("actor", {"party": "partner", "role": "chair"}, "actor.role"),
                ("actor", {"party": "national_body", "role": "head"}, "actor.role"),
                ("actor", {"party": "mfa", "role": "director_general"}, "actor.role"),
                ("actor", {"party": "Not-A-Key", "role": "head"}, "actor.party"),
                ("actor", {"party": "mfa", "role": "head", "name": ""}, "actor.name"),
                ("actor", {"party": "mfa"}, "actor.role"),
                ("occurred_on", "2018-5-17", "occurred_on"),
            ]
            if "planned_end" in body:
                options.append(("planned_end", "2029-12-31", "planned_end"))
            if "actual_end" in body:
                options.append(("actual_end", "2023-06-04", "actual_end"))
            for field in ("modalities", "languages", "agencies_present", "received_by"):
                if field in body:
                    options.append((field, [body[field][0]] * 2, field))
            for field in sorted(VERSION_FIELDS & set(body)):
                bad = draw(st.sampled_from([0, -1, 1001, 10**12]))
                options.append((field, bad, field))
            field, value, where = draw(st.sampled_from(options))
            body[field] = value
            return Case("wrong_value", target, command, (body,), "invalid_input", where)

        return build()

    def oversized(self, form: str | None) -> st.SearchStrategy[Case]:
        bounded = set(TEXT_LIMIT) | set(LIST_FIELDS)

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, state = self._target(draw)
            command = draw(st.sampled_from([c for c in PUBLIC if set(FULL[c]) & bounded]))
            body = payload(command, draw(st.sampled_from(actors(_config(state)))), _last(state))
            field = draw(st.sampled_from(sorted(set(body) & bounded)))
            # A marker that must never come back in the message (nor in logs).
            secret = "Ж" + uuid.uuid4().hex

            def case(where: str, rule: str | None, secret: str | None) -> Case:
                return Case(
                    "oversized", target, command, (body,), "invalid_input", where, rule, secret
                )

            if field in TEXT_LIMIT:
                length = draw(st.integers(TEXT_LIMIT[field] + 1, 100_000))
                body[field] = (secret * (length // len(secret) + 1))[:length]
                return case(field, "at most", secret)
            item_limit, length_limit = LIST_FIELDS[field]
            if item_limit is not None and draw(st.booleans()):
                length = draw(st.integers(item_limit + 1, 20_000))
                body[field] = [(secret * (length // len(secret) + 1))[:length]]
                return case(f"{field}.0", "at most", secret)
            count = draw(st.integers(length_limit + 1, length_limit + 200))
            body[field] = [_list_item(field, i) for i in range(count)]
            return case(field, None, None)

        return build()

    def unknown_field(self, form: str | None) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, command, body = self._base(draw)
            key = draw(
                st.one_of(
                    st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True),
                    st.sampled_from(["agency", "actor_token", "__proto__", "$where", "id"]),
                    st.text(string.printable, min_size=1, max_size=50),
                    st.text(SAFE_TEXT, min_size=1, max_size=300),
                ).filter(lambda k: k not in COMMANDS[command].model_fields)
            )
            value = draw(st.one_of(st.none(), st.integers(), st.text(SAFE_TEXT, max_size=30)))
            if draw(st.booleans()):
                if key in Actor.model_fields:
                    key = "actor_" + key  # a real actor field: use another name
                body["actor"] = {**body["actor"], key: value}
                where = f"actor.{echo(key)}"
            else:
                body[key] = value
                where = echo(key)
            return Case(
                "unknown_field", target, command, (body,), "invalid_input", where, "Extra inputs"
            )

        return build()

    def nul(self, form: str | None) -> st.SearchStrategy[Case]:
        """A regression: text with U+0000 used to be accepted, then could never be stored
        (PostgreSQL's jsonb refuses it), so its process waited on the append forever."""
        texts = {c: [f for f in FULL[c] if f in TEXT_LIMIT or _text_list(f)] for c in PUBLIC}

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, state = self._target(draw)
            command = draw(st.sampled_from([c for c in PUBLIC if texts[c]] + ["actor_name"]))
            if command == "actor_name":
                command = draw(st.sampled_from(PUBLIC))
                body = payload(command, {**MFA_HEAD, "name": "Head\x00of MFA"}, _last(state))
                return Case("nul", target, command, (body,), "invalid_input", "actor.name", "NUL")
            body = payload(command, draw(st.sampled_from(actors(_config(state)))), _last(state))
            field = draw(st.sampled_from(texts[command]))
            text = (
                draw(st.text(CLEAN_TEXT, max_size=20))
                + "\x00"
                + draw(st.text(CLEAN_TEXT, max_size=20))
            )
            where = field
            if field in LIST_FIELDS:
                body[field] = [text]
                where = f"{field}.0"
            else:
                body[field] = text
            return Case("nul", target, command, (body,), "invalid_input", where, "NUL")

        return build()

    def unclean_text(self, form: str | None) -> st.SearchStrategy[Case]:
        """Whitespace-only required text; control characters (newline and tab too, in a
        single-line field); bidi controls. The message names the rule, not the text."""

        def required(command: str, field: str) -> bool:
            """Text that must say something: names, list items and the reasons that are due."""
            return (
                field in NAME_FIELDS
                or field in LIST_FIELDS
                or (field == "reason" and COMMANDS[command].model_fields[field].is_required())
            )

        def fields_for(kind: str) -> dict[str, list[str]]:
            """Per command, the text fields where `kind` is wrong: blank only where text is
            required (optional text may be blank: it is stored empty), a newline or tab only
            in one-line text (free text may hold them), the others anywhere."""
            found = {c: [f for f in FULL[c] if f in TEXT_LIMIT or _text_list(f)] for c in PUBLIC}
            if kind == "blank":
                found = {c: [f for f in fs if required(c, f)] for c, fs in found.items()}
            if kind == "line":
                found = {c: [f for f in fs if _one_line(f)] for c, fs in found.items()}
            return {c: fs for c, fs in found.items() if fs}

        where_wrong = {kind: fields_for(kind) for kind in UNCLEAN}

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, state = self._target(draw)
            kind = form or draw(st.sampled_from(UNCLEAN))
            fields_of = where_wrong[kind]
            command = draw(st.sampled_from(sorted(fields_of)))
            body = payload(command, draw(st.sampled_from(actors(_config(state)))), _last(state))
            field = draw(st.sampled_from(fields_of[command]))
            secret = "Z" + uuid.uuid4().hex
            if kind == "blank":
                text = draw(st.sampled_from([" ", "   ", "\t\n ", "\u3000", "\u00a0 "]))
                rule = "must not be empty or only whitespace"
            else:
                char = {
                    "control": draw(st.sampled_from("\x01\x08\x0b\x0c\r\x1b\x7f\x9b")),
                    "bidi": draw(st.sampled_from("\u202a\u202b\u202d\u202e\u2066\u2069")),
                    "line": draw(st.sampled_from("\n\t")),
                }[kind]
                text = secret + char + secret
                rule = {"control": "control characters", "bidi": "bidirectional"}.get(
                    kind, "one line without control characters"
                )
            where = field
            if field in LIST_FIELDS:
                body[field] = [text]
                where = f"{field}.0"
            else:
                body[field] = text
            return Case(
                "unclean_text",
                target,
                command,
                (body,),
                "invalid_input",
                where,
                rule,
                secret,
                form=kind,
            )

        return build()

    def duplicate_key(self, form: str | None) -> st.SearchStrategy[Case]:
        """A key twice in one object, at the top or in the actor, as raw JSON bytes: the
        value that would win (last or first) is a valid one either way."""

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, command, body = self._base(draw)
            kind = form or draw(st.sampled_from(DUPLICATE))
            text = json.dumps(body)
            if kind == "top":
                key = draw(st.sampled_from(sorted(body)))
                where = key
                text = text[:-1] + f", {json.dumps(key)}: {json.dumps(body[key])}}}"
            else:
                key = draw(st.sampled_from(sorted(body["actor"])))
                where = f"actor.{key}"
                actor = json.dumps(body["actor"])
                doubled = actor[:-1] + f", {json.dumps(key)}: {json.dumps(body['actor'][key])}}}"
                text = text.replace(actor, doubled, 1)
            return Case(
                "duplicate_key",
                target,
                command,
                (Raw(text.encode()),),
                "invalid_input",
                where,
                "a key appears twice",
                form=kind,
            )

        return build()

    def too_large(self, form: str | None) -> st.SearchStrategy[Case]:
        """Above the size rule: refused before parsing, valid JSON or not."""

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, command, body = self._base(draw)
            kind = form or draw(st.sampled_from(TOO_LARGE))
            extra = draw(st.integers(1, 200_000))
            # The payload, as it arrives, is `extra` bytes above the rule.
            padding = "p" * (MAX_COMMAND_BYTES + extra - len(wire({**body, "padding": ""})))
            if kind == "object":
                args: tuple[Any, ...] = ({**body, "padding": padding},)
            else:
                args = (Raw(b"[" * (MAX_COMMAND_BYTES + extra)),)
            return Case(
                "too_large",
                target,
                command,
                args,
                "invalid_input",
                None,
                f"a command is at most {MAX_COMMAND_BYTES} bytes of JSON",
                padding[:100],
                form=kind,
            )

        return build()

    def future(self, form: str | None) -> st.SearchStrategy[Case]:
        """A business date after the worker's UTC date plus one day (invariant 1)."""

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, command, body = self._base(draw)
            ahead = draw(st.one_of(st.integers(2, 30), st.integers(31, 80_000)))
            body["occurred_on"] = (today() + timedelta(days=ahead)).isoformat()
            return Case(
                "future",
                target,
                command,
                (body,),
                "invalid_input",
                "occurred_on",
                "later than today (UTC) plus one day of tolerance",
            )

        return build()

    def not_allowed(self, form: str | None) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, state = self._target(draw)
            command = draw(st.sampled_from(PUBLIC))
            actor = draw(st.sampled_from(forbidden(command, _config(state))))
            body = payload(command, actor, draw(dates_from(_last(state))))
            # `actor.party` or `actor.role`, whichever the rule turns on.
            return Case(
                "not_allowed", target, command, (body,), "not_allowed", "actor.", "allowed:"
            )

        return build()

    def wrong_stage(self, form: str | None) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, state = self._target(draw)
            command = draw(
                st.sampled_from([c for c in PUBLIC if state.stage not in accepted_in(c)])
            )
            actor = draw(st.sampled_from(permitted(command, _config(state))))
            body = payload(command, actor, draw(dates_from(_last(state))))
            rule = f"not accepted in stage {state.stage}"
            return Case("wrong_stage", target, command, (body,), "wrong_stage", None, rule)

        return build()

    def out_of_order(self, form: str | None) -> st.SearchStrategy[Case]:
        @st.composite
        def build(draw: st.DrawFn) -> Case:
            target, state = self._target(draw)
            command = draw(st.sampled_from([c for c in PUBLIC if state.stage in accepted_in(c)]))
            actor = draw(st.sampled_from(permitted(command, _config(state))))
            body = payload(command, actor, draw(dates_before(_last(state))))
            return Case(
                "out_of_order",
                target,
                command,
                (body,),
                "out_of_order",
                "occurred_on",
                "earlier than the last recorded business date",
            )

        return build()

    def guard_failed(self, form: str | None) -> st.SearchStrategy[Case]:
        """Right actor, stage and date; a business rule of DOMAIN.md does not hold. The
        values are read from the process's state (its ToR and report versions, its last
        date), so the same cases hold against any process at these stages."""
        guards: list[tuple[str, str, dict[str, Any], dict[str, Any], str]] = []

        def add(stage: str, command: str, actor: dict[str, Any], changes: Any, rule: str) -> None:
            if stage in self.processes:
                guards.append((stage, command, actor, changes(self.processes[stage]), rule))

        def days(state: ProcessState, before: int, length: int = 9) -> dict[str, str]:
            start = _last(state) - timedelta(days=before)
            end = start + timedelta(days=length)
            return {"planned_start": start.isoformat(), "planned_end": end.isoformat()}

        def tor(state: ProcessState, ahead: int) -> dict[str, int]:
            return {"tor_version": state.mission.tor_version + ahead}

        def report(state: ProcessState, ahead: int) -> dict[str, int]:
            return {"report_version": state.report.version + ahead}

        no_draft = "no instrument draft"
        add("negotiating", "clear_instrument", MFA_HEAD, lambda s: {}, no_draft)
        add("negotiating", "sign_instrument", NB_CHAIR, lambda s: {}, no_draft)
        before = "is before occurred_on"
        add("instrument_signed", "propose_mission", ICMP_DG, lambda s: days(s, 3), before)
        add(
            "mission_planning",
            "propose_mission",
            ICMP_DG,
            lambda s: tor(s, 0),
            "must be greater than the current ToR version",
        )
        not_current = "is not the current ToR version"
        add("mission_planning", "grant_consent", MFA_HEAD, lambda s: tor(s, 1), not_current)
        add("mission_planning", "refuse_consent", MFA_HEAD, lambda s: tor(s, 8), not_current)
        add("mission_planning", "reschedule_mission", NB_CHAIR, lambda s: days(s, 59), before)
        awaited = "reviews still awaited"
        add("under_review", "submit_conclusions", MFA_HEAD, lambda s: report(s, 0), awaited)
        not_latest = "is not the latest report version"
        add("under_review", "submit_conclusions", MFA_HEAD, lambda s: report(s, 1), not_latest)
        add("under_review", "submit_review", MFA_HEAD, lambda s: report(s, 2), not_latest)
        assert len(guards) == 10, "the guards' stages are missing from the processes"

        @st.composite
        def build(draw: st.DrawFn) -> Case:
            stage, command, actor, changes, rule = draw(st.sampled_from(guards))
            state = self.processes[stage]
            on = draw(dates_from(_last(state)).filter(lambda d: d < date(2030, 1, 1)))
            body = payload(command, actor, on, **changes)
            if "summary" in body:
                body["summary"] = draw(st.text(CLEAN_TEXT, max_size=50))
            return Case("guard_failed", stage, command, (body,), "guard_failed", None, rule)

        return build()


CATEGORIES: dict[str, Strategy] = {
    "malformed": BadInput.malformed,
    "wrong_typed": BadInput.wrong_typed,
    "wrong_value": BadInput.wrong_value,
    "oversized": BadInput.oversized,
    "unknown_field": BadInput.unknown_field,
    "nul": BadInput.nul,
    "unclean_text": BadInput.unclean_text,
    "duplicate_key": BadInput.duplicate_key,
    "too_large": BadInput.too_large,
    "future": BadInput.future,
    "not_allowed": BadInput.not_allowed,
    "wrong_stage": BadInput.wrong_stage,
    "out_of_order": BadInput.out_of_order,
    "guard_failed": BadInput.guard_failed,
}


def forms_of(category: str) -> tuple[str | None, ...]:
    """The forms a category is tried in one by one (None: the category draws its own)."""
    return FORMS.get(category, (None,))
