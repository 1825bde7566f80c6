"""`autofine detect SOURCE`: run a detector over a video, an image or a folder of images.

Writes an annotated copy (`annotated.mp4`, or one annotated image per input image), `detections.jsonl` (one
line per frame) and `run.json` (which model ran, why, on which providers, and how fast).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from autofine.cli._logs import show_autofine_logs
from autofine.errors import UserError
from vision.detections import Detections

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
DETECTIONS_FILE = "detections.jsonl"
ANNOTATED_VIDEO = "annotated.mp4"


def detect(
    source: Path = typer.Argument(..., help="Video file, image, or folder of images."),
    model: str = typer.Option(
        "default",
        "--model",
        "-m",
        help="Registry id (default, yolox-nano, fall-yolov8s, yolo11n) or .onnx path.",
    ),
    model_path: Path | None = typer.Option(
        None,
        "--model-path",
        help="Local .onnx file for the registry id given by --model (its hash is recorded).",
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: runs/detect/<source name>)."
    ),
    conf: float = typer.Option(0.25, "--conf", min=0.0, max=1.0, help="Minimum confidence of a box."),
    iou: float = typer.Option(0.45, "--iou", min=0.0, max=1.0, help="NMS IoU threshold (same class)."),
    providers: str | None = typer.Option(
        None,
        "--providers",
        help="Comma-separated execution providers, e.g. 'cuda,cpu' (default: best available).",
    ),
    threads: int | None = typer.Option(None, "--threads", min=1, help="onnxruntime intra-op threads."),
    max_frames: int | None = typer.Option(None, "--max-frames", min=1, help="Stop after this many frames."),
) -> None:
    """Detect objects in a video, image or folder; write annotated media and detections.jsonl."""
    from vision.detectors import load_detector
    from vision.detectors.draw import draw_detections

    show_autofine_logs()
    console = Console(stderr=True)
    source = source.expanduser()
    if not source.exists():
        raise UserError(f"source {source} does not exist; give a video file, an image or a folder of images")
    frames, total, fps, size = _open(source)  # bad input fails before any model is fetched or loaded
    provider_list = [p for p in providers.split(",") if p.strip()] if providers else None
    detector = load_detector(
        model, path=model_path, providers=provider_list, threads=threads, conf=conf, iou=iou
    )
    info = detector.model_info  # which model and why: logged by load_detector
    console.print(f"running {info.id} {info.version} (sha256 {info.sha256[:12]}…)")

    out_dir = (out or Path("runs") / "detect" / source.stem).expanduser()
    out_dir.mkdir(parents=True, exist_ok=True)
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    writer = _VideoWriter(out_dir / ANNOTATED_VIDEO, fps, size) if source.is_file() and size else None
    images_dir = out_dir / "annotated"
    counted = boxes = 0
    seconds = 0.0
    columns = (TextColumn("detect"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with (out_dir / DETECTIONS_FILE).open("w") as jsonl, Progress(*columns, console=console) as progress:
            task = progress.add_task("detect", total=total or None)
            for index, name, image in frames:
                if max_frames is not None and index >= max_frames:
                    break
                started = time.perf_counter()
                found = detector.detect(image)
                seconds += time.perf_counter() - started
                jsonl.write(json.dumps(_frame_record(index, name, found)) + "\n")
                annotated = draw_detections(image, found)
                if writer is not None:
                    writer.write(annotated)
                else:
                    images_dir.mkdir(exist_ok=True)
                    cv2.imwrite(str(images_dir / f"{Path(name).stem}.jpg"), annotated)
                counted += 1
                boxes += len(found)
                progress.advance(task)
    finally:
        if writer is not None:
            writer.release()
    if counted == 0:
        raise UserError(f"no frame could be decoded from {source}; is it a video or image file?")
    summary = {
        "source": str(source),
        "model": info.model_dump(),
        "model_origin": detector.origin,
        "providers": detector.providers,
        "conf": conf,
        "iou": iou,
        "frames": counted,
        "detections": boxes,
        "ms_per_frame": round(1000 * seconds / counted, 2),
    }
    (out_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    media = out_dir / ANNOTATED_VIDEO if writer is not None else images_dir
    console.print(
        f"{counted} frames, {boxes} boxes, {summary['ms_per_frame']} ms/frame (detector only) → "
        f"{media}, {out_dir / DETECTIONS_FILE}"
    )


def _frame_record(index: int, name: str, found: Detections) -> dict:
    raw = found.data.get("raw_class_name")
    return {
        "frame": index,
        "source": name,
        "detections": [
            {
                "xyxy": [round(float(v), 2) for v in found.xyxy[i]],
                "confidence": round(float(found.confidence[i]), 4),
                "class_id": int(found.class_id[i]),
                "class_name": str(found.class_name[i]),
                **({"raw_class_name": str(raw[i])} if raw is not None else {}),
            }
            for i in range(len(found))
        ],
    }


def _open(source: Path) -> tuple[Iterator[tuple[int, str, np.ndarray]], int, float, tuple[int, int] | None]:
    """(frames as (index, name, BGR image), frame count or 0, fps, (w, h) for a video / None for images)."""
    if source.is_dir():
        paths = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise UserError(
                f"folder {source} has no images ({', '.join(IMAGE_SUFFIXES)}); point at another one"
            )
        return _read_images(paths), len(paths), 0.0, None
    if source.suffix.lower() in IMAGE_SUFFIXES:
        return _read_images([source]), 1, 0.0, None
    capture = cv2.VideoCapture(str(source))
    ok, first = capture.read() if capture.isOpened() else (False, None)
    if not ok or first is None:
        capture.release()
        raise UserError(f"cannot decode video {source}; check the file is a complete video (e.g. ffprobe it)")
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or 0
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    height, width = first.shape[:2]
    return _read_video(capture, first, source.name), max(total, 0), fps, (width, height)


def _read_images(paths: list[Path]) -> Iterator[tuple[int, str, np.ndarray]]:
    for index, path in enumerate(paths):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UserError(f"cannot read image {path}; is it a valid image file?")
        yield index, path.name, image


def _read_video(
    capture: cv2.VideoCapture, first: np.ndarray, name: str
) -> Iterator[tuple[int, str, np.ndarray]]:
    try:
        index, frame = 0, first
        while frame is not None:
            yield index, name, frame
            ok, frame = capture.read()
            frame = frame if ok else None
            index += 1
    finally:
        capture.release()


class _VideoWriter:
    """cv2.VideoWriter with the mp4v codec; fails loudly instead of writing an empty file."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        self.path = path
        self.writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.writer.isOpened():
            raise UserError(f"cannot write {path} with the mp4v codec; check the folder is writable")

    def write(self, image: np.ndarray) -> None:
        self.writer.write(image)

    def release(self) -> None:
        self.writer.release()
