"""Custom search attributes that let operators find processes in the Temporal UI and CLI.

Registered on the dev server at start (`--search-attribute NAME=TYPE`) and by the
compose set-up; `temporal workflow list --query "AccordPendingAgencies = 'mfa'"` finds
every process waiting on the Foreign Ministry.
"""

from __future__ import annotations

from typing import Any

from temporalio.common import SearchAttributeIndexedValueType, SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("AccordStage")
PARTNER = SearchAttributeKey.for_keyword("AccordPartner")
COUNTRY = SearchAttributeKey.for_keyword("AccordCountry")
PENDING_AGENCIES = SearchAttributeKey.for_keyword_list("AccordPendingAgencies")
PROCESS_ID = SearchAttributeKey.for_keyword("AccordProcessId")
# Every party awaited with its command, `partner:start_mission` (DOMAIN.md "Awaiting").
AWAITING = SearchAttributeKey.for_keyword_list("AccordAwaiting")
# When the current stage began and when the next timer is due (UTC): sort by "stuck
# longest", find what is about to be overdue (`AccordNextDeadline < '2026-12-31T00:00:00Z'`).
STAGE_SINCE = SearchAttributeKey.for_datetime("AccordStageSince")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("AccordNextDeadline")

# The dev server's SQL visibility has 10 Keyword, 3 KeywordList and 3 Datetime columns for
# custom attributes: these use 4, 2 and 2.
ALL: tuple[SearchAttributeKey[Any], ...] = (
    STAGE,
    PARTNER,
    COUNTRY,
    PENDING_AGENCIES,
    PROCESS_ID,
    AWAITING,
    STAGE_SINCE,
    NEXT_DEADLINE,
)

# The CLI's spelling of each indexed value type, for `--search-attribute NAME=TYPE`.
_CLI_TYPE = {
    SearchAttributeIndexedValueType.KEYWORD: "Keyword",
    SearchAttributeIndexedValueType.KEYWORD_LIST: "KeywordList",
    SearchAttributeIndexedValueType.DATETIME: "Datetime",
}


def dev_server_flags() -> list[str]:
    """`temporal server start-dev` flags that register every attribute above."""
    flags: list[str] = []
    for key in ALL:
        flags += ["--search-attribute", f"{key.name}={_CLI_TYPE[key.indexed_value_type]}"]
    return flags
