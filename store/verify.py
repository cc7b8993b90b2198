"""Recompute the hash chain of streams read in (stream_id, version) order, check that each
row was written by the transaction its tx_id names, and compare with anchored heads.

Why the transaction check: the feed orders events by tx_id and reads only transactions
below the snapshot's xmin, so a row carrying an old tx_id that it was not written with
would sit behind every reader's cursor, never delivered (a "ghost"). tx_id is not in the
hash (a superuser who forges a row can compute any hash), so verification checks it against
what PostgreSQL itself recorded: the row's `xmin`, the 32-bit id of the transaction that
wrote the row version. The append functions refuse to run where the two would differ (inside
a savepoint, AC006), so for every row written through them `tx_id mod 2^32 = xmin`, and
`tx_id` is below the snapshot's xmax (it had been assigned). A row inserted or updated by
hand carries the xmin of the transaction that did it: a ghost with a chosen older tx_id, or
an event edited in place, shows as `tx mismatch`. xmin survives VACUUM (FREEZE, FULL) and
pg_upgrade; a logical dump and restore rewrites it (every row then shows as `tx mismatch`:
re-anchor after a restore). What remains is a forged tx_id exactly 2^32·k transactions
older than its writer; that is older than any anchor of the current epoch, so
`--expect-heads` reports it (`not in anchor`).
"""

from __future__ import annotations

from store.digest import GENESIS_HASH, chain_hash, content_digest
from store.model import (
    AnchoredHeads,
    BreakReason,
    ChainBreak,
    RecordedEvent,
    VerificationReport,
)

_XID_MODULUS = 1 << 32


