"""`autofine bench`: throughput per stage and end to end, cameras sustained, and the ultralytics baseline.

Everything is measured in one process, one run, on the same video and the same ONNX file, so the ratios
(ours ÷ ultralytics, overhead ÷ inference) are comparable even on a noisy shared machine; absolute numbers
are not. Each section is a plain function returning a small dataclass; `run_bench` strings them together.
"""

from __future__ import annotations

import os
import platform
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vision.frame import Frame


@dataclass(frozen=True)
class StageStat:
    """Per-frame latency of one stage over `n` frames, and the CPU cores it kept busy."""

    name: str
    n: int
    mean_ms: float
    p50_ms: float
    p95_ms: float
    cpu_cores: float | None = None  # process CPU seconds ÷ wall seconds while the stage ran

    @property
    def fps(self) -> float:
        return 1000.0 / self.mean_ms if self.mean_ms > 0 else float("inf")

    @classmethod
    def of(cls, name: str, ms: Sequence[float], cpu_cores: float | None = None) -> StageStat:
        a = np.asarray(ms, dtype=np.float64)
        if a.size == 0:
            return cls(name, 0, 0.0, 0.0, 0.0, cpu_cores)
        return cls(
            name,
            int(a.size),
            float(a.mean()),
            float(np.percentile(a, 50)),
            float(np.percentile(a, 95)),
            cpu_cores,
        )


@dataclass
class _Clock:
    """Wall and process-CPU time over a block, to report the cores a stage used."""

    wall: float = 0.0
    cpu: float = 0.0

    def __enter__(self) -> _Clock:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c

    @property
    def cores(self) -> float:
        return self.cpu / self.wall if self.wall > 0 else 0.0


