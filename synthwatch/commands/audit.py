"""``synthwatch audit``: verify the hash-chained audit log, export it, write a checkpoint.

A checkpoint (the id and hash of the last row) kept away from this machine is what lets
``audit verify --checkpoint FILE`` find rows cut off the end of the log.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from storage.audit import (
    Checkpoint,
    CheckpointError,
    append_event,
    checkpoint,
    event_data,
    iter_events,
    verify_chain,
)
from storage.clock import utcnow
from synthwatch.commands.common import Subparsers, err, open_store, out
from synthwatch.errors import UsageError


def register(sub: Subparsers) -> None:
    audit = sub.add_parser("audit", help="the hash-chained audit log")
    actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    verify = actions.add_parser(
        "verify", help="check the chain; exit 1 and name the first bad row if it is broken"
    )
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="FILE",
        help="a checkpoint written earlier: rows cut off the end are found too",
    )
    verify.set_defaults(handler=verify_log)

    export = actions.add_parser("export", help="write the log as JSON lines, with a checkpoint")
    export.add_argument("--out", type=Path, required=True, metavar="FILE")
    export.add_argument(
        "--checkpoint", type=Path, metavar="FILE", help="also write the checkpoint of the export"
    )
    export.set_defaults(handler=export_log)

    mark = actions.add_parser("checkpoint", help="write the checkpoint of the log as it is now")
    mark.add_argument("--out", type=Path, required=True, metavar="FILE")
    mark.set_defaults(handler=write_checkpoint)


def read_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint file, or fail with a message naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Checkpoint.from_dict(data, where=str(path))
    except (OSError, ValueError, CheckpointError) as error:
        raise UsageError(f"{path}: not a readable audit checkpoint ({error})") from error


def verify_log(args: argparse.Namespace) -> int:
    """Walk the audit log; print the first bad row and exit 1, or say it holds."""
    mark = read_checkpoint(args.checkpoint) if args.checkpoint else None
    with open_store().sessions() as session:
        broken = verify_chain(session, mark)
        last = checkpoint(session)
    if broken is not None:
        out.print(
            f"BROKEN at audit row {broken.event_id} ({broken.kind}): {broken.problem}",
            highlight=False,
        )
        return 1
    rows = last.event_id if last else 0
    since = f"; it still holds checkpoint row {mark.event_id}" if mark else ""
    err.print(f"audit log intact: {rows} rows chained{since}", highlight=False)
    return 0


def export_log(args: argparse.Namespace) -> int:
    """Write every audit row as a JSON line (with its hashes); audit the export."""
    count = 0
    with open_store().sessions() as session:
        mark = checkpoint(session)
        with args.out.open("w", encoding="utf-8") as fh:
            for event in iter_events(session):
                fh.write(json.dumps(event_data(event), ensure_ascii=False, sort_keys=True) + "\n")
                count += 1
        if mark is not None and args.checkpoint:
            _write_json(args.checkpoint, mark.to_dict())
        append_event(
            session,
            action="audit.exported",
            object_type="audit",
            object_id="jsonl",
            now=utcnow(),
            detail={"up_to_event": mark.event_id if mark else 0, "file": str(args.out)[:300]},
        )
    err.print(f"{count} audit rows written to {args.out}", highlight=False)
    return 0


def write_checkpoint(args: argparse.Namespace) -> int:
    """Write the id and hash of the last audit row; keep the file somewhere else."""
    with open_store().sessions() as session:
        mark = checkpoint(session)
    if mark is None:
        raise UsageError("the audit log is empty: there is nothing to checkpoint")
    _write_json(args.out, mark.to_dict())
    err.print(f"checkpoint of row {mark.event_id} written to {args.out}", highlight=False)
    return 0


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