class ChainVerifier:
    """Feed it events grouped by stream in version order; it keeps one stream in memory.

    `xmax` is the verifying snapshot's xmax (no tx_id can reach it); `anchor` adds the
    comparison with heads exported earlier.
    """

    def __init__(self, *, xmax: int | None = None, anchor: AnchoredHeads | None = None) -> None:
        self._xmax = xmax
        self._streams = 0
        self._events = 0
        self._breaks: list[ChainBreak] = []
        self._stream: str | None = None
        self._last: RecordedEvent | None = None
        self._prev_hash = GENESIS_HASH
        self._broken = False
        self._head: tuple[int | None, bytes | None] = (None, None)
        self._anchor = anchor
        self._anchor_broken = False
        self._anchored_seen: set[str] = set()
        self._new_streams: list[str] = []

    def check(
        self,
        event: RecordedEvent,
        head_version: int | None,
        head_hash: bytes | None,
        row_xid: int | None = None,
    ) -> None:
        if event.stream_id != self._stream:
            self._end_stream()
            self._stream = event.stream_id
            self._streams += 1
            self._last = None
            self._prev_hash = GENESIS_HASH
            self._broken = False
            self._anchor_broken = False
            self._head = (head_version, head_hash)
        self._events += 1
        if self._anchor is not None and not self._anchor_broken:
            self._check_anchor(event)
        if self._broken:
            self._last = event
            return  # one chain finding per stream: the first broken link
        last = self._last
        expected_version = 1 if last is None else last.version + 1
        if event.version != expected_version:
            self._break(event, "version gap", f"expected version {expected_version}")
        elif _digest(event) != event.content_digest:
            self._break(event, "digest mismatch", "content differs from what was recorded")
        elif event.prev_hash != self._prev_hash:
            self._break(event, "chain mismatch", "prev_hash is not the previous event's hash")
        elif (
            chain_hash(event.prev_hash, event.content_digest, event.position, event.recorded_at)
            != event.hash
        ):
            self._break(event, "chain mismatch", "hash does not match its inputs")
        elif row_xid is not None and event.tx_id % _XID_MODULUS != row_xid:
            self._break(
                event,
                "tx mismatch",
                f"tx_id says transaction {event.tx_id}, the row was written by "
                f"transaction {row_xid} (mod 2^32)",
            )
        elif self._xmax is not None and event.tx_id >= self._xmax:
            self._break(event, "tx mismatch", "tx_id names a transaction not yet begun")
        elif last is not None and event.tx_id < last.tx_id:
            self._break(
                event,
                "feed order",
                f"recorded in an earlier transaction than version {last.version}",
            )
        elif last is not None and event.position <= last.position:
            self._break(event, "feed order", f"position not after version {last.version}'s")
        else:
            self._prev_hash = event.hash
        self._last = event

    def head_without_events(self, stream_id: str, version: int) -> None:
        self._streams += 1
        self._breaks.append(
            ChainBreak(stream_id, version, None, "head mismatch", "stream has no events")
        )

    def finish(self, *, only_stream: str | None = None) -> None:
        """End of the log (or of `only_stream`, when one stream was verified)."""
        self._end_stream()
        self._stream = None
        if self._anchor is None:
            return
        for stream_id, (version, _) in sorted(self._anchor.heads.items()):
            if stream_id in self._anchored_seen:
                continue
            if only_stream is not None and stream_id != only_stream:
                continue
            self._breaks.append(
                ChainBreak(
                    stream_id,
                    version,
                    None,
                    "anchored stream missing",
                    f"anchored at version {version}, no event of it is left",
                )
            )

    def report(self) -> VerificationReport:
        return VerificationReport(
            self._streams,
            self._events,
            list(self._breaks),
            anchored_streams=None if self._anchor is None else len(self._anchor.heads),
            new_streams=list(self._new_streams),
        )

    def _check_anchor(self, event: RecordedEvent) -> None:
        anchor = self._anchor
        assert anchor is not None
        anchored = anchor.heads.get(event.stream_id)
        if anchored is None:
            if event.tx_id < anchor.horizon:
                # Finished before the export began, so the export would have held it.
                self._anchor_break(
                    event,
                    "not in anchor",
                    "recorded before the anchor was taken, yet the anchor has no such stream",
                )
            elif event.version == 1:
                self._new_streams.append(event.stream_id)
            return
        self._anchored_seen.add(event.stream_id)
        version, head_hash = anchored
        if event.version == version and event.hash != head_hash:
            self._anchor_break(
                event, "anchored head differs", f"the hash at anchored version {version} differs"
            )
        elif event.version > version and event.tx_id < anchor.horizon:
            self._anchor_break(
                event,
                "not in anchor",
                f"recorded before the anchor was taken, yet the anchor stops at version {version}",
            )

    def _end_stream(self) -> None:
        last = self._last
        if last is None:
            return
        if self._anchor is not None and not self._anchor_broken:
            anchored = self._anchor.heads.get(last.stream_id)
            if anchored is not None and last.version < anchored[0]:
                self._anchor_break(
                    last,
                    "anchored stream shorter",
                    f"anchored at version {anchored[0]}, the log ends at version {last.version}",
                )
        if self._broken:
            return
        head_version, head_hash = self._head
        if head_version != last.version or head_hash != self._prev_hash:
            detail = (
                "no head row"
                if head_version is None
                else f"head says version {head_version}, log ends at {last.version}"
                if head_version != last.version
                else "head hash differs from the last event's hash"
            )
            self._breaks.append(
                ChainBreak(last.stream_id, last.version, last.position, "head mismatch", detail)
            )

    def _break(self, event: RecordedEvent, reason: BreakReason, detail: str) -> None:
        self._broken = True
        self._breaks.append(
            ChainBreak(event.stream_id, event.version, event.position, reason, detail)
        )

    def _anchor_break(self, event: RecordedEvent, reason: BreakReason, detail: str) -> None:
        self._anchor_broken = True
        self._breaks.append(
            ChainBreak(event.stream_id, event.version, event.position, reason, detail)
        )


def _digest(event: RecordedEvent) -> bytes:
    return content_digest(
        event_id=event.event_id,
        stream_id=event.stream_id,
        version=event.version,
        event_type=event.event_type,
        schema_version=event.schema_version,
        data=event.data,
        metadata=event.metadata,
    )