def rss_mb() -> float:
    """Current resident memory of this process (MB)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except OSError:  # not Linux: fall back to the peak
        return peak_rss_mb()


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if platform.system() == "Darwin" else peak / 1e3


def decode_frames(video: Path, count: int, camera_id: str = "bench") -> tuple[list[Frame], list[float]]:
    """The first `count` frames of `video` (every frame), and the ms each decode took."""
    from datetime import UTC, datetime

    from vision.sources import VideoFileSource

    source = VideoFileSource(video, camera_id, start_time=datetime(2026, 1, 1, tzinfo=UTC), analysis_fps=None)
    frames, ms = [], []
    iterator = iter(source)
    while len(frames) < count:
        t0 = time.perf_counter()
        frame = next(iterator, None)
        if frame is None:
            break
        ms.append((time.perf_counter() - t0) * 1000)
        frames.append(frame)
    source.stop()
    return frames, ms


def detector_stages(detector, frames: Sequence[Frame]) -> list[StageStat]:
    """Split `detect` into preprocess (letterbox), inference (onnxruntime) and postprocess (decode + NMS).

    Uses the ONNX detector's own steps (`_preprocess`, `runner.run`, `_decode`, `_to_detections`), the same
    calls `detect_batch` makes, timed one by one.
    """
    pre, inf, post = [], [], []
    clocks = [_Clock(), _Clock(), _Clock()]
    for frame in frames:
        t0 = time.perf_counter()
        with clocks[0]:
            tensor, box = detector._preprocess(frame.image)
        t1 = time.perf_counter()
        with clocks[1]:
            outputs = detector.runner.run(tensor[None])
        t2 = time.perf_counter()
        with clocks[2]:
            detector._to_detections(detector._decode(outputs, 0), box)
        t3 = time.perf_counter()
        pre.append((t1 - t0) * 1000)
        inf.append((t2 - t1) * 1000)
        post.append((t3 - t2) * 1000)
    return [
        StageStat.of("preprocess", pre, clocks[0].cores),
        StageStat.of("inference", inf, clocks[1].cores),
        StageStat.of("postprocess", post, clocks[2].cores),
    ]


@dataclass(frozen=True)
class PipelineRun:
    frames: int
    wall_s: float
    fps: float
    stages: list[StageStat]
    frame_ms: StageStat  # decode + process, per frame
    violations: dict[str, int]
    cpu_cores: float
    peak_rss_mb: float
    cpu_ms_per_frame: float = 0.0  # process CPU time per frame: robust to other jobs on a shared machine
    # building evidence and running the sinks on the pipeline's evidence thread, beside the frame loop
    # (not in frame_ms; its CPU is in cpu_ms_per_frame, its wait at the end in wall_s)
    evidence_thread_ms_per_frame: float = 0.0
    flush_ms: float = 0.0  # the final `flush()`: waits for the evidence thread to finish what is handed over
    inference_ms: float | None = None  # wall ms per frame inside onnxruntime (the runner's own clock)


# every stage `CameraPipeline` times except decode (timed here); motion gating and the smoking crops too
PIPELINE_STAGES = ("motion", "track", "crops", "rules", "confirm", "evidence", "emit")


def run_pipeline(config, detector, frames: int, *, out_dir: Path | None = None) -> PipelineRun:
    """Drive one `CameraPipeline` over its own source for `frames` analysed frames, timing every stage."""
    from vision.pipeline import STAGES, CameraPipeline
    from vision.sinks import DirectorySink

    with tempfile.TemporaryDirectory(prefix="autofine-bench-") as tmp:
        sink = DirectorySink(out_dir or Path(tmp) / "out")
        pipeline = CameraPipeline(config, detector, [sink], work_dir=Path(tmp) / "work")
        per_stage: dict[str, list[float]] = {s: [] for s in ("decode", "detect", *PIPELINE_STAGES)}
        per_stage = {s: per_stage[s] for s in STAGES}  # the pipeline's order
        frame_ms: list[float] = []
        source = pipeline.reader()  # read the source as `CameraPipeline.run` does
        iterator = iter(source)
        runner = getattr(detector, "runner", None)
        busy_before = runner.busy_s if runner is not None else 0.0
        clock = _Clock()
        with clock:
            while len(frame_ms) < frames:
                before = dict(pipeline.stats.stage_s)
                t0 = time.perf_counter()
                frame = next(iterator, None)
                t1 = time.perf_counter()
                if frame is None:
                    break
                pipeline.process(frame)
                t2 = time.perf_counter()
                per_stage["decode"].append((t1 - t0) * 1000)
                for stage in ("detect", *PIPELINE_STAGES):
                    per_stage[stage].append((pipeline.stats.stage_s[stage] - before[stage]) * 1000)
                frame_ms.append((t2 - t0) * 1000)
            source.stop()
            inference_s = runner.busy_s - busy_before if runner is not None else None
            t0 = time.perf_counter()
            pipeline.flush()
            flush_ms = (time.perf_counter() - t0) * 1000
        pipeline.close()
    if per_stage["evidence"] and pipeline.evidence_worker is None:
        per_stage["evidence"][-1] += flush_ms  # evidence built at end of stream belongs to the last frame
    stages = [StageStat.of(s, v) for s, v in per_stage.items()]
    n = len(frame_ms)
    return PipelineRun(
        frames=n,
        wall_s=clock.wall,
        fps=n / clock.wall if clock.wall else 0.0,
        stages=stages,
        frame_ms=StageStat.of("frame", frame_ms),
        violations=dict(pipeline.stats.violations),
        cpu_cores=clock.cores,
        peak_rss_mb=peak_rss_mb(),
        cpu_ms_per_frame=1000 * clock.cpu / n if n else 0.0,
        evidence_thread_ms_per_frame=1000 * sum(pipeline.stats.background_s.values()) / n if n else 0.0,
        flush_ms=flush_ms,
        inference_ms=1000 * inference_s / n if n and inference_s is not None else None,
    )


def batch_sizes(
    detector, frames: Sequence[Frame], sizes: Sequence[int] = (1, 2, 4), repeats: int = 3
) -> dict:
    """ms per frame of `detect_batch` at several batch sizes (what multi-camera batching would get)."""
    result = {"fixed_batch": detector.runner.fixed_batch, "ms_per_frame": {}}
    for b in sizes:
        images = [frames[i % len(frames)].image for i in range(b)]
        detector.detect_batch(images)  # warm-up
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            detector.detect_batch(images)
            times.append((time.perf_counter() - t0) * 1000 / b)
        result["ms_per_frame"][str(b)] = float(np.median(times))
    return result


@dataclass(frozen=True)
class CameraPoint:
    cameras: int
    frames_per_camera: int
    wall_s: float
    total_fps: float
    min_camera_fps: float  # the slowest camera's analysed frames per second
    sustained: bool  # every camera analysed at least the target fps
    rss_mb: float
    lag_s: float = 0.0  # how far the slowest camera ends behind real time (0 when it keeps up)


def camera_sweep(
    make_pipeline: Callable[[int], object],
    *,
    max_cameras: int,
    frames_per_camera: int,
    target_fps: float,
    stop_after_failures: int = 1,
) -> list[CameraPoint]:
    """Run N pipelines in threads (N = 1..max), each on its own source, as fast as they go.

    A camera keeps up when it analyses at least `target_fps` frames per second; the sweep stops after
    `stop_after_failures` counts that do not keep up. Threads share the detector (onnxruntime sessions are
    thread-safe and release the GIL), as one process serving several cameras would.
    """
    points: list[CameraPoint] = []
    failures = 0
    for n in range(1, max_cameras + 1):
        pipelines = [make_pipeline(i) for i in range(n)]
        rates: list[float] = [0.0] * n
        errors: list[BaseException] = []

        threads = [
            threading.Thread(target=_run_camera, args=(p, frames_per_camera, rates, i, errors), daemon=True)
            for i, p in enumerate(pipelines)
        ]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        if errors:
            raise errors[0]
        sustained = min(rates) >= target_fps
        slowest = min(rates)
        # the slowest camera needed frames/slowest seconds for what real time gives it frames/target seconds
        lag = max(0.0, frames_per_camera / slowest - frames_per_camera / target_fps) if slowest > 0 else wall
        points.append(
            CameraPoint(
                n, frames_per_camera, wall, n * frames_per_camera / wall, slowest, sustained, rss_mb(), lag
            )
        )
        failures += not sustained
        if failures >= stop_after_failures:
            break
    return points


def batched_camera_sweep(
    config, detector, batch: int, wait_ms: float, max_cameras: int, frames: int, target: float
) -> tuple[list[CameraPoint], dict]:
    """`camera_sweep` with every camera's detector a client of one `InferenceWorker` (vision/batching.py)."""
    from vision.batching import BatchingConfig, InferenceWorker
    from vision.pipeline import CameraPipeline

    settings = BatchingConfig(max_batch=batch, max_wait_ms=wait_ms)
    with InferenceWorker(detector, settings) as worker:
        points = camera_sweep(
            lambda i: CameraPipeline(
                config.model_copy(update={"camera_id": f"{config.camera_id}-{i}"}), worker.client(str(i)), []
            ),
            max_cameras=max_cameras,
            frames_per_camera=frames,
            target_fps=target,
            stop_after_failures=2,
        )
        stats = worker.stats()
    return points, {"max_batch": batch, "max_wait_ms": wait_ms, **asdict(stats)}


