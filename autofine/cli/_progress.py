"""The frame progress bar shared by `autofine run` and `autofine demo`."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def frames_to_analyse(source: object, max_frames: int | None) -> int | None:
    """The bar's total: a video file's frames at the source's step, capped by `max_frames`; else None."""
    from vision.sources import VideoFileSource  # OpenCV: only once a camera starts

    total = None
    if isinstance(source, VideoFileSource) and source.frame_count:
        total = -(-source.frame_count // source.step)
    if max_frames is not None:
        total = min(total, max_frames) if total else max_frames
    return total


def frames_progress(console: Console) -> Progress:
    """Description, bar, done/total, elapsed time, then the task's `status` field (the caller updates it)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[status]}"),
        console=console,
    )
