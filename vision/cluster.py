"""Many cameras on a Ray cluster: each camera's `CameraPipeline` runs inside one Ray actor.

The only module that knows Ray exists (imported lazily, inside functions). A camera actor is the same
pipeline `autofine run` builds — source → detector → tracker → rules → evidence → outbox — wrapped, not
forked. Ray restarts a dead actor (`max_restarts`) and re-runs its `run()` call (`max_task_retries`): a
file source is replayed from its first frame, which re-creates the same incidents with the same
idempotency keys (`camera_id:incident_id`, derived from onset and box), so the outbox stores nothing
twice and the service answers "duplicate" for anything already delivered. A live stream resumes at "now";
what the camera saw while its actor was down is not analysed (counted as `restarts` in its health).

Where the outbox lives: `<outbox_dir>/<camera_id>.sqlite3` on the node that runs the camera. When the node
stays, a restarted actor reopens it and its publisher sends what was pending. When a node leaves, its
cameras move. Two modes (`outbox_survives_node`):
- False (default, node-local disk): the moved camera starts a fresh outbox where it lands; the rows still
  pending on the lost node are counted from the last health report (`stranded_pending` in
  `autofine cluster status`, the run summary and Prometheus) and are sent when that disk comes back
  (`autofine outbox retry --path …`).
- True (`outbox_dir` on storage every node mounts and that outlives a node): the moved camera reopens the
  same outbox and its publisher delivers what the lost node left pending; nothing is stranded.
See docs/scaling.md.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from vision.detections import Detections
from vision.detectors.base import Detector

log = logging.getLogger(__name__)

NAMESPACE = "autofine"
CAMERA_PREFIX = "camera:"
DETECTOR_PREFIX = "detector:"


class ClusterSettings(BaseModel):
    """How `autofine cluster run` places and supervises camera actors."""

    model_config = ConfigDict(extra="forbid")

    address: str = Field(
        default="local",
        description="'local' starts a private Ray cluster on 127.0.0.1; 'auto' or host:port joins one.",
    )
    num_cpus: int | None = Field(
        default=None, ge=1, le=4096, description="CPUs of a 'local' cluster (default: all of this machine)."
    )
    cpus_per_camera: float = Field(
        default=1.0, gt=0, le=64, description="Ray CPU resource each camera actor reserves (placement)."
    )
    detector_threads: int = Field(
        default=1, ge=1, le=64, description="onnxruntime intra-op threads per detector."
    )
    detector_placement: Literal["in_actor", "shared"] = Field(
        default="in_actor",
        description="'in_actor': each camera runs its own detector (measured faster on CPU nodes); "
        "'shared': one batched detector actor per node serves that node's cameras.",
    )
    max_restarts: int = Field(
        default=3, ge=-1, le=1000, description="Restarts Ray grants a dead camera actor (-1 = forever)."
    )
    max_frames: int | None = Field(
        default=None, ge=1, description="Stop each camera after this many analysed frames (tests, benches)."
    )
    service_url: str | None = Field(
        default=None, description="Fine service base URL; overrides each camera's delivery.service_url."
    )
    outbox_dir: Path | None = Field(
        default=None,
        description="Folder of the per-camera outboxes on every node; default $AUTOFINE_OUTBOX_DIR "
        "(else ~/.local/share/autofine/outbox).",
    )
    outbox_survives_node: bool = Field(
        default=False,
        description="True when outbox_dir is storage that outlives a node and that every node mounts: a "
        "camera moved off a lost node reopens its outbox there and delivers what was pending. False (the "
        "default, node-local disk): what was pending on a lost node is counted as stranded.",
    )
    drain_timeout_s: float = Field(
        default=30.0, ge=0, le=3600, description="How long a finished camera waits for its outbox to drain."
    )
    health_interval_s: float = Field(
        default=2.0, gt=0, le=300, description="How often the driver polls camera health."
    )


@dataclass(frozen=True)
class CameraHealth:
    """One camera's numbers, as `autofine cluster status` and the Prometheus endpoint show them."""

    camera_id: str
    state: str  # starting | running | draining | finished | failed | unreachable
    node_ip: str = ""
    node_id: str = ""  # Ray's node id: tells two nodes on one IP apart
    pid: int = 0
    restarts: int = 0  # this actor's restarts seen by the driver (pid changes)
    frames: int = 0
    fps: float = 0.0
    lag_s: float | None = None  # live sources: now − timestamp of the last analysed frame; files: None
    reconnects: int = 0
    source_state: str = ""
    violations: int = 0
    outbox_pending: int = 0
    outbox_delivered: int = 0
    outbox_parked: int = 0
    stored: int = 0  # new outbox rows in this actor's life
    repeats: int = 0  # re-emitted after a restart, already in the outbox
    stranded_pending: int = 0  # pending rows left in an outbox on a node the camera no longer runs on
    error: str = ""
    updated_at: float = 0.0


