"""Text hygiene and bounded echoes: one place for what a command's text may contain.

Every text field of a command and of the process configuration given at `open_process`
is one of the types below. On input, each value is stripped of surrounding whitespace,
must then be non-empty where the field is required, and is refused `invalid_input` if it
holds:

- a control character (C0, DEL, C1, U+2028/U+2029): none at all in single-line fields
  (names, venues, places, titles, countries); newline and tab are allowed in free text
  (summaries, reasons, conclusions, conditions, points, proposals, gaps);
- a bidirectional embedding, override or isolate (U+202A..U+202E, U+2066..U+2069), which
  can make text display in an order other than the one it is stored in ("Trojan Source").

The bidi *marks* U+200E, U+200F and U+061C are allowed: they are zero-width strong
characters that right-to-left keyboards insert in ordinary Arabic or Hebrew text, and
they cannot reorder letters, only the placement of neutral characters next to them.

Two forms of one rule (the character classes are defined once, here):

- A command's own fields (`Name`, `Line`, `Text`, `Reason`) are checked by pydantic's
  core (strip, length and a pattern, no Python call per field: `parse_command` is on every
  update's path). Commands are only ever input, never read back from storage.
- The process configuration and actors (`ConfigName`, `ConfigShortName`, in
  `domain/parties.py`) are also part of recorded events (`ProcessOpened`,
  `InstrumentSigned`) and snapshots, so they are checked only under the input context
  (`INPUT`, passed by `parse_command`): a fact recorded before these rules existed stays
  readable, and a stored value is never rewritten by a later rule.

The JSON Schema of each type is kept as it was (length bounds only), so the published
contracts and the events' schemas do not change; the rule is in `contracts/`' README
and in the rejection message.

`echo` is how a rejection may quote anything it did not generate itself (an unknown key,
a path, a command name): sanitized and cut short, never the rejected value. `visible` is
how the CLI prints recorded text on a terminal.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints, ValidationInfo, WithJsonSchema

# The validation context under which input hygiene applies (see the module docstring).
INPUT_KEY = "accord_input"
INPUT: dict[str, Any] = {INPUT_KEY: True}

# Refused in every text field: C0 controls but newline and tab, DEL, C1 controls, the
# Unicode line and paragraph separators, bidi embeddings, overrides and isolates.
_FREE_TEXT_FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
# Single-line fields also refuse newline and tab.
_SINGLE_LINE_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")

# What an echo or a printed line replaces: every control and separator, the bidi
# controls, and the bidi marks too (an echo has no context in which a mark is useful).
_UNSAFE_TO_SHOW = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]"
)

ECHO_LIMIT = 40  # characters of anything a rejection quotes (a key, a path segment, a name)


def _in_input(info: ValidationInfo) -> bool:
    context = info.context
    return isinstance(context, dict) and bool(context.get(INPUT_KEY))


def _problem(value: str, forbidden: re.Pattern[str], single_line: bool) -> str | None:
    # The character that made it fail: in what is left once stripped, else anywhere.
    found = forbidden.search(value.strip()) or forbidden.search(value)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    if found.group() == "\x00":  # PostgreSQL's jsonb cannot store it either
        return "must not contain the NUL character (U+0000)"
    if _BIDI.match(found.group()):
        return f"must not contain bidirectional embedding, override or isolate characters ({code})"
    if single_line:
        return f"must be one line without control characters ({code})"
    return f"must not contain control characters other than newline and tab ({code})"


def _hygiene(*, single_line: bool, required: bool) -> AfterValidator:
    forbidden = _SINGLE_LINE_FORBIDDEN if single_line else _FREE_TEXT_FORBIDDEN

    def check(value: str, info: ValidationInfo) -> str:
        if not _in_input(info):
            return value
        # Stripped first: surrounding whitespace (a pasted trailing newline) is dropped,
        # not refused; what is left is what gets recorded.
        stripped = value.strip()
        if required and not stripped:
            raise ValueError("must not be empty or only whitespace")
        problem = _problem(stripped, forbidden, single_line)
        if problem is not None:
            raise ValueError(problem)
        return stripped

    return AfterValidator(check)


def _no_nul(value: str) -> str:
    """PostgreSQL cannot store U+0000 in jsonb: refused on every path, input or not."""
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


_NO_NUL = AfterValidator(_no_nul)

# The same classes as pydantic-core (Rust regex) patterns, for a command's own fields.
_SINGLE_LINE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"
_FREE_TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]*$"


def _command_text(
    *, single_line: bool, min_length: int, max_length: int
) -> tuple[StringConstraints, WithJsonSchema]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    constraints = StringConstraints(
        strip_whitespace=True,
        min_length=min_length,
        max_length=max_length,
        pattern=_SINGLE_LINE_PATTERN if single_line else _FREE_TEXT_PATTERN,
    )
    return constraints, WithJsonSchema(schema)


_NAME = _command_text(single_line=True, min_length=1, max_length=200)
_LINE = _command_text(single_line=False, min_length=1, max_length=500)
_TEXT = _command_text(single_line=False, min_length=0, max_length=2000)
_REASON = _command_text(single_line=False, min_length=1, max_length=2000)

# A command's single-line text: names of people, venues, places, titles (200).
Name = Annotated[str, _NAME[0], _NAME[1]]
# A command's free text: one condition, point, proposal or gap (required, 500);
# summaries, notes and conclusions (optional, 2,000); reasons (required, 2,000).
Line = Annotated[str, _LINE[0], _LINE[1]]
Text = Annotated[str, _TEXT[0], _TEXT[1]]
Reason = Annotated[str, _REASON[0], _REASON[1]]

# The configuration's and actors' single-line text, checked on input only.
ConfigName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200),
    _NO_NUL,
    _hygiene(single_line=True, required=True),
]
ConfigShortName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=40),
    _NO_NUL,
    _hygiene(single_line=True, required=True),
]


def rule_broken(error_type: str, pattern: object, value: object) -> str | None:
    """The rule a pydantic error on one of the command text types stands for, or None.

    `value` (the rejected text) is only searched for its first forbidden character, whose
    code point the rule names; it is never quoted."""
    if error_type == "string_too_short":
        return "must not be empty or only whitespace"
    if error_type == "string_pattern_mismatch" and isinstance(value, str):
        if pattern == _SINGLE_LINE_PATTERN:
            return _problem(value, _SINGLE_LINE_FORBIDDEN, True)
        if pattern == _FREE_TEXT_PATTERN:
            return _problem(value, _FREE_TEXT_FORBIDDEN, False)
    return None


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """`value` as a rejection may quote it: unsafe characters replaced by U+FFFD, at most
    `limit` characters (cut with an ellipsis)."""
    text = _UNSAFE_TO_SHOW.sub("\ufffd", str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def visible(text: str, *, keep_newlines: bool = False) -> str:
    """`text` safe to print on a terminal: every control, separator and bidi character
    written as its escape (`\\x1b`, `\\r`, `\\u202e`), so no field can move the cursor,
    rewrite a line or reorder what is shown. Newlines and tabs are kept with
    `keep_newlines`, else shown as `\\n` and `\\t` (single-line output)."""

    def escape(found: re.Match[str]) -> str:
        char = found.group()
        if keep_newlines and char in "\n\t":
            return char
        named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(char)
        if named is not None:
            return named
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    # A backslash is doubled first only when something else is escaped, so ordinary text
    # prints unchanged while an escape can never be confused with a typed backslash.
    if _UNSAFE_TO_SHOW.search(text) is None:
        return text
    return _UNSAFE_TO_SHOW.sub(escape, text.replace("\\", "\\\\"))