def _run_camera(pipeline, frames: int, rates: list[float], i: int, errors: list[BaseException]) -> None:
    try:
        t0 = time.perf_counter()
        stats = pipeline.run(max_frames=frames)
        rates[i] = stats.frames / (time.perf_counter() - t0)
    except BaseException as exc:  # surfaced by the caller, in the main thread
        errors.append(exc)


@dataclass(frozen=True)
class BaselineResult:
    available: bool
    reason: str = ""
    predict_fps: float = 0.0
    track_fps: float = 0.0
    frames: int = 0
    version: str = ""
    predict_cpu_ms: float = 0.0  # process CPU time per frame
    track_cpu_ms: float = 0.0


def ultralytics_offline_env() -> Path:
    """YOLO_OFFLINE + a temp YOLO_CONFIG_DIR with a font, so ultralytics never reaches the internet."""
    import matplotlib

    config_dir = Path(tempfile.mkdtemp(prefix="autofine-yolo-"))
    font_dir = config_dir / "Ultralytics"
    font_dir.mkdir(parents=True)
    font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    (font_dir / "Arial.ttf").write_bytes(font.read_bytes())
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    return config_dir


def ultralytics_baseline(onnx_path: Path, video: Path, frames: int, *, conf: float = 0.25) -> BaselineResult:
    """ultralytics' own `predict` and `track` (ByteTrack) on the same ONNX and video, every frame."""
    try:
        import lap  # noqa: F401  (ultralytics would try to pip-install it at run time)
    except ImportError:
        return BaselineResult(False, "the [train] extra is not installed (ultralytics, lap)")
    ultralytics_offline_env()
    try:
        import ultralytics
        from ultralytics import YOLO
    except ImportError:
        return BaselineResult(False, "the [train] extra is not installed (ultralytics)")

    def timed(method: str) -> tuple[float, float]:
        """(frames/s, CPU ms per frame) over `frames` frames after the first."""
        model = YOLO(str(onnx_path), task="detect")
        kwargs = {"persist": True, "tracker": "bytetrack.yaml"} if method == "track" else {}
        results = getattr(model, method)(source=str(video), stream=True, verbose=False, conf=conf, **kwargs)
        n, clock = 0, _Clock()
        for _ in results:
            n += 1
            if n == 1:
                clock.__enter__()  # the first frame pays for session start-up: not counted
            if n > frames:
                break
        clock.__exit__()
        return (n - 1) / clock.wall, 1000 * clock.cpu / (n - 1)

    predict, predict_cpu = timed("predict")
    track, track_cpu = timed("track")
    return BaselineResult(True, "", predict, track, frames, ultralytics.__version__, predict_cpu, track_cpu)


