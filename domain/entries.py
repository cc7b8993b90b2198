"""The compact per-version entries a process state keeps: "EventType <EDTF date> party".

`correct_record` checks which event a version is, who recorded it and its neighbours'
dates without the events themselves (domain/corrections.py), so the state carries one short
entry per version, in chunks of ENTRIES_PER_CHUNK (appending copies one chunk, not all).
"""

from __future__ import annotations

from typing import Any

from domain.dates import BusinessDate

# -------------------------------------------------------------


# Entries are kept in chunks of ENTRIES_PER_CHUNK: appending one copies the last chunk and
# the tuple of chunks (about 80 at 10,000 events), not every entry, so folding a long
# stream stays linear (a flat tuple made a 10,000-event fold four times slower per event).
ENTRIES_PER_CHUNK = 128
Entries = tuple[tuple[str, ...], ...]


def appended(entries: Entries, text: str) -> Entries:
    if entries and len(entries[-1]) < ENTRIES_PER_CHUNK:
        return (*entries[:-1], (*entries[-1], text))
    return (*entries, (text,))


def entry_count(entries: Entries) -> int:
    return (len(entries) - 1) * ENTRIES_PER_CHUNK + len(entries[-1]) if entries else 0


def entry_at(entries: Entries, version: int) -> str:
    """The entry of stream version `version` (1-based)."""
    chunk, offset = divmod(version - 1, ENTRIES_PER_CHUNK)
    return entries[chunk][offset]


def replaced(entries: Entries, version: int, text: str) -> Entries:
    chunk, offset = divmod(version - 1, ENTRIES_PER_CHUNK)
    old = entries[chunk]
    return (*entries[:chunk], (*old[:offset], text, *old[offset + 1 :]), *entries[chunk + 1 :])


def all_entries(entries: Entries) -> tuple[str, ...]:
    """Every entry in version order (for the rare reader that needs them all)."""
    return tuple(text for chunk in entries for text in chunk)


def entry(event_type: str, on: BusinessDate, party: str | None) -> str:
    """One version's entry: its type, business date and the party whose command recorded
    it ("" when the reader of the stream did not know it). One string, not a record: it is
    kept for every event of every process, and carried in continue-as-new snapshots."""
    return f"{event_type} {on.text} {party or ''}"  # EDTF text has no space


def read_entry(text: str) -> tuple[str, BusinessDate, str]:
    event_type, on, party = text.split(" ", 2)
    return event_type, BusinessDate.parse(on), party


def entry_date(text: str) -> BusinessDate:
    return BusinessDate.parse(text.split(" ", 2)[1])


def party_of(actor: Any) -> str | None:
    """The party of an event's recorded actor metadata (None when absent)."""
    if isinstance(actor, dict) or hasattr(actor, "get"):
        party = actor.get("party")
        return party if isinstance(party, str) else None
    return None
