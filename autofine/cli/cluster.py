"""`autofine cluster run|status`: many cameras on a Ray cluster (vision/cluster.py); Ray imported lazily."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from autofine.errors import UserError

app = typer.Typer(help="Run many cameras as Ray actors and watch their health.", no_args_is_help=True)

_ADDRESS_HELP = "'local' (private cluster on 127.0.0.1), 'auto' (the cluster on this node) or HOST:PORT."


def _cluster():  # noqa: ANN202
    try:
        import ray  # noqa: F401
    except ModuleNotFoundError:
        raise UserError("Ray is not installed; install the extra: pip install 'autofine[cluster]'") from None
    from vision import cluster

    return cluster


def _health_table(health: dict, title: str) -> Table:  # noqa: ANN001
    table = Table(title=title)
    for name in ("camera", "state", "node", "fps", "lag s", "reconn", "restarts", "frames", "viol.",
                 "outbox pending", "parked", "stranded"):  # fmt: skip
        table.add_column(name, justify="left" if name in ("camera", "state", "node") else "right")
    for camera_id, h in sorted(health.items()):
        table.add_row(
            camera_id,
            h.state + (f" ({h.error})" if h.error else ""),
            h.node_ip,
            f"{h.fps:.1f}",
            "-" if h.lag_s is None else f"{h.lag_s:.1f}",
            str(h.reconnects),
            str(h.restarts),
            str(h.frames),
            str(h.violations),
            str(h.outbox_pending),
            str(h.outbox_parked),
            str(h.stranded_pending),
        )
    return table


@app.command()
def run(
    cameras: str = typer.Option(..., "--cameras", help="Glob of camera YAMLs, e.g. 'cameras/*.yaml'."),
    address: str = typer.Option("local", "--address", help=_ADDRESS_HELP),
    num_cpus: int | None = typer.Option(None, "--num-cpus", min=1, help="CPUs of a 'local' cluster."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop cameras after N frames."),
    service_url: str | None = typer.Option(None, "--service-url", help="Deliver every camera here."),
    outbox_dir: Path | None = typer.Option(None, "--outbox-dir", help="Per-camera outboxes on every node."),
    outbox_survives_node: bool = typer.Option(
        False,
        "--outbox-survives-node",
        help="--outbox-dir is storage that outlives a node and every node mounts: a camera moved off a lost "
        "node delivers what was pending there. Default: node-local disk, such rows are reported as stranded.",
    ),
    max_restarts: int = typer.Option(3, "--max-restarts", min=-1, help="Restarts per camera actor."),
    detector: str = typer.Option("in_actor", "--detector", help="'in_actor' or 'shared' (per node)."),
    threads: int = typer.Option(1, "--threads", min=1, help="onnxruntime threads per detector."),
    metrics_port: int | None = typer.Option(
        None, "--metrics-port", min=0, max=65535, help="Serve Prometheus /metrics on 127.0.0.1:PORT."
    ),
    summary: Path | None = typer.Option(None, "--summary", help="Write the per-camera results as JSON."),
) -> None:
    """Start one Ray actor per camera; wait until every source is done; print their health."""
    paths = sorted(Path(p) for p in glob.glob(cameras))
    if not paths:
        raise UserError(f"--cameras {cameras!r} matched no file; pass a glob like 'cameras/*.yaml'")
    if detector not in ("in_actor", "shared"):
        raise UserError(f"--detector {detector!r}: use 'in_actor' or 'shared'")
    cluster = _cluster()
    settings = cluster.ClusterSettings(
        address=address,
        num_cpus=num_cpus,
        max_frames=max_frames,
        service_url=service_url,
        outbox_dir=outbox_dir,
        outbox_survives_node=outbox_survives_node,
        max_restarts=max_restarts,
        detector_placement=detector,
        detector_threads=threads,
    )
    console = Console(stderr=True)
    resources = cluster.connect(settings)
    console.print(f"Ray cluster at {address}: {resources.get('CPU', 0):g} CPUs; {len(paths)} cameras")
    metrics = cluster.MetricsServer(metrics_port).start() if metrics_port is not None else None
    if metrics is not None:
        console.print(f"Prometheus metrics on http://127.0.0.1:{metrics.port}/metrics")
    fleet = cluster.CameraFleet(paths, settings)
    try:
        fleet.start()

        def on_poll(health: dict) -> None:  # noqa: ANN001
            if metrics is not None:
                metrics.health = dict(health)
            line = ", ".join(f"{c} {h.state} {h.frames}f {h.fps:.1f}fps" for c, h in sorted(health.items()))
            console.print(f"[dim]{line}[/]")

        results = fleet.wait(on_poll=on_poll)
    except KeyboardInterrupt:
        console.print("[yellow]stopping camera actors (outboxes keep what they hold)…[/]")
        fleet.stop()
        raise typer.Exit(130) from None
    finally:
        if metrics is not None:
            metrics.stop()
        cluster.shutdown()
    console.print(_health_table(fleet.health, "cameras"))
    for camera_id, h in sorted(fleet.health.items()):
        if h.stranded_pending:
            console.print(
                f"[yellow]{camera_id}: {h.stranded_pending} violation(s) were pending in its outbox on a "
                "node that left (stranded, not delivered from there); when that disk is back run "
                f"`autofine outbox retry --path <outbox-dir>/{camera_id}.sqlite3` where it is mounted[/]"
            )
    failed = {c: r for c, r in results.items() if isinstance(r, str)}
    for camera_id, error in failed.items():
        console.print(f"[red]{camera_id} failed: {error.splitlines()[-1] if error else error}[/]")
    if summary is not None:
        data = {
            c: r if isinstance(r, str) else {
                "frames": r.frames,
                "violations": list(r.violations),
                "outbox": r.outbox_counts,
                "health": cluster.health_dict(r.health),
            }
            for c, r in results.items()
        }  # fmt: skip
        summary.write_text(json.dumps(data, indent=2) + "\n")
    if failed:
        raise typer.Exit(1)


@app.command()
def status(
    address: str = typer.Option("auto", "--address", help="The running cluster: 'auto' or HOST:PORT."),
    prometheus: bool = typer.Option(False, "--prometheus", help="Print Prometheus text instead of a table."),
) -> None:
    """fps, lag, reconnects, restarts and outbox depth of every camera actor, in one place."""
    cluster = _cluster()
    try:
        cluster.connect(cluster.ClusterSettings(address=address))
    except ConnectionError as exc:
        raise UserError(f"no Ray cluster at {address}: {exc}; start one: `autofine cluster run`") from None
    try:
        health = cluster.named_camera_health()
    finally:
        cluster.shutdown()
    if prometheus:
        typer.echo(cluster.prometheus_text(health), nl=False)
        return
    if not health:
        typer.echo("no camera actors in this cluster (namespace 'autofine')")
        return
    Console().print(_health_table(health, f"cameras on {address}"))