@dataclass
class BenchResult:
    date: str
    machine: dict
    model: dict
    camera: str
    video: str
    frames: int
    decode: StageStat
    detector: list[StageStat]
    pipeline: PipelineRun
    batches: dict
    cameras: list[CameraPoint]
    target_fps: float
    baseline: BaselineResult
    pipeline_after: PipelineRun | None = None  # end to end again right after the baseline
    threads: list[dict] = field(default_factory=list)  # inference per onnxruntime thread count
    gpu: dict = field(default_factory=dict)
    batched_cameras: list[CameraPoint] = field(default_factory=list)  # cameras sharing one batching worker
    batching: dict = field(default_factory=dict)  # worker settings and its latency/batch statistics
    baseline_model: str = ""  # the ONNX ultralytics ran (the default model when ours is a faster variant)

    def summary(self) -> dict:
        """Headline numbers, each computed inside one section so load changes between sections cancel.

        Overhead = everything but onnxruntime in the end-to-end run: its frame time minus the time spent
        inside onnxruntime (the runner's clock; for a detector without one, the inference share of the detect
        stage measured by `detector_stages`). Work done on the decode-ahead thread (decode, motion, letterbox)
        is beside the frame loop, so not in it; it is in the CPU time. Ratios to ultralytics are given on
        wall time and on process CPU time per frame; the CPU ratio holds even when other jobs share the CPU.
        """
        by_name = {s.name: s.mean_ms for s in self.detector}
        pipe = {s.name: s.mean_ms for s in self.pipeline.stages}
        detect_total = by_name["preprocess"] + by_name["inference"] + by_name["postprocess"]
        inference = self.pipeline.inference_ms
        if inference is None:
            inference = pipe["detect"] * by_name["inference"] / detect_total if detect_total else 0.0
        overhead = self.pipeline.frame_ms.mean_ms - inference
        sustained = [p.cameras for p in self.cameras if p.sustained]
        batched = [p.cameras for p in self.batched_cameras if p.sustained]
        out = {
            "end_to_end_fps": self.pipeline.fps,
            "end_to_end_cpu_ms_per_frame": self.pipeline.cpu_ms_per_frame,
            "inference_ms": inference,
            "overhead_ms": overhead,
            "overhead_share_of_inference": overhead / inference if inference else None,
            "evidence_thread_ms_per_frame": self.pipeline.evidence_thread_ms_per_frame,
            "cameras_sustained": max(sustained) if sustained else 0,
            "cameras_sustained_batched": max(batched) if batched else None,
            "target_fps": self.target_fps,
        }
        b = self.baseline
        if b.available:
            runs = [self.pipeline, *([self.pipeline_after] if self.pipeline_after else [])]
            fps = sum(r.fps for r in runs) / len(runs)  # the runs before and after bracket the baseline
            cpu = sum(r.cpu_ms_per_frame for r in runs) / len(runs)
            out["bracketed_end_to_end_fps"] = fps
            out["bracketed_cpu_ms_per_frame"] = cpu
            out["ratio_vs_ultralytics_track"] = fps / b.track_fps
            out["cpu_ratio_vs_ultralytics_track"] = b.track_cpu_ms / cpu
            out["cpu_ratio_vs_ultralytics_predict"] = b.predict_cpu_ms / cpu
        return out

    def to_dict(self) -> dict:
        return {**asdict(self), "summary": self.summary()}


