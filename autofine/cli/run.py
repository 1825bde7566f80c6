"""`autofine run --camera CAMERA.yaml`: run one camera's pipeline over its source.

Writes `violations.jsonl` + `evidence/<incident_id>/` into the output folder (and to the fine service when the
camera config has a `delivery` section). Ctrl-C stops cleanly: pending incidents are finished with the
frames already seen, and everything written stays.
"""

from __future__ import annotations

import dataclasses
import json
import signal
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from autofine.cli._logs import show_autofine_logs
from autofine.cli._progress import frames_progress, frames_to_analyse
from autofine.errors import UserError


def run(
    camera: Path = typer.Option(..., "--camera", "-c", help="Camera config YAML (e.g. cameras/vtest.yaml)."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder.", show_default="runs/<camera_id>"
    ),
    max_frames: int | None = typer.Option(
        None, "--max-frames", min=1, help="Stop after this many analysed frames."
    ),
    model: str | None = typer.Option(None, "--model", "-m", help="Override the config's model id."),
    model_path: Path | None = typer.Option(
        None, "--model-path", help="Override the config's model file (.onnx)."
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help="onnxruntime intra-op threads."),
    service_url: str | None = typer.Option(
        None, "--service-url", help="Deliver to this fine service (overrides the config's delivery)."
    ),
    token: str | None = typer.Option(
        None, "--token", envvar="AUTOFINE_CAMERA_TOKEN", help="Camera token for delivery.", show_default=False
    ),
    outbox_path: Path | None = typer.Option(
        None, "--outbox", help="Outbox SQLite file.", show_default="$AUTOFINE_OUTBOX_DIR/<camera_id>.sqlite3"
    ),
) -> None:
    """Detect, track, apply the camera's rules and write confirmed violations with evidence."""
    from vision.detectors import load_camera_detector
    from vision.pipeline import CameraPipeline
    from vision.scene import load_camera_config
    from vision.sinks import DirectorySink
    from vision.sources import VideoFileSource, open_source

    show_autofine_logs()
    console = Console(stderr=True)
    config = load_camera_config(camera)
    updates: dict[str, object] = {}
    if model is not None:
        updates["model"] = model
        updates["model_path"] = None
    if model_path is not None:
        updates["model_path"] = model_path
    if updates:
        config = config.model_copy(update=updates)
    delivery = _delivery(config, service_url, token, outbox_path)
    if delivery is not None:
        from vision.outbox import check_delivery

        check_delivery(delivery)  # a missing token fails before a model is fetched
    source = open_source(config)  # a bad source fails before a model is fetched
    detector = load_camera_detector(config, threads=threads)
    out_dir = out or Path("runs") / config.camera_id
    directory = DirectorySink(out_dir)
    sinks: list = [directory, *_delivery_sinks(delivery, config.camera_id)]
    pipeline = CameraPipeline(config, detector, sinks, source=source)
    info = detector.model_info
    console.print(
        f"camera [bold]{config.camera_id}[/] ← {config.source}; model {info.id} {info.version} "
        f"(sha256 {info.sha256[:12]}…); config {config.config_hash[:12]}…; out {out_dir}"
    )

    total = frames_to_analyse(source, max_frames)

    interrupted = False

    def _interrupt(signum: int, frame: object) -> None:
        nonlocal interrupted
        if interrupted:  # a second Ctrl-C: give up waiting
            raise KeyboardInterrupt
        interrupted = True
        console.print("[yellow]stopping: finishing pending evidence (Ctrl-C again to abort)…[/]")
        pipeline.stop()

    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        with frames_progress(console) as progress:
            task = progress.add_task("frames", total=total, status="")

            def on_frame(frame, records) -> None:  # noqa: ANN001
                for record in records:
                    progress.console.print(
                        f"  {record.violation_type} track {record.track_id} at {record.onset:%H:%M:%S} "
                        f"→ {record.incident_id}"
                    )
                progress.update(task, advance=1, status=status())

            def status() -> str:
                text = f"{sum(pipeline.stats.violations.values())} violations, {pipeline.stats.fps:.1f} fps"
                health = source.health
                if not isinstance(source, VideoFileSource):  # live: say whether the camera is healthy
                    text += f", source {health.state}, {health.reconnects} reconnects"
                return text

            stats = pipeline.run(max_frames=max_frames, on_frame=on_frame)
            progress.update(task, status=status())  # incidents finished at the end of the stream count too
    finally:
        signal.signal(signal.SIGINT, previous)
        for sink in sinks[1:]:
            close = getattr(sink, "close", None)
            if close is not None:
                close()

    summary = {
        "camera_id": config.camera_id,
        "source": config.source,
        "config_hash": config.config_hash,
        "model": info.model_dump(),
        "interrupted": interrupted,
        "source_health": dataclasses.asdict(source.health),
        "stats": stats.as_dict(),
    }
    (out_dir / "run.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    table = Table(
        title=f"{config.camera_id}: {stats.frames} frames in {stats.wall_s:.1f} s ({stats.fps:.1f} fps)"
    )
    table.add_column("violation")
    table.add_column("count", justify="right")
    for vtype, count in sorted(stats.violations.items()):
        table.add_row(vtype, str(count))
    table.add_row("total", str(sum(stats.violations.values())))
    console.print(table)
    per_frame = ", ".join(f"{k} {v:.1f}" for k, v in stats.per_frame_ms().items())
    console.print(f"ms per analysed frame: {per_frame}")
    console.print(f"written: {directory.jsonl_path} ({directory.emitted} new) and {out_dir / 'evidence'}")
    for sink in sinks[1:]:
        counts = getattr(sink, "final_counts", None)
        if counts is not None:
            console.print(
                f"delivery to {delivery.service_url}: {counts['delivered']} delivered, "
                f"{counts['pending']} pending, {counts['parked']} parked "
                f"(autofine outbox status --path {sink.outbox.path})"
            )
    if interrupted:
        console.print("[yellow]stopped by Ctrl-C; everything above is kept[/]")


def _delivery(config, service_url: str | None, token: str | None, outbox_path: Path | None):  # noqa: ANN001, ANN202
    """The config's `delivery`, with command-line overrides (kept out of the config so its hash is stable)."""
    from vision.scene import DeliveryConfig

    base = config.delivery
    if service_url is None and base is None:
        if outbox_path is not None:
            raise UserError("--outbox needs --service-url (or a delivery section in the camera config)")
        return None
    updates = {"service_url": service_url, "token": token, "outbox_path": outbox_path}
    updates = {k: v for k, v in updates.items() if v is not None}
    if base is None:
        return DeliveryConfig(**updates)
    return base.model_copy(update=updates)


def _delivery_sinks(delivery, camera_id: str) -> list:  # noqa: ANN001
    """The outbox sink (durable queue + background publisher) when delivery is configured."""
    if delivery is None:
        return []
    from vision.outbox import sink_for_delivery

    return [sink_for_delivery(delivery, camera_id=camera_id)]
