"""Custom search attributes that let operators find processes in the Temporal UI and CLI.

Registered on the dev server at start (`--search-attribute NAME=TYPE`) and by the
compose set-up; `temporal workflow list --query "AccordPendingAgencies = 'mfa'"` finds
every process waiting on the Foreign Ministry.
"""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("AccordStage")
PARTNER = SearchAttributeKey.for_keyword("AccordPartner")
COUNTRY = SearchAttributeKey.for_keyword("AccordCountry")
PENDING_AGENCIES = SearchAttributeKey.for_keyword_list("AccordPendingAgencies")
PROCESS_ID = SearchAttributeKey.for_keyword("AccordProcessId")

ALL: tuple[SearchAttributeKey[str] | SearchAttributeKey[Sequence[str]], ...] = (
    STAGE,
    PARTNER,
    COUNTRY,
    PENDING_AGENCIES,
    PROCESS_ID,
)

# The CLI's spelling of each indexed value type, for `--search-attribute NAME=TYPE`.
_CLI_TYPE = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
}


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` flags that register every attribute above."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type]}"]
    return flags