def machine_info() -> dict:
    import onnxruntime as ort

    model_name = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model_name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model_name,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": ort.__version__,
        "providers_available": ort.get_available_providers(),
        "load_average_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def thread_sweep(
    model: str, path: Path | None, frames: Sequence[Frame], providers=None, *, rect: bool = True
) -> list[dict]:
    """Inference time and CPU per frame for 1, 2, … onnxruntime intra-op threads (up to the core count), with
    idle threads spinning or sleeping, alone and beside one busy thread (what the evidence thread is)."""
    from vision.detectors import load_detector

    rows = []
    for threads in range(1, max(1, os.cpu_count() or 1) + 1):
        for spin in (False, True):
            detector = load_detector(
                model, path=path, providers=providers, threads=threads, rect=rect, spin=spin
            )
            detector.detect(frames[0].image)  # warm-up
            tensors = [detector._preprocess(frame.image)[0][None] for frame in frames]
            alone, cpu_ms = _inference_ms(detector, tensors)
            with _busy_thread(frames[0].image):
                beside, _ = _inference_ms(detector, tensors)
            stat = StageStat.of(f"inference@{threads}", alone)
            rows.append(
                {
                    "threads": threads,
                    "spin": spin,
                    **asdict(stat),
                    "cpu_ms_per_frame": cpu_ms,
                    "beside_busy_ms": float(np.mean(beside)),
                }
            )
    return rows


def _inference_ms(detector, tensors: Sequence[np.ndarray]) -> tuple[list[float], float]:
    """Per-run wall ms of the model alone, and the process CPU ms per run."""
    clock = _Clock()
    ms = []
    with clock:
        for tensor in tensors:
            t0 = time.perf_counter()
            detector.runner.run(tensor)
            ms.append((time.perf_counter() - t0) * 1000)
    return ms, 1000 * clock.cpu / len(tensors)