@dataclass(frozen=True)
class CameraResult:
    """What one camera actor's `run()` returns when its source is done."""

    camera_id: str
    frames: int
    violations: tuple[str, ...]  # idempotency keys the pipeline emitted in its last (complete) life
    outbox_counts: dict[str, int]
    health: CameraHealth


# --------------------------------------------------------------------------------------------- detectors


class RemoteDetector(Detector):
    """A `Detector` whose frames go to a shared detector actor on the same node."""

    def __init__(self, actor: Any) -> None:
        import ray

        self._actor = actor
        self.names, self.model_info, self.family, self.origin = ray.get(actor.describe.remote())

    def detect_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        import ray

        return ray.get([self._actor.detect.remote(image) for image in images])


class SharedDetector:
    """Body of the per-node detector actor: one model, frames of every camera on the node batched."""

    def __init__(self, model: str, model_path: str | None, threads: int, max_batch: int) -> None:
        from vision.batching import BatchingConfig, InferenceWorker
        from vision.detectors import load_detector

        self.detector = load_detector(model, path=model_path, threads=threads)
        self.worker = InferenceWorker(self.detector, BatchingConfig(max_batch=max_batch, max_wait_ms=10))

    def describe(self) -> tuple[dict[int, str], Any, str, str]:
        d = self.detector
        return d.names, d.model_info, d.family, d.origin

    def detect(self, image: np.ndarray) -> Detections:
        return self.worker.submit(image).result()


# --------------------------------------------------------------------------------------------- cameras


