"""`autofine bench`: how fast, per stage and end to end, and how many cameras this machine sustains."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def bench(
    camera: Annotated[
        Path, typer.Option("--camera", help="Camera config whose video and rules are run.")
    ] = Path("cameras/vtest.yaml"),
    model: Annotated[
        str | None, typer.Option("--model", help="Registry id or ONNX path (default: the camera's model).")
    ] = None,
    model_path: Annotated[
        Path | None, typer.Option("--model-path", help="Local ONNX for a registry id.")
    ] = None,
    frames: Annotated[int, typer.Option(min=5, help="Frames for the stage and end-to-end runs.")] = 100,
    max_cameras: Annotated[int, typer.Option("--max-cameras", min=1, help="Largest camera count tried.")] = 6,
    camera_frames: Annotated[int, typer.Option(min=5, help="Analysed frames per camera in the sweep.")] = 25,
    threads: Annotated[int | None, typer.Option(min=1, help="onnxruntime intra-op threads.")] = None,
    providers: Annotated[
        str | None, typer.Option(help="onnxruntime providers, e.g. 'cpu' or 'cuda,cpu'.")
    ] = None,
    baseline: Annotated[
        bool, typer.Option(help="Also time ultralytics predict/track (needs the train extra).")
    ] = True,
    baseline_model_path: Annotated[
        Path | None,
        typer.Option(
            "--baseline-model-path", help="ONNX ultralytics runs (default: the same model as ours)."
        ),
    ] = None,
    batch: Annotated[
        int, typer.Option(min=0, help="Also sweep cameras sharing one batching worker of this max batch.")
    ] = 0,
    batch_wait_ms: Annotated[
        float, typer.Option(min=0, help="Batching worker's max wait for a fuller batch (ms).")
    ] = 20.0,
    out: Annotated[Path, typer.Option("--out", help="Folder for JSON, Markdown and PNG.")] = Path(
        "benchmarks/results"
    ),
) -> None:
    """Frames/s and latency per stage, end to end, cameras sustained, and ultralytics as the baseline."""
    from evaluation.bench import run_bench
    from evaluation.bench_report import write_bench_outputs
    from vision.scene import load_camera_config

    config = load_camera_config(camera)
    result = run_bench(
        config,
        model=model or (str(config.model_path) if config.model_path else config.model),
        model_path=model_path,
        frames=frames,
        max_cameras=max_cameras,
        camera_frames=camera_frames,
        threads=threads,
        providers=providers.split(",") if providers else None,
        baseline=baseline,
        baseline_model_path=baseline_model_path,
        batch=batch,
        batch_wait_ms=batch_wait_ms,
        log=typer.echo,
    )
    s = result.summary()
    line = (
        f"end to end {s['end_to_end_fps']:.2f} frames/s; "
        f"overhead {100 * s['overhead_share_of_inference']:.1f} % of inference; "
        f"{s['cameras_sustained']} camera(s) at {s['target_fps']:g} fps"
    )
    if "ratio_vs_ultralytics_track" in s:
        line += f"; {s['ratio_vs_ultralytics_track']:.2f}× ultralytics track"
    typer.echo(line)
    for path in write_bench_outputs(result, out):
        typer.echo(f"wrote {path}")