@contextmanager
def _busy_thread(image: np.ndarray) -> Iterator[None]:
    """One thread blurring `image` over and over (OpenCV releases the GIL), as evidence building does."""
    stop = threading.Event()

    def work() -> None:
        while not stop.is_set():
            cv2.GaussianBlur(image, (31, 31), 0)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def gpu_section(model: str, path: Path | None, frames: Sequence[Frame], config) -> dict:
    """Inference and end-to-end speed on CUDA / TensorRT, when this onnxruntime build has them."""
    import onnxruntime as ort

    from vision.detectors import load_detector

    available = ort.get_available_providers()
    result: dict = {"providers_available": available, "runs": []}
    for provider in ("TensorrtExecutionProvider", "CUDAExecutionProvider"):
        if provider not in available:
            continue
        try:
            detector = load_detector(
                model, path=path, providers=[provider, "CPUExecutionProvider"], rect=config.detector.rect
            )
            for frame in frames[:3]:
                detector.detect(frame.image)  # warm-up (TensorRT builds its engine here)
            stages = detector_stages(detector, frames)
            run = run_pipeline(config, detector, len(frames))
            result["runs"].append(
                {
                    "provider": provider,
                    "providers_used": detector.providers,
                    "detector": [asdict(s) for s in stages],
                    "end_to_end_fps": run.fps,
                    "batches": batch_sizes(detector, frames, (1, 4, 8)),
                }
            )
        except Exception as exc:  # a broken GPU setup is reported, not fatal to the CPU bench
            result["runs"].append({"provider": provider, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return result


def run_bench(
    config,
    *,
    model: str,
    model_path: Path | None = None,
    frames: int = 100,
    max_cameras: int = 6,
    camera_frames: int = 25,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
    baseline: bool = True,
    baseline_model_path: Path | None = None,
    batch: int = 0,
    batch_wait_ms: float = 20.0,
    log: Callable[[str], None] = print,
) -> BenchResult:
    """Every section on `config`'s source: stages, end to end, batch sizes, cameras, baseline, GPU."""
    from datetime import UTC, datetime

    from vision.detectors import load_detector
    from vision.sources import resolve_source

    machine = machine_info()
    video = Path(resolve_source(config.source))
    detector = load_detector(
        model,
        path=model_path,
        providers=list(providers) if providers else None,
        threads=threads,
        rect=config.detector.rect,
        spin=config.detector.spin,
    )
    model_info = {
        **detector.model_info.model_dump(),
        "family": detector.family,
        "origin": detector.origin,
        "providers": detector.providers,
        "threads": threads,
        "spin": config.detector.spin,
        "input_size": list(detector.input_size),
    }
    log(
        f"model {model_info['id']} ({detector.family}, {detector.input_size[0]}px) on {detector.providers[0]}"
    )

    decoded, decode_ms = decode_frames(video, frames)
    for frame in decoded[:3]:
        detector.detect(frame.image)  # warm-up: first runs allocate
    stages = detector_stages(detector, decoded)
    log("detector: " + ", ".join(f"{s.name} {s.mean_ms:.1f} ms" for s in stages))

    every_frame = config.model_copy(update={"analysis_fps": None})
    pipeline = run_pipeline(every_frame, detector, frames)
    log(f"end to end (every frame): {pipeline.fps:.2f} frames/s over {pipeline.frames} frames")

    batches = batch_sizes(detector, decoded)
    log(
        f"batch ms/frame: {batches['ms_per_frame']} (model batch axis: {batches['fixed_batch'] or 'dynamic'})"
    )

    from vision.pipeline import CameraPipeline

    target = float(config.analysis_fps or 5.0)
    sweep = camera_sweep(
        lambda i: CameraPipeline(
            config.model_copy(update={"camera_id": f"{config.camera_id}-{i}"}), detector, []
        ),
        max_cameras=max_cameras,
        frames_per_camera=camera_frames,
        target_fps=target,
        stop_after_failures=2,  # one count past the limit, so the plot shows the trend
    )
    log("cameras: " + ", ".join(f"{p.cameras}→{p.min_camera_fps:.1f} fps/camera" for p in sweep))
    batched_sweep, batching = [], {}
    if batch > 1:  # the same sweep, every camera's frames batched by one inference worker
        batched_sweep, batching = batched_camera_sweep(
            config, detector, batch, batch_wait_ms, max_cameras, camera_frames, target
        )
        log("batched cameras: " + ", ".join(f"{p.cameras}→{p.min_camera_fps:.1f}" for p in batched_sweep))

    base = BaselineResult(False, "skipped (--no-baseline)")
    if baseline and detector.family != "yolo":
        base = BaselineResult(
            False, f"ultralytics cannot run a {detector.family} ONNX; use an ultralytics model"
        )
    elif baseline:
        base = ultralytics_baseline(baseline_model_path or detector.runner.path, video, frames)
    log(
        f"ultralytics: predict {base.predict_fps:.2f} fps, track {base.track_fps:.2f} fps"
        if base.available
        else f"ultralytics baseline: {base.reason}"
    )
    after = None
    if base.available:  # bracket the baseline: load on a shared machine drifts within minutes
        after = run_pipeline(every_frame, detector, frames)
        log(f"end to end again after the baseline: {after.fps:.2f} frames/s")

    threads_rows = thread_sweep(
        model, model_path, decoded[:10], list(providers) if providers else None, rect=config.detector.rect
    )
    log("threads: " + ", ".join(f"{r['threads']}→{r['mean_ms']:.1f} ms" for r in threads_rows))

    gpu = gpu_section(model, model_path, decoded[: min(len(decoded), 50)], every_frame)
    return BenchResult(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine,
        model=model_info,
        camera=config.camera_id,
        video=str(video),
        frames=len(decoded),
        decode=StageStat.of("decode", decode_ms),
        detector=stages,
        pipeline=pipeline,
        batches=batches,
        cameras=sweep,
        target_fps=target,
        baseline=base,
        pipeline_after=after,
        threads=threads_rows,
        gpu=gpu,
        batched_cameras=batched_sweep,
        batching=batching,
        baseline_model=str(baseline_model_path or detector.runner.path),
    )
