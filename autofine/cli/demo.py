"""`autofine demo`: the whole product in one command.

Fetches the sample video, starts the fine service in this process (SQLite in a demo data folder, migrated,
a demo reviewer with a fresh random password, a camera token), runs the camera pipeline on
`cameras/vtest.yaml` delivering through the durable outbox, prints a summary, and leaves the review UI
running until Ctrl-C (or, with `--no-serve`, exits once every violation is delivered).
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer

from autofine.errors import UserError

DEMO_REVIEWER = "reviewer"
DRAIN_TIMEOUT_S = 120.0


def _default_data_dir() -> Path:
    base = os.environ.get("AUTOFINE_DATA_DIR") or Path.home() / ".local" / "share" / "autofine"
    return Path(base).expanduser() / "demo"


def _default_camera() -> Path:
    """`cameras/vtest.yaml` from the working directory, else from the source tree autofine runs from."""
    local = Path("cameras") / "vtest.yaml"
    if local.is_file():
        return local
    return Path(__file__).resolve().parents[2] / "cameras" / "vtest.yaml"


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise UserError(
                f"port {port} on {host} is busy ({exc.strerror}); stop what uses it or pass --port {port + 1}"
            ) from exc


class _ServiceThread:
    """The fine service under uvicorn in a background thread of this process."""

    def __init__(self, app, host: str, port: int) -> None:  # noqa: ANN001
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, name="autofine-service", daemon=True)

    def start(self, timeout_s: float = 30.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise UserError("the fine service did not start; see the messages above")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


def demo(
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="Port of the fine service and review UI.")
    ] = 8000,
    host: Annotated[str, typer.Option(help="Interface the service binds to.")] = "127.0.0.1",
    no_serve: Annotated[
        bool, typer.Option("--no-serve", help="Exit once every violation is delivered (no UI left running).")
    ] = False,
    camera: Annotated[
        Path | None, typer.Option("--camera", "-c", help="Camera config.", show_default="cameras/vtest.yaml")
    ] = None,
    max_frames: Annotated[
        int | None, typer.Option("--max-frames", min=1, help="Stop after this many analysed frames.")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir", help="Demo database, evidence and outbox.", show_default="$AUTOFINE_DATA_DIR/demo"
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Override the config's model id.")
    ] = None,
    model_path: Annotated[
        Path | None, typer.Option("--model-path", help="Use this ONNX file for the model.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="onnxruntime intra-op threads.")
    ] = None,
) -> None:
    """Run the whole product on the sample video: service + camera pipeline + delivery + review UI."""
    from rich.console import Console

    console = Console()
    camera = camera or _default_camera()
    if not camera.is_file():
        raise UserError(f"camera config {camera} not found; run from the autofine checkout or pass --camera")
    data_dir = (data_dir or _default_data_dir()).expanduser().resolve()
    _check_port_free(host, port)

    from vision.scene import load_camera_config
    from vision.sources import open_source

    config = load_camera_config(camera)
    updates: dict[str, object] = {}
    if model is not None:
        updates.update(model=model, model_path=None)
    if model_path is not None:
        updates["model_path"] = model_path
    if updates:
        config = config.model_copy(update=updates)

    console.rule("[bold]autofine demo")
    console.print(f"sample video and model for camera [bold]{config.camera_id}[/] ({config.source})…")
    source = open_source(config)  # fetches sample:vtest.avi on first use
    from vision.detectors import load_camera_detector

    detector = load_camera_detector(config, threads=threads)
    from rich.markup import escape

    console.print(f"model: {escape(detector.origin)}")

    if config.signing_key is None:  # the demo camera signs its records like a real one; the service checks
        config = config.model_copy(update={"signing_key": _demo_signing_key(data_dir, config.camera_id)})
    settings, password, token = _prepare_service(data_dir, config.camera_id, config.signing_key)
    from api.app import create_app

    service = _ServiceThread(create_app(settings), host, port)
    service.start()
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
    console.print(f"fine service on [bold]{url}[/] (data: {data_dir})")
    try:
        summary = _run_camera(console, config, detector, source, url, token, data_dir, max_frames)
        summary["cases"] = _case_counts(settings)
        _print_summary(console, summary, url, password)
        if summary["pending"] or summary["parked"]:
            raise UserError(
                f"{summary['pending']} violation(s) not delivered and {summary['parked']} parked; "
                f"see `autofine outbox status --path {summary['outbox']}`"
            )
        if no_serve:
            console.print(
                "--no-serve: the service has stopped; to review these cases run "
                f"[bold]AUTOFINE_DATA_DIR={data_dir} autofine serve --db {settings.resolved_database_url} "
                f"--port {port}[/] and log in as above.",
                soft_wrap=True,  # one line the user can copy
            )
            return
        console.print(f"\nreview UI: [bold]{url}/[/]  API docs: {url}/docs   — Ctrl-C to stop")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while service.thread.is_alive() and not stop.wait(0.5):
            pass
        console.print("stopping the service…")
    finally:
        service.stop()


def _demo_signing_key(data_dir: Path, camera_id: str) -> Path:
    from autofine.signing import key_paths, write_keypair

    private_path, _ = key_paths(camera_id, data_dir / "keys")
    if not private_path.is_file():
        write_keypair(camera_id, data_dir / "keys", overwrite=True)
    return private_path


def _prepare_service(data_dir: Path, camera_id: str, signing_key: Path | None = None):  # noqa: ANN202
    """Settings pinned to the demo folder (never a database from the environment), reviewer and camera."""
    from sqlmodel import Session

    from api.bootstrap import ensure_camera, ensure_user, open_engine
    from api.settings import Settings

    data_dir.mkdir(parents=True, exist_ok=True)
    secret_file = data_dir / "secret_key"
    if not secret_file.is_file():
        secret_file.write_text(secrets.token_hex(32))
        secret_file.chmod(0o600)
    settings = Settings(
        environment="local",
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'autofine.sqlite3'}",
        evidence_dir=data_dir / "evidence",
        export_dir=data_dir / "erap",
        signing_key_path=data_dir / "erap_signing_key.pem",
        secret_key=secret_file.read_text().strip(),
    )
    password = secrets.token_urlsafe(12)
    engine = open_engine(settings)
    with Session(engine) as session:
        ensure_user(session, username=DEMO_REVIEWER, password=password, role="reviewer", actor="demo")
        token = ensure_camera(session, camera_id=camera_id, name=f"demo {camera_id}", actor="demo")
        if signing_key is not None:
            from api.keys import add_key, public_key_for
            from autofine.signing import Ed25519Signer

            signer = Ed25519Signer(signing_key)
            if public_key_for(session, signer.key_id) is None:
                pem = signer.public_key_pem.decode()
                add_key(session, camera_id=camera_id, public_key_pem=pem, actor="demo", rotate=True)
    engine.dispose()
    return settings, password, token


def _run_camera(console, config, detector, source, url, token, data_dir, max_frames) -> dict:  # noqa: ANN001
    from autofine.cli._progress import frames_progress, frames_to_analyse
    from vision.outbox import sink_for_delivery
    from vision.pipeline import CameraPipeline
    from vision.scene import DeliveryConfig

    outbox_path = data_dir / "outbox" / f"{config.camera_id}.sqlite3"
    sink = sink_for_delivery(
        DeliveryConfig(service_url=url, token=token, outbox_path=outbox_path), camera_id=config.camera_id
    )
    announce = _Announce(console)
    pipeline = CameraPipeline(config, detector, [sink, announce], source=source)
    total = frames_to_analyse(source, max_frames)

    def _interrupt(signum: int, frame: object) -> None:
        console.print("[yellow]stopping the camera: finishing evidence of pending incidents…[/]")
        pipeline.stop()

    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        with frames_progress(console) as progress:
            task = progress.add_task("camera frames", total=total, status="")

            def status() -> str:
                counts = sink.outbox.counts()
                return (
                    f"{sum(pipeline.stats.violations.values())} violations, "
                    f"{counts['delivered']} delivered, {pipeline.stats.fps:.1f} fps"
                )

            def on_frame(frame, records) -> None:  # noqa: ANN001
                progress.update(task, advance=1, status=status())

            stats = pipeline.run(max_frames=max_frames, on_frame=on_frame)
            progress.update(task, status=status())  # incidents finished at end of stream count too
    finally:
        signal.signal(signal.SIGINT, previous)
        console.print("delivering what is left in the outbox…")
        pending = sink.close(drain_timeout_s=DRAIN_TIMEOUT_S)

    from vision.outbox import Outbox

    with Outbox(outbox_path) as outbox:
        status = outbox.status()
    return {
        "frames": stats.frames,
        "wall_s": stats.wall_s,
        "fps": stats.fps,
        "violations": dict(stats.violations),
        "new": sink.stored,
        "repeats": sink.repeats,
        "delivered": status.counts["delivered"],
        "pending": pending,
        "parked": status.counts["parked"],
        "outbox": outbox_path,
    }


class _Announce:
    """A sink that prints each violation as it is stored (including those finished at end of stream)."""

    def __init__(self, console) -> None:  # noqa: ANN001
        self.console = console

    def emit(self, record, files) -> None:  # noqa: ANN001
        self.console.print(
            f"  {record.violation_type} (track {record.track_id}, confidence {record.confidence:.2f}) "
            f"at {record.onset:%H:%M:%S} → outbox"
        )


def _case_counts(settings) -> Counter:  # noqa: ANN001
    """Cases by status, as the service's database has them now (reviewers may already be at work)."""
    from sqlalchemy import func
    from sqlmodel import Session, select

    from api.db import make_engine
    from api.models import Fine

    engine = make_engine(settings.resolved_database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(select(Fine.status, func.count()).group_by(Fine.status)).all()
    finally:
        engine.dispose()
    return Counter({str(status): n for status, n in rows})


def _print_summary(console, summary: dict, url: str, password: str) -> None:  # noqa: ANN001
    from rich.table import Table

    status = summary["cases"]
    auto = status.get("auto_issued", 0)
    queued = status.get("pending_review", 0)
    table = Table(title="demo summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row(
        "frames analysed", f"{summary['frames']} in {summary['wall_s']:.1f} s ({summary['fps']:.1f} fps)"
    )
    found = ", ".join(f"{k} {v}" for k, v in sorted(summary["violations"].items())) or "none"
    table.add_row("violations confirmed", f"{sum(summary['violations'].values())} ({found})")
    if summary["repeats"]:
        table.add_row("already delivered earlier", str(summary["repeats"]))
    table.add_row("delivered to the service", str(summary["delivered"]))
    table.add_row("fines auto-issued", str(auto))
    table.add_row("queued for human review", str(queued))
    other = {k: v for k, v in status.items() if k not in ("auto_issued", "pending_review")}
    if other:
        table.add_row("other case states", ", ".join(f"{k} {v}" for k, v in sorted(other.items())))
    if summary["pending"] or summary["parked"]:
        table.add_row("[red]not delivered[/]", f"{summary['pending']} pending, {summary['parked']} parked")
    console.print(table)
    console.print(
        f"review as [bold]{DEMO_REVIEWER}[/] / password [bold]{password}[/] (new each run) at {url}/  "
        "— every case is an AI result that a human confirms or rejects."
    )
