"""Bench results as files: JSON (everything), Markdown (the tables people read), PNG (frames/s vs cameras)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from evaluation.bench import BenchResult, StageStat


def _row(s: StageStat) -> str:
    cores = "" if s.cpu_cores is None else f"{s.cpu_cores:.2f}"
    return f"| {s.name} | {s.n} | {s.mean_ms:.2f} | {s.p50_ms:.2f} | {s.p95_ms:.2f} | {s.fps:.1f} | {cores} |"


def bench_markdown(r: BenchResult) -> str:
    s = r.summary()
    m = r.model
    load = ", ".join(f"{x:.1f}" for x in r.machine["load_average_at_start"] or [])
    head = (
        "| stage | frames | mean ms | p50 ms | p95 ms | frames/s | CPU cores |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    lines = [
        f"# autofine bench: {m['id']} on {Path(r.video).name} (camera `{r.camera}`)",
        "",
        f"- date: {r.date}",
        f"- machine: {r.machine['cpu']}, {r.machine['cores']} cores; onnxruntime {r.machine['onnxruntime']}; "
        f"load average at start {load}",
        f"- model: {m['id']} {m['version']} ({m['family']}, input {m['input_size'][0]}×{m['input_size'][1]}),"
        f" sha256 {m['sha256'][:12]}…; provider {m['providers'][0]}, threads {m['threads'] or 'default'}"
        f"{', idle threads spin' if m.get('spin') else ''}",
        f"- frames: {r.frames} of {Path(r.video).name}, every frame analysed (stage tables and end to end)",
        "",
        "## Summary",
        "",
        f"- end to end: **{s['end_to_end_fps']:.2f} frames/s** (decode → detect → track → rules → confirm → "
        f"evidence, one camera, every frame)",
        f"- in that run: inference {s['inference_ms']:.1f} ms per frame (inside onnxruntime); everything "
        f"else in the frame loop {s['overhead_ms']:.1f} ms "
        f"(**{100 * s['overhead_share_of_inference']:.1f} %** of inference; output decode+NMS, tracking, "
        "rules, confirmation, evidence hand-off, waiting for the next frame, letterbox of frames not "
        "prepared ahead)",
        "- beside the frame loop, on the camera's decode-ahead thread: video decode, motion, letterbox "
        "(`detector.decode_ahead`; its CPU is in the CPU times below)",
        f"- beside the frame loop, on the camera's evidence thread (redaction, snapshot, H.264 clip, hashes, "
        f"signature, sinks): {s.get('evidence_thread_ms_per_frame', 0.0):.1f} ms per analysed frame",
        f"- cameras sustained at {s['target_fps']:g} analysed frames/s each: **{s['cameras_sustained']}**",
    ]
    b = r.baseline
    if b.available:
        lines += [
            f"- ultralytics {b.version} on the same ONNX and video, every frame: predict {b.predict_fps:.2f} "
            f"frames/s ({b.predict_cpu_ms:.0f} CPU ms/frame), track {b.track_fps:.2f} frames/s "
            f"({b.track_cpu_ms:.0f} CPU ms/frame)",
            f"- autofine end to end, mean of the runs before and after the baseline: "
            f"{s['bracketed_end_to_end_fps']:.2f} frames/s, "
            f"{s['bracketed_cpu_ms_per_frame']:.0f} CPU ms/frame → "
            f"**{s['ratio_vs_ultralytics_track']:.2f}×** ultralytics `track` on wall time, "
            f"**{s['cpu_ratio_vs_ultralytics_track']:.2f}×** on CPU time; vs `predict` (no tracking) "
            f"{s['cpu_ratio_vs_ultralytics_predict']:.2f}× on CPU time",
        ]
    else:
        lines.append(f"- ultralytics baseline: not run ({b.reason})")
    lines += ["", "## Detector stages", "", head, _row(r.decode), *(_row(x) for x in r.detector)]
    lines += [
        "",
        "## Pipeline stages (end to end run)",
        "",
        head,
        *(_row(x) for x in r.pipeline.stages),
        _row(r.pipeline.frame_ms),
    ]
    lines += [
        "",
        f"End to end: {r.pipeline.frames} frames in {r.pipeline.wall_s:.1f} s = "
        f"{r.pipeline.fps:.2f} frames/s, "
        f"{r.pipeline.cpu_cores:.2f} CPU cores busy, peak RSS {r.pipeline.peak_rss_mb:.0f} MB; violations: "
        f"{r.pipeline.violations or 'none'}.",
        "",
        "## Batch sizes (multi-camera inference)",
        "",
        f"Model batch axis: {r.batches['fixed_batch'] or 'dynamic'}"
        + (" (a fixed batch of 1 is run image by image)" if r.batches["fixed_batch"] == 1 else ""),
        "",
        "| batch | ms per frame |",
        "|---:|---:|",
        *(f"| {k} | {v:.1f} |" for k, v in r.batches["ms_per_frame"].items()),
        "",
        f"## Cameras (threads sharing one detector, {r.cameras[0].frames_per_camera if r.cameras else 0} "
        f"analysed frames each, target {r.target_fps:g} frames/s per camera)",
        "",
        "| cameras | total frames/s | slowest camera frames/s | keeps up | lag behind real time s | RSS MB |",
        "|---:|---:|---:|:---:|---:|---:|",
        *(
            f"| {p.cameras} | {p.total_fps:.2f} | {p.min_camera_fps:.2f} | "
            f"{'yes' if p.sustained else 'no'} | {p.lag_s:.1f} | {p.rss_mb:.0f} |"
            for p in r.cameras
        ),
        "",
        "## onnxruntime threads (inference only, 10 frames each)",
        "",
        "Idle threads spinning (busy-waiting) or sleeping; alone, and beside one busy thread as the evidence "
        "thread is (camera config `detector.spin`).",
        "",
        "| threads | spin | mean ms alone | p95 ms alone | CPU ms/frame alone | mean ms beside a busy "
        "thread |",
        "|---:|:---:|---:|---:|---:|---:|",
        *(
            f"| {t['threads']} | {'yes' if t.get('spin') else 'no'} | {t['mean_ms']:.1f} | "
            f"{t['p95_ms']:.1f} | {t['cpu_ms_per_frame']:.1f} | {t.get('beside_busy_ms', float('nan')):.1f} |"
            for t in r.threads
        ),
        "",
        "## GPU",
        "",
    ]
    runs = r.gpu.get("runs", [])
    if not runs:
        lines.append("No CUDA/TensorRT provider in this onnxruntime build: section skipped.")
    for g in runs:
        if "error" in g:
            lines.append(f"- {g['provider']}: failed: {g['error']}")
            continue
        inf = next(x for x in g["detector"] if x["name"] == "inference")
        lines.append(
            f"- {g['provider']} (session providers {g['providers_used']}): inference "
            f"{inf['mean_ms']:.2f} ms, end to end {g['end_to_end_fps']:.1f} frames/s, "
            f"batch ms/frame {g['batches']['ms_per_frame']}"
        )
    return "\n".join(lines) + "\n"


def plot_cameras(r: BenchResult, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = [p.cameras for p in r.cameras]
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    ax.plot(n, [p.total_fps for p in r.cameras], "o-", label="all cameras together")
    ax.plot(n, [p.min_camera_fps for p in r.cameras], "s-", label="slowest camera")
    ax.axhline(r.target_fps, color="grey", ls="--", label=f"target {r.target_fps:g} frames/s per camera")
    ax.set_xlabel("cameras (threads, one shared detector)")
    ax.set_ylabel("analysed frames/s")
    ax.set_xticks(n)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.set_title(f"{r.model['id']} on {Path(r.video).name}, {r.machine['cores']} cores, {r.date}", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_bench_outputs(r: BenchResult, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = "bench_" + re.sub(r"[^A-Za-z0-9.-]+", "-", f"{r.model['id']}_{r.camera}")
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(r.to_dict(), indent=2, default=str) + "\n")
    md_path = out_dir / f"{stem}.md"
    md_path.write_text(bench_markdown(r))
    return [json_path, md_path, plot_cameras(r, out_dir / f"{stem}_cameras.png")]
