"""`autofine eval events`: run the camera pipeline on annotated clips and score its incidents per type.

For each clip: the camera config named by the annotation (its `source` replaced by the clip), the detector
the caller chose, a `DirectorySink` under `<out>/<clip>/` (the pipeline's own evidence for every incident),
then `match_events`. False negatives get a snapshot rendered here (the ground-truth box on the clip frame), so
an engineer can see both kinds of mistake without re-running anything.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from autofine.contract import ViolationRecord
from autofine.errors import UserError
from evaluation.events import (
    EventMatchResult,
    GroundTruthEvent,
    Incident,
    LoadedClip,
    MatchConfig,
    TypeScore,
    load_annotation,
    match_events,
)
from vision.detectors.base import Detector

CONFIRM_MARGIN_S = 6.0


def incidents_from_records(
    records: Sequence[ViolationRecord], clip_start: datetime, evidence_dir: Path | None = None
) -> list[Incident]:
    """Pipeline records → `Incident`s in seconds from the clip's first frame."""
    incidents = []
    for r in records:
        times = np.asarray([(b.timestamp - clip_start).total_seconds() for b in r.boxes], dtype=np.float64)
        boxes = np.asarray([b.xyxy for b in r.boxes], dtype=np.float64).reshape(-1, 4)
        start = (r.onset - clip_start).total_seconds()
        end = max([(r.confirmed_at - clip_start).total_seconds(), *times.tolist()])
        snapshot = next((e.name for e in r.evidence if e.kind == "snapshot"), None)
        incidents.append(
            Incident(
                violation_type=r.violation_type,
                start=start,
                end=end,
                times=times,
                boxes=boxes,
                incident_id=r.incident_id,
                track_id=r.track_id,
                confidence=r.confidence,
                snapshot=(evidence_dir / r.incident_id / snapshot) if evidence_dir and snapshot else None,
            )
        )
    return incidents


def in_analysed_span(clip: LoadedClip, incidents: Sequence[Incident]) -> list[Incident]:
    span = clip.annotation.analysed
    if span is None:
        return list(incidents)
    return [i for i in incidents if span[0] <= i.start <= span[1]]


def render_miss(video: Path, event: GroundTruthEvent, path: Path) -> Path | None:
    """The clip frame at the event's box hint (or middle), with the ground-truth box drawn in yellow."""
    cap = cv2.VideoCapture(str(video))
    fps = cap.get(cv2.CAP_PROP_FPS) or 10.0
    t = event.box.t if event.box else (event.start + event.end) / 2
    cap.set(cv2.CAP_PROP_POS_FRAMES, round(t * fps))
    ok, image = cap.read()
    cap.release()
    if not ok:
        return None
    if event.box:
        x1, y1, x2, y2 = (int(round(v)) for v in event.box.xyxy)
        cv2.rectangle(image, (x1, y1), (x2, y2), (0, 220, 255), 2)
    label = f"MISSED {event.type} {event.start:.1f}-{event.end:.1f}s"
    cv2.putText(image, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 0), 4)
    cv2.putText(image, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 220, 255), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), image)
    return path


@dataclass(frozen=True)
class ClipResult:
    clip: LoadedClip
    result: EventMatchResult
    incidents: int
    frames: int
    out_dir: Path
    miss_snapshots: tuple[Path | None, ...]
    model_id: str = ""


def run_clip(
    clip: LoadedClip,
    detector: Detector | None,
    out_dir: Path,
    *,
    match: MatchConfig | None = None,
    analysis_fps: float | None = None,
    reuse: bool = False,
) -> ClipResult:
    """Run the camera pipeline over the clip, then match its incidents to the annotation.

    `reuse`: score the records a previous run left in `out_dir` instead of running the pipeline again (for
    iterating on an annotation or the matching settings).
    """
    from vision.pipeline import CameraPipeline
    from vision.scene import load_camera_config
    from vision.sinks import DirectorySink, read_violations

    if clip.camera_path is None:
        raise UserError(f"{clip.path}: no 'camera:' config; events are found by a camera's zones and rules")
    config = load_camera_config(clip.camera_path)
    update: dict = {"source": str(clip.clip_path)}
    if analysis_fps is not None:
        update["analysis_fps"] = analysis_fps
    config = config.model_copy(update=update)
    out_dir.mkdir(parents=True, exist_ok=True)
    run_file = out_dir / "run.json"
    if reuse and run_file.is_file() and (out_dir / "violations.jsonl").is_file():
        previous = json.loads(run_file.read_text())
        frames = int(previous["frames"])
        model_id = previous.get("model", {}).get("id", "")
    else:
        (out_dir / "violations.jsonl").unlink(missing_ok=True)  # a re-run scores this run only
        sink = DirectorySink(out_dir)
        pipeline = CameraPipeline(config, detector, [sink])
        max_frames = None
        if clip.annotation.analysed is not None and config.analysis_fps:
            # run past the span, so an incident whose onset is inside it still gets its confirming votes
            max_frames = int((clip.annotation.analysed[1] + CONFIRM_MARGIN_S) * config.analysis_fps) + 1
        frames = pipeline.run(max_frames=max_frames).frames
        model_id = detector.model_info.id
        run_file.write_text(json.dumps({"frames": frames, "model": detector.model_info.model_dump()}) + "\n")
    records = read_violations(out_dir / "violations.jsonl")
    incidents = in_analysed_span(
        clip, incidents_from_records(records, config.start_time, out_dir / "evidence")
    )
    types = sorted({e.type for e in clip.annotation.events} | set(type(config.rules).model_fields))
    result = match_events(
        clip.annotation.events, incidents, ignore=clip.annotation.ignore, types=types, config=match
    )
    shutil.rmtree(out_dir / "missed", ignore_errors=True)
    misses = tuple(
        render_miss(clip.clip_path, e, out_dir / "missed" / f"{i:02d}_{e.type}_{e.start:.1f}s.jpg")
        for i, e in enumerate(result.false_negatives)
    )
    return ClipResult(clip, result, len(incidents), frames, out_dir, misses, model_id)


