"""Write docs/results.md from the files in benchmarks/results/ (what the commands printed, nothing else).

    python benchmarks/results_md.py            # → docs/results.md and README.md's Results section

Each section names the command that produced its numbers; rerun those commands, then this script.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _load(pattern: str) -> list[dict]:
    return [json.loads(p.read_text()) | {"_file": p.name} for p in sorted(RESULTS.glob(pattern))]


def _f(x: float | None, digits: int = 3) -> str:
    return "n/a" if x is None or x != x else f"{x:.{digits}f}"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


READING = (
    """Reading these numbers:

- Evidence (redaction, snapshot, H.264 clip, hashes, signature, sinks) is built on each camera's evidence
  thread, beside the frame loop: its CPU per analysed frame is listed separately and competes with inference
  for the cores, so end-to-end frames/s includes it; ultralytics `track` builds no evidence.
- `bench_fall-yolov8s-int8` compares the bundled INT8 default with ultralytics on the shipped float ONNX
  (`--baseline-model-path`): what a user would otherwise run.
- Batching several cameras' frames gains nothing on this CPU (compute-bound); it is there for GPUs.
- docs/fast-path.md has the targets of the fast-path issue against these numbers.
""".splitlines()
    + [""]
)

DETECT_COMMANDS = {
    "detect_cigarette_cigarettes.json": "autofine eval detect --data ../shared/datasets/cigarettes/data.yaml "
    "--model cigarette --conf 0.25 --out benchmarks/results",
    "detect_cigarette_cigarettes_flip.json": "autofine eval detect --data "
    "../shared/datasets/cigarettes/data.yaml --model cigarette --conf 0.25 --flip-tta "
    "--out benchmarks/results",
    "detect_litter_litter.json": "autofine eval detect --data ../shared/datasets/litter/data.yaml "
    "--model litter --conf 0.25 --out benchmarks/results",
    "detect_yolox-nano_coco128_person.json": "autofine eval detect --data "
    "../shared/datasets/coco128/data.yaml "
    "--model ../shared/models/yolox_nano.onnx --classes person --out benchmarks/results",
    "detect_yolox-nano_coco128.json": "autofine eval detect --data ../shared/datasets/coco128/data.yaml "
    "--model ../shared/models/yolox_nano.onnx --out benchmarks/results",
    "detect_fall-yolov8s_coco128_person.json": "autofine eval detect --data "
    "../shared/datasets/coco128/data.yaml "
    "--model fall-yolov8s --classes person --out benchmarks/results",
    "detect_yolox-nano_litter_bottle_cup.json": "autofine eval detect --data "
    "../shared/datasets/litter/data.yaml "
    "--model ../shared/models/yolox_nano.onnx --classes bottle,cup --out benchmarks/results",
    "detect_fall-yolov8s-int8_coco128_person.json": "autofine eval detect --data "
    "../shared/datasets/coco128/data.yaml --model fall-yolov8s-int8 --classes person "
    "--out benchmarks/results",
    "detect_fall-yolov8s-int8_coco128_Normal-person-Fall-person_person.json": "autofine eval detect --data "
    "../shared/datasets/coco128/data.yaml --model fall-yolov8s-int8 --class-map 'Normal=person,Fall=person' "
    "--classes person --out benchmarks/results",
    "detect_fall-yolov8s_coco128_Normal-person-Fall-person_person.json": "autofine eval detect --data "
    "../shared/datasets/coco128/data.yaml --model fall-yolov8s --class-map 'Normal=person,Fall=person' "
    "--classes person --out benchmarks/results",
}


def detection_section() -> list[str]:
    lines = [
        "## Detection accuracy",
        "",
        "coco128 images are COCO training images, so every COCO-pretrained model scores optimistically "
        "here: this "
        "checks the machinery and compares models, it is not a benchmark. AP is COCO-style "
        "(faster-coco-eval, "
        "predictions ≥ 0.001); P/R at confidence 0.25 (the cigarette model's operating threshold too), "
        "IoU 0.5. The cigarette and litter rows are the project's own models on their datasets' valid splits "
        "(targets mAP50 ≥ 0.80 and ≥ 0.70, see the model cards). Speed is ms per image for the whole "
        "`detect` call and depends on the machine's load at the time (see each file's date).",
        "",
        "| model | dataset | classes | images | boxes | AP50 | AP50-95 | P | R | ms/image | date |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    runs = _load("detect_*.json")
    for r in runs:
        o = r["overall"]
        names = [c["name"] for c in r["classes"]]
        classes = ", ".join(names) if len(names) <= 3 else f"{len(names)} (mean)"
        # the registry maps Normal → person and drops Fall (models/cards); these files keep Fall as person
        note = " (Fall kept as person)" if "Fall-person" in r["_file"] else ""
        if r.get("model_info", {}).get("flip_tta"):
            note += " + flip TTA (the smoking stage's default)"
        lines.append(
            f"| {r['model']}{note} | {Path(r['dataset']).parent.name} | {classes} | {r['images']} | "
            f"{o['boxes']} | {_f(o['ap50'])} | "
            f"{_f(o['ap50_95'])} | {_f(o['precision'])} | {_f(o['recall'])} | "
            f"{r['speed_ms_per_image']['mean']:.0f} | {r['date']} |"
        )
    lines += ["", "Commands:", ""]
    lines += [f"- `{DETECT_COMMANDS.get(r['_file'], r['_file'])}`" for r in runs]
    lines += [
        "",
        "For comparison, `../shared/README.md` measured person AP50 / AP50-95 of 0.442 / 0.188 for the "
        "float fall model with Fall kept as person (0.464 / 0.194 with `Normal` only, the registry's map "
        "now) and 0.640 / 0.397 for YOLOX-Nano with its own letterbox and NMS; the numbers above agree "
        "within 0.01.",
        "",
        "On `litter` (valid split, photos of bottles and cups lying on the ground) the COCO detector finds "
        "almost nothing (bottle+cup AP50 0.02): COCO's bottles and cups stand on tables or sit in hands, so "
        "littering evidence needs the project's own litter model, not a COCO class.",
    ]
    return lines


EVENTS_MODEL_ARGS = {
    "events_yolox-nano": " --model yolox-nano --model-path ../shared/models/yolox_nano.onnx",
    "events_fall-yolov8s": " --model fall-yolov8s",
}


def events_section() -> list[str]:
    lines = ["## Event accuracy (annotated clips)", ""]
    for path in sorted(RESULTS.glob("events_*/events.json")):
        r = json.loads(path.read_text())
        folder = path.parent.name
        lines += [f"### `{folder}` — model: {r['model']}, {r['date']}", ""]
        lines += ["| type | TP | FP | FN | precision | recall | F1 |", "|---|---:|---:|---:|---:|---:|---:|"]
        for t, s in r["totals"].items():
            if s["tp"] + s["fp"] + s["fn"] == 0:
                continue
            lines.append(
                f"| {t} | {s['tp']} | {s['fp']} | {s['fn']} | {_f(s['precision'], 2)} | "
                f"{_f(s['recall'], 2)} | {_f(s['f1'], 2)} |"
            )
        lines.append("")
        for c in r["clips"]:
            fps = "; ".join(
                f"{f['start_s']:.1f}–{f['end_s']:.1f} s {f['reason']}" for f in c["false_positives"]
            )
            fns = "; ".join(f"{e['start_s']:.1f}–{e['end_s']:.1f} s" for e in c["false_negatives"])
            lines.append(
                f"- {Path(c['annotation']).name}: {c['events']} events, {c['incidents']} incidents, "
                f"{c['frames_analysed']} frames analysed; FP: {fps or 'none'}; FN: {fns or 'none'}"
            )
        model_arg = EVENTS_MODEL_ARGS.get(folder, "")
        lines += [
            "",
            f"Command: `autofine eval events --clips datasets/events/vtest.yaml "
            f"datasets/events/synthetic_crossing.yaml"
            f"{model_arg} --out benchmarks/results/{folder}`",
            "",
        ]
    return lines


def bench_section() -> list[str]:
    lines = ["## Throughput (`autofine bench`)", ""]
    for r in _load("bench_*.json"):
        s, m, p, b = r["summary"], r["model"], r["pipeline"], r["baseline"]
        stages = {x["name"]: x for x in p["stages"]}
        det = {x["name"]: x for x in r["detector"]}
        load = ", ".join(f"{x:.1f}" for x in r["machine"]["load_average_at_start"])
        lines += [
            f"### {m['id']} ({m['family']}, {m['input_size'][0]} px) on {Path(r['video']).name}, {r['date']}",
            "",
            f"Machine load average at start: {load}"
            f" on {r['machine']['cores']} cores (other engineers' jobs share the CPU: compare ratios, not "
            "absolute speeds).",
            "",
            f"- end to end, every frame analysed: **{s['end_to_end_fps']:.2f} frames/s**, "
            f"{s['end_to_end_cpu_ms_per_frame']:.0f} CPU ms per frame, p50/p95 frame latency "
            f"{p['frame_ms']['p50_ms']:.0f} / {p['frame_ms']['p95_ms']:.0f} ms, peak RSS "
            f"{p['peak_rss_mb']:.0f} MB",
            f"- detector alone: preprocess {det['preprocess']['mean_ms']:.1f} ms, inference "
            f"{det['inference']['mean_ms']:.1f} ms, postprocess {det['postprocess']['mean_ms']:.1f} ms",
            "- pipeline stages per frame (ms, mean): "
            + ", ".join(f"{k} {v['mean_ms']:.1f}" for k, v in stages.items())
            + (
                f"; beside the frame loop, evidence thread (redaction, clip encoding, signing, sinks) "
                f"{p['evidence_thread_ms_per_frame']:.1f}"
                if p.get("evidence_thread_ms_per_frame")
                else ""
            ),
            f"- overhead (everything but inference, same run): {s['overhead_ms']:.1f} ms = "
            f"**{100 * s['overhead_share_of_inference']:.0f} %** of inference",
            f"- cameras sustained at {s['target_fps']:g} analysed frames/s: **{s['cameras_sustained']}** ("
            + ", ".join(f"{c['cameras']}: {c['min_camera_fps']:.2f}" for c in r["cameras"])
            + " frames/s for the slowest camera)",
        ]
        if b["available"]:
            lines.append(
                f"- ultralytics {b['version']} on the same ONNX and video: predict {b['predict_fps']:.2f} "
                f"frames/s "
                f"({b['predict_cpu_ms']:.0f} CPU ms/frame), track {b['track_fps']:.2f} frames/s "
                f"({b['track_cpu_ms']:.0f} CPU ms/frame) → autofine end to end (mean of the runs just "
                "before and after) = "
                f"**{s['ratio_vs_ultralytics_track']:.2f}×** `track` on wall time, "
                f"**{s['cpu_ratio_vs_ultralytics_track']:.2f}×** on CPU time"
            )
        else:
            lines.append(f"- ultralytics baseline: {b['reason']}")
        if r.get("threads"):
            lines.append(
                "- inference by onnxruntime threads: "
                + ", ".join(
                    f"{t['threads']}{_spin(t)} → {t['mean_ms']:.1f} ms ({t['cpu_ms_per_frame']:.0f} CPU ms"
                    + (
                        f"; {t['beside_busy_ms']:.1f} ms beside a busy thread)"
                        if "beside_busy_ms" in t
                        else ")"
                    )
                    for t in r["threads"]
                )
            )
        gpu = r.get("gpu", {}).get("runs", [])
        lines.append(f"- GPU: {'see the JSON' if gpu else 'no CUDA/TensorRT provider here, section skipped'}")
        lines += ["", f"Files: `benchmarks/results/{r['_file']}` (+ `.md`, `_cameras.png`)", ""]
    lines += [
        *READING,
        "Commands:",
        "",
        "- `autofine bench --camera cameras/vtest.yaml --model fall-yolov8s-int8 --baseline-model-path "
        "~/.cache/autofine/models/fall-yolov8s/best_fp16.onnx --frames 300 --max-cameras 6 "
        "--camera-frames 15 --out benchmarks/results`",
        "- `autofine bench --camera cameras/vtest.yaml --model fall-yolov8s --frames 60 --max-cameras 4 "
        "--camera-frames 15 --out benchmarks/results`",
        "- `autofine bench --model yolox-nano --model-path ../shared/models/yolox_nano.onnx --frames 300 "
        "--max-cameras 10 --camera-frames 15 --no-baseline --out benchmarks/results`",
        "",
    ]
    return lines


def main() -> int:
    lines = [
        "# Results",
        "",
        f"Measured on this project's build machine: {_cpu_model()}, 2 cores (shared with other jobs), Python "
        f"{platform.python_version()}, onnxruntime CPU. Generated by `python benchmarks/results_md.py` "
        f"from the "
        "files in `benchmarks/results/`; every number below is what the named command printed.",
        "",
        *detection_section(),
        "",
        *events_section(),
        *bench_section(),
    ]
    out = ROOT / "docs" / "results.md"
    out.write_text("\n".join(lines).rstrip() + "\n")
    print(f"wrote {out}")
    _write_into_readme(lines[2:])
    return 0


README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"


def _write_into_readme(lines: list[str]) -> None:
    """The README's Results section is the same text, one heading level down, between two markers."""
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        print(f"README.md has no {README_START} … {README_END} markers; left alone")
        return
    body = "\n".join("#" + line if line.startswith("#") else line for line in lines).strip()
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(f"{head}{README_START}\n{body}\n{README_END}{tail}")
    print(f"wrote the Results section of {readme}")


def _spin(row: dict) -> str:
    """' spinning' / ' sleeping' for rows of benches that compared both (detector.spin), else nothing."""
    if "spin" not in row:
        return ""
    return " spinning" if row["spin"] else " sleeping"


if __name__ == "__main__":
    sys.exit(main())
