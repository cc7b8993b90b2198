"""`accord verify`: check every hash chain, export the heads for anchoring elsewhere
(`--heads [-o FILE]`), and compare the log with heads anchored earlier (`--expect-heads`).

Exit codes: 0 intact, 1 a finding (a broken chain, an anchored stream missing, shorter or
different, a stream recorded before the anchor but not in it), 2 bad usage (an unreadable,
malformed, edited or badly signed heads file, a bad key ring): one line on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from domain.text import visible
from security.keys import KeyConfigError, KeyRing, keyring_from_env
from store.anchor import AnchorFileError, heads_document, read_heads_document
from store.model import AnchoredHeads, VerificationReport

HEADS_KEYS = "ACCORD_HEADS_KEYS"
HEADS_KEYS_FILE = "ACCORD_HEADS_KEYS_FILE"
_SHOWN_FINDINGS = 20


class VerifyUsageError(Exception):
    """A mistake of the caller's: reported in one line, exit 2."""


def add_arguments(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--stream", help="only this process")
    sp.add_argument(
        "--heads",
        action="store_true",
        help="export every stream's head (and a digest over all of them; signed with "
        f"{HEADS_KEYS} when set) for keeping outside the database; refused if a chain is broken",
    )
    sp.add_argument("-o", "--output", metavar="FILE", help="with --heads: write them to FILE")
    sp.add_argument(
        "--expect-heads",
        metavar="FILE",
        help="compare the log with heads exported earlier: anchored streams missing, shorter "
        "or rewritten, and streams recorded before the anchor but not in it, fail",
    )


def verification_json(report: VerificationReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "streams_checked": report.streams_checked,
        "events_checked": report.events_checked,
        "breaks": [dataclasses.asdict(b) for b in report.breaks],
    }


def _heads_keys() -> KeyRing | None:
    try:
        return keyring_from_env(HEADS_KEYS, HEADS_KEYS_FILE, min_length=32)
    except KeyConfigError as err:
        raise VerifyUsageError(str(err)) from None


def _read_anchor(path: str, keys: KeyRing | None) -> tuple[AnchoredHeads, bool]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise VerifyUsageError("heads file: not UTF-8 text") from None
    except OSError as err:
        raise VerifyUsageError(f"cannot read the heads file ({err.strerror})") from None
    try:
        return read_heads_document(text, keys=None if keys is None else dict(keys.entries))
    except AnchorFileError as err:
        raise VerifyUsageError(str(err)) from None


def _findings(report: VerificationReport) -> list[str]:
    lines = [
        f"  {visible(b.stream_id)} version {b.version}: {b.reason} ({visible(b.detail)})"
        for b in report.breaks[:_SHOWN_FINDINGS]
    ]
    if len(report.breaks) > _SHOWN_FINDINGS:
        lines.append(f"  ... and {len(report.breaks) - _SHOWN_FINDINGS} more (--json lists all)")
    return lines


def _summary(report: VerificationReport, anchor: AnchoredHeads | None) -> str:
    checked = f"verified {report.events_checked} events in {report.streams_checked} streams"
    if anchor is not None:
        checked += f" against {len(anchor.heads)} anchored heads"
    if not report.ok:
        return "\n".join(
            [f"{checked}: BROKEN, {len(report.breaks)} finding(s)", *_findings(report)]
        )
    text = f"{checked}: every hash chain intact"
    if anchor is not None:
        text += ", every anchored head in place"
        if report.new_streams:
            shown = ", ".join(visible(s) for s in report.new_streams[:_SHOWN_FINDINGS])
            more = len(report.new_streams) - _SHOWN_FINDINGS
            text += f"; {len(report.new_streams)} stream(s) begun since the anchor: {shown}" + (
                f" and {more} more" if more > 0 else ""
            )
    return text


async def run(args: argparse.Namespace, stream_id: str | None) -> int:
    try:
        return await _run(args, stream_id)
    except VerifyUsageError as err:
        print(f"accord verify: {err}", file=sys.stderr)
        return 2


async def _run(args: argparse.Namespace, stream_id: str | None) -> int:
    from store import EventStore
    from store.embedded import database_url

    if args.output and not args.heads:
        raise VerifyUsageError("-o/--output needs --heads")
    keys = _heads_keys() if (args.heads or args.expect_heads) else None
    anchor, signature_checked = (
        _read_anchor(args.expect_heads, keys) if args.expect_heads else (None, False)
    )
    store = await EventStore.connect(database_url())
    try:
        report = await store.verify(stream_id, anchor=anchor)
        snapshot = await store.export_heads() if args.heads and report.ok else None
    finally:
        await store.close()

    payload = verification_json(report)
    if anchor is not None:
        payload["anchor"] = {
            "streams": len(anchor.heads),
            "horizon": anchor.horizon,
            "signature_checked": signature_checked,
            "new_streams": report.new_streams,
        }
    if snapshot is None:
        if args.heads:  # a broken log is not anchored: that would bless the damage
            print("accord verify: heads not exported: the log does not verify", file=sys.stderr)
        _emit(payload, args.json, _summary(report, anchor))
        return 0 if report.ok else 1

    key = None if keys is None else (keys.current_id, keys.current)
    document = heads_document(snapshot, key=key)
    if not args.output:
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    _write(Path(args.output), json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    payload["heads_file"] = {
        "path": args.output,
        "streams": len(document["streams"]),
        "digest": document["digest"],
        "signed": "signature" in document,
    }
    signed = (
        f"signed with key {keys.current_id}"
        if keys is not None
        else f"unsigned: set {HEADS_KEYS} to sign"
    )
    human = (
        f"{_summary(report, anchor)}\nexported the heads of {len(document['streams'])} "
        f"streams to {args.output} ({document['digest']}, {signed})"
    )
    _emit(payload, args.json, human)
    return 0


def _write(path: Path, text: str) -> None:
    """Write the file whole or not at all (a half-written anchor would later be refused)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as err:
        temporary.unlink(missing_ok=True)
        raise VerifyUsageError(f"cannot write the heads file ({err.strerror})") from None


def _emit(payload: dict[str, Any], as_json: bool, human: str) -> None:
    if as_json:
        print(json.dumps(payload, indent=2, default=str, ensure_ascii=False))
    else:
        print(human)
