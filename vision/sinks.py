"""Where confirmed violations go: any object with `emit(record, files)`.

The pipeline hands every sink the finished `ViolationRecord` and its evidence files (file name → path of a
staged copy; the sink copies what it keeps, the pipeline deletes the staged files after all sinks ran).
`DirectorySink` writes `violations.jsonl` + `evidence/<incident_id>/<file>`; the outbox (vision/outbox.py)
is another sink that delivers to the fine service.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol, runtime_checkable

from autofine.contract import ViolationRecord

VIOLATIONS_FILE = "violations.jsonl"
EVIDENCE_DIR = "evidence"


@runtime_checkable
class ViolationSink(Protocol):
    def emit(self, record: ViolationRecord, files: Mapping[str, Path]) -> None:
        """Keep or forward one violation. Must not keep references to `files` after returning."""


class DirectorySink:
    """`<out>/violations.jsonl` (one record per line) + `<out>/evidence/<incident_id>/<file name>`.

    Evidence files are written before the record line, and the line is flushed and fsync-ed, so a line in
    the JSONL always has its files. Re-running into the same directory skips incidents already recorded.
    """

    def __init__(self, out_dir: str | Path) -> None:
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.jsonl_path = self.out_dir / VIOLATIONS_FILE
        self.recorded: set[str] = set(r.incident_id for r in read_violations(self.jsonl_path))
        self.emitted = 0

    def evidence_dir(self, incident_id: str) -> Path:
        return self.out_dir / EVIDENCE_DIR / incident_id

    def emit(self, record: ViolationRecord, files: Mapping[str, Path]) -> None:
        if record.incident_id in self.recorded:
            return
        target = self.evidence_dir(record.incident_id)
        target.mkdir(parents=True, exist_ok=True)
        for name, path in files.items():
            shutil.copyfile(path, target / name)
        line = record.model_dump_json() + "\n"
        with open(self.jsonl_path, "a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        self.recorded.add(record.incident_id)
        self.emitted += 1


class ListSink:
    """Keeps records (and copies of nothing) in memory: for callers that only want the records."""

    def __init__(self) -> None:
        self.records: list[ViolationRecord] = []

    def emit(self, record: ViolationRecord, files: Mapping[str, Path]) -> None:
        self.records.append(record)


def read_violations(jsonl_path: str | Path) -> list[ViolationRecord]:
    """Records of a `violations.jsonl`; a torn last line (crash mid-write) is ignored."""
    path = Path(jsonl_path)
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            records.append(ViolationRecord.model_validate(json.loads(line)))
        except (json.JSONDecodeError, ValueError):
            continue
    return records
