"""`autofine outbox status|retry|prune`: look at, nudge and trim a camera's durable delivery queue."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from autofine.errors import UserError

app = typer.Typer(help="A camera's durable outbox of violations waiting for the fine service.")

PathOption = Annotated[
    Path | None,
    typer.Option(
        "--path",
        help="Outbox SQLite file. Default: every *.sqlite3 in $AUTOFINE_OUTBOX_DIR "
        "(else $AUTOFINE_DATA_DIR/outbox, else ~/.local/share/autofine/outbox).",
    ),
]


def _outbox_paths(path: Path | None) -> list[Path]:
    from vision.outbox import outbox_dir

    if path is not None:
        if not path.is_file():
            raise UserError(
                f"outbox {path} not found; pass the file named by the camera's delivery.outbox_path"
            )
        return [path]
    folder = outbox_dir()
    paths = sorted(folder.glob("*.sqlite3")) if folder.is_dir() else []
    if not paths:
        raise UserError(f"no outbox in {folder}; pass --path or set AUTOFINE_OUTBOX_DIR")
    return paths


def _when(value: datetime | None) -> str:
    if value is None:
        return "-"
    age = (datetime.now(value.tzinfo) - value).total_seconds()
    ago = f"{age:.0f}s ago" if age >= 0 else f"in {-age:.0f}s"
    return f"{value.isoformat(timespec='seconds')} ({ago})"


@app.command()
def status(path: PathOption = None) -> None:
    """Rows by state, the oldest undelivered one, the last delivery error, parked rows and their errors."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from vision.outbox import Outbox

    console = Console()
    for outbox_path in _outbox_paths(path):
        with Outbox(outbox_path) as outbox:
            st = outbox.status()
        table = Table(title=str(st.path), show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for state, n in st.counts.items():
            table.add_row(state, str(n))
        table.add_row("oldest pending", _when(st.oldest_pending_at))
        table.add_row("next attempt", _when(st.next_attempt_at))
        if st.counts["pending"]:
            table.add_row("most attempts", str(st.max_attempts_pending))
        if st.last_error:
            table.add_row("last error", escape(st.last_error[:300]))
        if st.service_status:
            table.add_row(
                "service says", ", ".join(f"{k}: {v}" for k, v in sorted(st.service_status.items()))
            )
        console.print(table)
        for parked in st.parked:
            console.print(
                f"[red]parked[/red] {escape(parked.idempotency_key)}  HTTP {parked.http_status or '-'}  "
                + escape(parked.error[:300])
            )
        if st.parked:
            console.print(
                "fix the cause, then: autofine outbox retry --parked" + (f" --path {path}" if path else "")
            )


@app.command()
def retry(
    path: PathOption = None,
    parked: Annotated[bool, typer.Option("--parked", help="Also move parked rows back to pending.")] = False,
    service_url: Annotated[
        str | None,
        typer.Option("--service-url", help="Send now from this process (when no pipeline is running)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", help="Camera token for --service-url (default: $AUTOFINE_CAMERA_TOKEN)."),
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=0, help="With --service-url: give up after this many seconds.")
    ] = 60,
) -> None:
    """Make pending rows due now (a running pipeline sends them within a second), or send them from here."""
    from vision.outbox import Outbox, Publisher

    token = token or os.environ.get("AUTOFINE_CAMERA_TOKEN")
    if service_url and not service_url.startswith(("http://", "https://")):
        raise UserError(f"--service-url {service_url!r} must start with http:// or https://")
    if service_url and not token:
        raise UserError("--service-url needs a camera token: pass --token or set AUTOFINE_CAMERA_TOKEN")
    for outbox_path in _outbox_paths(path):
        with Outbox(outbox_path) as outbox:
            requeued = outbox.requeue_parked() if parked else 0
            due = outbox.retry_now()
            typer.echo(
                f"{outbox_path}: {due} pending row(s) due now"
                + (f", {requeued} requeued from parked" if parked else "")
            )
            if service_url and token and due:
                publisher = Publisher(outbox, service_url=service_url, token=token).start()
                left = publisher.stop(drain_timeout_s=timeout)
                counts = outbox.counts()
                typer.echo(f"  sent {publisher.sent}; pending {left}, parked {counts['parked']}")
                if left or counts["parked"]:
                    raise typer.Exit(1)


@app.command()
def prune(
    path: PathOption = None,
    camera: Annotated[
        Path | None,
        typer.Option(
            "--camera",
            "-c",
            help="Camera config YAML: prune the outbox its pipeline uses (delivery.outbox_path, "
            "else <outbox dir>/<camera_id>.sqlite3).",
        ),
    ] = None,
    older_than_days: Annotated[
        float | None,
        typer.Option(
            "--older-than-days",
            help="Delete delivered rows confirmed more than this many days ago (0 = every delivered row).",
            show_default="30, the publisher's delivered_retention_days",
        ),
    ] = None,
) -> None:
    """Delete delivered rows (and evidence kept for them) past their retention; pending and parked stay."""
    from vision.outbox import MAX_RETENTION_DAYS, Outbox, PublisherConfig

    if path is not None and camera is not None:
        raise UserError("pass either --path or --camera, not both")
    days = PublisherConfig().delivered_retention_days if older_than_days is None else older_than_days
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise UserError(f"--older-than-days {days:g} must be between 0 and {MAX_RETENTION_DAYS:g}")
    if camera is not None:
        path = _camera_outbox_path(camera)
    for outbox_path in _outbox_paths(path):
        with Outbox(outbox_path) as outbox:
            removed = outbox.prune_delivered(days * 86400.0)
            counts = outbox.counts()
        typer.echo(
            f"{outbox_path}: {removed} delivered row(s) older than {days:g} day(s) removed; left: "
            + ", ".join(f"{state} {n}" for state, n in counts.items())
        )


def _camera_outbox_path(camera: Path) -> Path:
    """The outbox file `autofine run --camera` writes to (without --outbox)."""
    from vision.outbox import default_outbox_path
    from vision.scene import load_camera_config

    config = load_camera_config(camera)
    if config.delivery is not None and config.delivery.outbox_path is not None:
        return config.delivery.outbox_path
    return default_outbox_path(config.camera_id)