class CameraWorker:
    """Body of one camera actor (also usable without Ray, e.g. in a test's for loop)."""

    def __init__(self, config_path: str, settings_json: str, token: str | None = None) -> None:
        from vision.scene import load_camera_config

        self.settings = ClusterSettings.model_validate_json(settings_json)
        self.config = load_camera_config(config_path)
        self.camera_id = self.config.camera_id
        self._token = token
        self._lock = threading.Lock()
        # the node is known from the first health answer on: the driver spots a move by pid + node together
        self._health = CameraHealth(
            camera_id=self.camera_id,
            state="starting",
            pid=os.getpid(),
            node_ip=_node_ip(),
            node_id=_node_id(),
        )
        self._pipeline = None
        self._sink = None

    def pid(self) -> int:
        return os.getpid()

    def outbox_path(self) -> Path:
        from vision.outbox import outbox_dir

        return (self.settings.outbox_dir or outbox_dir()) / f"{self.camera_id}.sqlite3"

    def _detector(self) -> Detector:
        if self.settings.detector_placement == "shared":
            import ray

            node = ray.get_runtime_context().get_node_id()
            return RemoteDetector(ray.get_actor(DETECTOR_PREFIX + node, namespace=NAMESPACE))
        from vision.detectors import load_camera_detector

        return load_camera_detector(self.config, threads=self.settings.detector_threads)

    def _sinks(self) -> list[Any]:
        from vision.outbox import sink_for_delivery
        from vision.scene import DeliveryConfig

        base = self.config.delivery
        url = self.settings.service_url or (base.service_url if base else None)
        if url is None:
            from vision.sinks import ListSink

            return [ListSink()]
        updates: dict[str, object] = {"service_url": url, "outbox_path": self.outbox_path()}
        if self._token:
            updates["token"] = self._token
        delivery = base.model_copy(update=updates) if base else DeliveryConfig(**updates)  # type: ignore[arg-type]
        return [sink_for_delivery(delivery, camera_id=self.camera_id)]

    def run(self) -> CameraResult:
        """Process the whole source (or `max_frames`), then drain the outbox; safe to call again after a
        restart: the same incidents get the same keys and are not stored twice."""
        from vision.pipeline import CameraPipeline
        from vision.sources import StreamSource, open_source

        node_ip, node_id = _node_ip(), _node_id()
        self._set(state="starting", node_ip=node_ip, node_id=node_id, pid=os.getpid(), error="")
        emitted: list[str] = []
        try:
            source = open_source(self.config)
            live = isinstance(source, StreamSource)
            sinks = self._sinks()
            self._sink = sinks[0]
            recorder = _KeyRecorder(emitted)  # also sees what the final flush emits
            pipeline = CameraPipeline(self.config, self._detector(), [*sinks, recorder], source=source)
            self._pipeline = pipeline
            self._set(state="running")

            def on_frame(frame, records) -> None:  # noqa: ANN001
                self._refresh(frame.timestamp, live=live)

            stats = pipeline.run(max_frames=self.settings.max_frames, on_frame=on_frame)
            self._refresh(None, live=False)
            self._set(state="draining")
            counts = self._close_sink()
            self._set(
                state="finished",
                outbox_pending=counts.get("pending", 0),
                outbox_delivered=counts.get("delivered", 0),
                outbox_parked=counts.get("parked", 0),
            )
            return CameraResult(
                camera_id=self.camera_id,
                frames=stats.frames,
                violations=tuple(dict.fromkeys(emitted)),
                outbox_counts=counts,
                health=self.health(),
            )
        except BaseException as exc:
            self._set(state="failed", error=f"{type(exc).__name__}: {exc}"[:500])
            raise

    def _close_sink(self) -> dict[str, int]:
        sink = self._sink
        close = getattr(sink, "close", None)
        if close is None:
            return {"pending": 0, "delivered": 0, "parked": 0}
        close(self.settings.drain_timeout_s)
        return dict(sink.final_counts or {})

    def _refresh(self, timestamp: datetime | None, *, live: bool) -> None:
        pipeline, sink = self._pipeline, self._sink
        if pipeline is None:
            return
        stats = pipeline.stats
        health = getattr(pipeline.source, "health", None)
        updates: dict[str, Any] = {
            "frames": stats.frames,
            "fps": round(stats.fps, 2),
            "violations": sum(stats.violations.values()),
            "reconnects": getattr(health, "reconnects", 0),
            "source_state": str(getattr(health, "state", "")),
            "lag_s": (datetime.now(UTC) - timestamp).total_seconds() if live and timestamp else None,
        }
        outbox = getattr(sink, "outbox", None)
        if outbox is not None:
            counts = outbox.counts()
            updates |= {
                "outbox_pending": counts["pending"],
                "outbox_delivered": counts["delivered"],
                "outbox_parked": counts["parked"],
                "stored": sink.stored,
                "repeats": sink.repeats,
            }
        self._set(**updates)

    def _set(self, **updates: Any) -> None:
        with self._lock:
            self._health = replace(self._health, **updates, updated_at=time.time())

    def note_stranded(self, pending: int) -> None:
        """The driver tells a moved camera how many rows it left on its old node (for `cluster status`)."""
        self._set(stranded_pending=pending)

    def health(self) -> CameraHealth:
        if self._pipeline is not None and self._health.state == "running":
            try:
                counts = self._sink.outbox.counts() if hasattr(self._sink, "outbox") else None
            except Exception:  # noqa: BLE001 - health must answer even when the outbox is busy
                counts = None
            if counts is not None:
                self._set(outbox_pending=counts["pending"], outbox_delivered=counts["delivered"])
        return self._health


