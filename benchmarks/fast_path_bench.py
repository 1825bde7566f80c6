"""Fast-path switches measured in one run: decode ahead (reader thread) and motion gating.

- decode ahead 0 vs 2 frames: end-to-end frames/s of the whole pipeline on vtest.avi, every frame analysed;
- motion gating on vs off: detector runs, frames/s and violations on vtest.avi and di_bo_1.mp4.

    .venv/bin/python -m benchmarks.fast_path_bench --out benchmarks/results/fast_path

Writes `fast_path_switches.json` / `.md`. YOLOX-Nano by path (the switches do not depend on the model).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
YOLOX = REPO.parent / "shared" / "models" / "yolox_nano.onnx"


def _run(config, *, max_frames: int | None = None) -> dict:
    from vision.detectors import load_detector
    from vision.pipeline import CameraPipeline
    from vision.sinks import DirectorySink, read_violations

    with tempfile.TemporaryDirectory() as tmp:
        pipeline = CameraPipeline(config, load_detector("yolox-nano", path=YOLOX), [DirectorySink(tmp)])
        t0 = time.perf_counter()
        stats = pipeline.run(max_frames=max_frames)
        wall = time.perf_counter() - t0
        records = read_violations(Path(tmp) / "violations.jsonl")
    return {
        "frames": stats.frames,
        "detector_runs": stats.detector_runs,
        "fps": stats.frames / wall,
        "ms_per_frame": {k: round(v, 2) for k, v in stats.per_frame_ms().items()},
        "violations": sorted(f"{r.violation_type}:{r.track_id}:{r.onset.isoformat()}" for r in records),
        "gate": dict(pipeline.gate.counts) if pipeline.gate else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "fast_path")
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()

    from vision.samples import fetch_sample
    from vision.scene import load_camera_config

    vtest = load_camera_config(REPO / "cameras" / "vtest.yaml")
    vtest = vtest.model_copy(update={"source": str(fetch_sample("vtest.avi"))})
    result: dict = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "decode_ahead": {},
        "gating": {},
    }
    every = vtest.model_copy(update={"analysis_fps": None})
    for ahead in (0, 2, 0, 2):  # twice each, interleaved: load on a shared machine drifts
        cfg = every.model_copy(update={"detector": every.detector.model_copy(update={"decode_ahead": ahead})})
        run = _run(cfg, max_frames=args.frames)
        result["decode_ahead"].setdefault(str(ahead), []).append(run["fps"])
        print(f"decode_ahead={ahead}: {run['fps']:.2f} frames/s", flush=True)

    clips = {"vtest": vtest, "di_bo_1": load_camera_config(REPO / "cameras" / "di_bo_1.yaml")}
    for name, cfg in clips.items():
        for enabled in (False, True):
            run = _run(cfg.model_copy(update={"motion": cfg.motion.model_copy(update={"enabled": enabled})}))
            result["gating"].setdefault(name, {})["on" if enabled else "off"] = run
            print(
                f"{name} gating {'on ' if enabled else 'off'}: "
                f"{run['detector_runs']}/{run['frames']} detector runs, {run['fps']:.2f} frames/s, "
                f"{len(run['violations'])} violations, gate {run['gate']}",
                flush=True,
            )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "fast_path_switches.json").write_text(json.dumps(result, indent=2))
    lines = [f"# Fast-path switches ({result['when']}, YOLOX-Nano, 2-core shared machine)", ""]
    lines += ["| decode ahead | frames/s (runs) |", "|---|---|"]
    lines += [f"| {k} | {', '.join(f'{v:.2f}' for v in vs)} |" for k, vs in result["decode_ahead"].items()]
    lines += ["", "| clip | gating | detector runs / frames | frames/s | violations | same violations |"]
    lines += ["|---|---|---|---|---|---|"]
    for name, runs in result["gating"].items():
        same = runs["on"]["violations"] == runs["off"]["violations"]
        for key, run in runs.items():
            lines.append(
                f"| {name} | {key} | {run['detector_runs']} / {run['frames']} | {run['fps']:.2f} | "
                f"{len(run['violations'])} | {'yes' if same else 'NO'} |"
            )
    lines += ["", "Command: `.venv/bin/python -m benchmarks.fast_path_bench`"]
    (args.out / "fast_path_switches.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