def total_scores(results: Sequence[ClipResult]) -> dict[str, TypeScore]:
    totals: dict[str, list[int]] = {}
    for r in results:
        for t, s in r.result.scores.items():
            acc = totals.setdefault(t, [0, 0, 0])
            acc[0] += s.tp
            acc[1] += s.fp
            acc[2] += s.fn
    return {t: TypeScore(t, *v) for t, v in sorted(totals.items())}


def _score_dict(s: TypeScore) -> dict:
    return {"tp": s.tp, "fp": s.fp, "fn": s.fn, "precision": s.precision, "recall": s.recall, "f1": s.f1}


def _incident_dict(i: Incident) -> dict:
    return {
        "incident_id": i.incident_id,
        "type": i.violation_type,
        "start_s": round(i.start, 2),
        "end_s": round(i.end, 2),
        "track_id": i.track_id,
        "confidence": round(i.confidence, 3),
        "snapshot": str(i.snapshot) if i.snapshot else None,
    }


def _event_dict(e: GroundTruthEvent) -> dict:
    return {
        "type": e.type,
        "start_s": e.start,
        "end_s": e.end,
        "note": e.note,
        "box": list(e.box.xyxy) if e.box else None,
    }


def report_dict(results: Sequence[ClipResult], model: str) -> dict:
    clips = []
    for r in results:
        clips.append(
            {
                "annotation": str(r.clip.path),
                "clip": str(r.clip.clip_path),
                "model": r.model_id,
                "frames_analysed": r.frames,
                "events": len(r.clip.annotation.events),
                "incidents": r.incidents,
                "scores": {t: _score_dict(s) for t, s in r.result.scores.items()},
                "matches": [
                    {"event": _event_dict(m.event), "incident": _incident_dict(m.incident)}
                    for m in r.result.matches
                ],
                "false_positives": [
                    {"reason": f.reason, **_incident_dict(f.incident)} for f in r.result.false_positives
                ],
                "false_negatives": [
                    {**_event_dict(e), "snapshot": str(p) if p else None}
                    for e, p in zip(r.result.false_negatives, r.miss_snapshots, strict=True)
                ],
                "ignored": [_incident_dict(i) for i in r.result.ignored],
            }
        )
    return {
        "kind": "event-accuracy",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "model": f"{model} ({', '.join(sorted({r.model_id for r in results if r.model_id}))})",
        "totals": {t: _score_dict(s) for t, s in total_scores(results).items()},
        "clips": clips,
    }


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def report_markdown(report: dict) -> str:
    lines = [
        f"# Event accuracy ({report['model']}, {report['date']})",
        "",
        "| type | TP | FP | FN | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for t, s in report["totals"].items():
        lines.append(
            f"| {t} | {s['tp']} | {s['fp']} | {s['fn']} | {_f(s['precision'])} | {_f(s['recall'])} "
            f"| {_f(s['f1'])} |"
        )
    for c in report["clips"]:
        lines += [
            "",
            f"## {Path(c['annotation']).name} ({c['frames_analysed']} frames analysed, "
            f"{c['events']} events, {c['incidents']} incidents)",
            "",
        ]
        for m in c["matches"]:
            e, i = m["event"], m["incident"]
            lines.append(
                f"- TP {e['type']} {e['start_s']:.1f}–{e['end_s']:.1f} s ({e['note']}) ← incident "
                f"{i['start_s']:.1f}–{i['end_s']:.1f} s track {i['track_id']}"
            )
        for f in c["false_positives"]:
            lines.append(
                f"- FP {f['type']} {f['start_s']:.1f}–{f['end_s']:.1f} s track {f['track_id']}: "
                f"{f['reason']} — {f['snapshot']}"
            )
        for e in c["false_negatives"]:
            lines.append(
                f"- FN {e['type']} {e['start_s']:.1f}–{e['end_s']:.1f} s ({e['note']}) — {e['snapshot']}"
            )
    return "\n".join(lines) + "\n"


def run_event_eval(
    annotation_paths: Sequence[Path],
    detector_for: Callable[[LoadedClip], Detector],
    out_dir: Path,
    *,
    model: str,
    match: MatchConfig | None = None,
    reuse: bool = False,
) -> tuple[list[ClipResult], dict, list[Path]]:
    if not annotation_paths:
        raise UserError("no annotation files given; pass --clips datasets/events/*.yaml")
    results = []
    for path in annotation_paths:
        clip = load_annotation(path)
        clip_out = out_dir / Path(path).stem
        reusable = reuse and (clip_out / "run.json").is_file()
        detector = None if reusable else detector_for(clip)
        results.append(run_clip(clip, detector, clip_out, match=match, reuse=reuse))
    report = report_dict(results, model)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "events.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path = out_dir / "events.md"
    md_path.write_text(report_markdown(report))
    return results, report, [json_path, md_path]