class _KeyRecorder:
    """A sink that only notes each emitted record's idempotency key."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys

    def emit(self, record: Any, files: Any) -> None:
        self.keys.append(record.idempotency_key)


def _node_ip() -> str:
    try:
        import ray

        if ray.is_initialized():
            return ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001
        pass
    return "127.0.0.1"


def _node_id() -> str:
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001
        pass
    return ""


LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def loopback_only() -> None:
    """Make a 'local' cluster's node IP 127.0.0.1, so Ray's servers bind loopback.

    `ray.init(_node_ip_address="127.0.0.1")` is not enough: Ray 2.60 rewrites a loopback node IP to the
    machine's routable IP (`services.resolve_ip_for_localhost`) unless multi-node clusters are disabled;
    with a routable node IP it listens on all interfaces, with a loopback one on loopback. The switch
    that disables them is `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` (read at `import ray`; the children Ray
    spawns read it from this environment). Measured with `ss -ltnp`: every Ray socket then listens on
    127.0.0.1 (tests/cluster/test_binding.py)."""
    os.environ[LOOPBACK_ENV] = "0"
    import ray._private.ray_constants as ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False  # this process imported ray before the variable was set


# --------------------------------------------------------------------------------------------- cluster


def connect(settings: ClusterSettings) -> dict[str, Any]:
    """Start (address 'local') or join a Ray cluster; returns its resources. Loopback only when local."""
    import ray

    if ray.is_initialized():
        return ray.cluster_resources()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from a city's camera cluster
    # Token auth: Ray >= 2.59 turns it on for local clusters and generates the token; Ray reads
    # RAY_AUTH_MODE when it is imported, so a joined cluster's nodes and this process get it from their
    # environment (docs/scaling.md). Setting it here, after the import, breaks the handshake.
    common: dict[str, Any] = {"namespace": NAMESPACE, "log_to_driver": False, "logging_level": "WARNING"}
    if settings.address == "local":
        loopback_only()
        ray.init(
            num_cpus=settings.num_cpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            **common,
        )
    else:
        ray.init(address=settings.address, **common)
    return ray.cluster_resources()


def shutdown() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()


class CameraFleet:
    """Starts one named actor per camera, polls their health, collects their results."""

    def __init__(
        self,
        camera_configs: Sequence[Path],
        settings: ClusterSettings,
        *,
        tokens: dict[str, str] | None = None,
    ) -> None:
        from vision.scene import load_camera_config

        if not camera_configs:
            from autofine.errors import UserError

            raise UserError("no camera configs matched; pass --cameras 'cameras/*.yaml'")
        self.settings = settings
        self.configs = {load_camera_config(p).camera_id: Path(p).resolve() for p in camera_configs}
        if len(self.configs) != len(camera_configs):
            from autofine.errors import UserError

            raise UserError("two camera configs share a camera_id; every camera needs its own")
        self.tokens = tokens or {}
        self.actors: dict[str, Any] = {}
        self.refs: dict[str, Any] = {}
        self.health: dict[str, CameraHealth] = {}
        self._pids: dict[str, int] = {}
        self._restarts: dict[str, int] = {}
        self._last_node: dict[str, tuple[str, int]] = {}  # camera → (node id or ip, pending there)
        self._stranded: dict[str, int] = {}
        self.detectors: list[Any] = []

    def start(self, *, scheduling_strategy: dict[str, Any] | None = None) -> None:
        """Start every camera's actor; `scheduling_strategy` maps a camera id to a Ray scheduling strategy
        (e.g. a soft `NodeAffinitySchedulingStrategy`: pinned to a node while it lives, moved when not)."""
        import ray

        strategies = scheduling_strategy or {}
        if self.settings.detector_placement == "shared":
            self._start_shared_detectors()
        remote = ray.remote(CameraWorker)
        for camera_id, path in self.configs.items():
            actor = remote.options(
                name=CAMERA_PREFIX + camera_id,
                namespace=NAMESPACE,
                max_restarts=self.settings.max_restarts,
                max_task_retries=-1 if self.settings.max_restarts else 0,
                max_concurrency=4,  # run() plus health/pid calls beside it
                num_cpus=self.settings.cpus_per_camera,
                get_if_exists=False,
                scheduling_strategy=strategies.get(camera_id, "DEFAULT"),
            ).remote(str(path), self.settings.model_dump_json(), self.tokens.get(camera_id))
            self.actors[camera_id] = actor
            self.refs[camera_id] = actor.run.remote()

    def _start_shared_detectors(self) -> None:
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        from vision.scene import load_camera_config

        first = load_camera_config(next(iter(self.configs.values())))
        remote = ray.remote(SharedDetector)
        for node in ray.nodes():
            if not node.get("Alive"):
                continue
            actor = remote.options(
                name=DETECTOR_PREFIX + node["NodeID"],
                namespace=NAMESPACE,
                max_restarts=-1,
                max_concurrency=64,
                num_cpus=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
            ).remote(
                first.model,
                str(first.model_path) if first.model_path else None,
                self.settings.detector_threads,
                len(self.configs),
            )
            ray.get(actor.describe.remote())
            self.detectors.append(actor)

    def poll(self, timeout_s: float = 5.0) -> dict[str, CameraHealth]:
        """Ask every actor for its health (a dead or restarting one reads 'unreachable')."""
        import ray

        pending = {cid: a.health.remote() for cid, a in self.actors.items()}
        for camera_id, ref in pending.items():
            try:
                health = ray.get(ref, timeout=timeout_s)
            except Exception as exc:  # noqa: BLE001 - the actor may be restarting or gone
                old = self.health.get(camera_id, CameraHealth(camera_id=camera_id, state="starting"))
                health = replace(old, state="unreachable", error=type(exc).__name__)
            self._note(camera_id, health)
        return self.health

    def _note(self, camera_id: str, health: CameraHealth) -> None:
        if health.state != "unreachable" and health.pid:
            old = self._pids.get(camera_id)
            node = health.node_id or health.node_ip
            if old is not None and old != health.pid:
                self._restarts[camera_id] = self._restarts.get(camera_id, 0) + 1
                last = self._last_node.get(camera_id)
                if last and node and last[0] != node and not self.settings.outbox_survives_node:
                    # the camera moved: what was pending on the old node's disk is stranded there
                    # (as of the last poll: rows stored after it are missing from the count)
                    self._stranded[camera_id] = self._stranded.get(camera_id, 0) + last[1]
                    actor = self.actors.get(camera_id)
                    if actor is not None:  # so `cluster status` from any driver shows it too
                        actor.note_stranded.remote(self._stranded[camera_id])
            self._pids[camera_id] = health.pid
            if node:
                self._last_node[camera_id] = (node, health.outbox_pending)
        self.health[camera_id] = replace(
            health,
            restarts=self._restarts.get(camera_id, 0),
            stranded_pending=self._stranded.get(camera_id, 0),
        )

    def wait(
        self,
        *,
        on_poll: Callable[[dict[str, CameraHealth]], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        release_finished: bool = True,
    ) -> dict[str, CameraResult | str]:
        """Until every camera's `run()` returned (or failed for good): poll health every interval.

        `release_finished` ends a camera's actor once its source is done, so the CPUs it reserved go to
        cameras still waiting for a place (an idle actor keeps its resources)."""
        import ray

        results: dict[str, CameraResult | str] = {}
        waiting = dict(self.refs)
        while waiting:
            done, _ = ray.wait(list(waiting.values()), timeout=self.settings.health_interval_s)
            for ref in done:
                camera_id = next(c for c, r in waiting.items() if r == ref)
                del waiting[camera_id]
                try:
                    result: CameraResult = ray.get(ref)
                    self._note(camera_id, result.health)
                    results[camera_id] = replace(result, health=self.health[camera_id])
                except Exception as exc:  # noqa: BLE001 - restarts exhausted, bad config, …
                    results[camera_id] = f"{type(exc).__name__}: {exc}"[:2000]
                if release_finished:
                    ray.kill(self.actors.pop(camera_id), no_restart=True)
            self.poll()
            if on_poll is not None:
                on_poll(self.health)
            if should_stop is not None and should_stop():
                break
        return results

    def stop(self) -> None:
        import ray

        for actor in [*self.actors.values(), *self.detectors]:
            ray.kill(actor, no_restart=True)


def named_camera_health(timeout_s: float = 5.0) -> dict[str, CameraHealth]:
    """Health of every camera actor in the cluster this process is connected to (`cluster status`)."""
    import ray

    names = [
        n["name"] if isinstance(n, dict) else n for n in ray.util.list_named_actors(all_namespaces=False)
    ]
    out: dict[str, CameraHealth] = {}
    for name in sorted(n for n in names if n.startswith(CAMERA_PREFIX)):
        camera_id = name[len(CAMERA_PREFIX) :]
        try:
            actor = ray.get_actor(name, namespace=NAMESPACE)
            out[camera_id] = ray.get(actor.health.remote(), timeout=timeout_s)
        except Exception as exc:  # noqa: BLE001
            out[camera_id] = CameraHealth(camera_id=camera_id, state="unreachable", error=type(exc).__name__)
    return out


# --------------------------------------------------------------------------------------------- metrics

_GAUGES: dict[str, tuple[str, Callable[[CameraHealth], float | None]]] = {
    "autofine_camera_fps": ("Analysed frames per second.", lambda h: h.fps),
    "autofine_camera_frames_total": ("Analysed frames in this actor's life.", lambda h: h.frames),
    "autofine_camera_lag_seconds": ("Live source: now minus last frame's timestamp.", lambda h: h.lag_s),
    "autofine_camera_reconnects_total": ("Source reconnects.", lambda h: h.reconnects),
    "autofine_camera_restarts_total": ("Actor restarts seen by the driver.", lambda h: h.restarts),
    "autofine_camera_violations_total": ("Violations emitted in this actor's life.", lambda h: h.violations),
    "autofine_camera_outbox_pending": ("Outbox rows not yet delivered.", lambda h: h.outbox_pending),
    "autofine_camera_outbox_parked": ("Outbox rows waiting for a human.", lambda h: h.outbox_parked),
    "autofine_camera_outbox_stranded": (
        "Pending rows left on a node the camera moved away from.",
        lambda h: h.stranded_pending,
    ),
    "autofine_camera_up": ("1 while the camera actor answers.", lambda h: float(h.state != "unreachable")),
}


def prometheus_text(health: dict[str, CameraHealth]) -> str:
    """Prometheus text exposition (format 0.0.4) of every camera's health."""
    lines: list[str] = []
    for metric, (help_text, value_of) in _GAUGES.items():
        lines += [f"# HELP {metric} {help_text}", f"# TYPE {metric} gauge"]
        for camera_id, h in sorted(health.items()):
            value = value_of(h)
            if value is not None:
                lines.append(f'{metric}{{camera="{camera_id}",node="{h.node_ip}"}} {float(value):g}')
    return "\n".join(lines) + "\n"


@dataclass
class MetricsServer:
    """A tiny HTTP endpoint serving `prometheus_text` of the latest health (driver side)."""

    port: int
    host: str = "127.0.0.1"
    health: dict[str, CameraHealth] = field(default_factory=dict)

    def start(self) -> MetricsServer:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        server_self = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                if self.path.rstrip("/") != "/metrics":
                    self.send_error(404, "try /metrics")
                    return
                body = prometheus_text(server_self.health).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def health_dict(health: CameraHealth) -> dict[str, Any]:
    return asdict(health)
