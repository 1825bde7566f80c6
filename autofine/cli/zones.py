"""`autofine zones draw CAMERA.yaml`: draw a camera's zones over a frame of its source (check them by eye)."""

from __future__ import annotations

from pathlib import Path

import typer

from autofine.errors import UserError

app = typer.Typer(help="Camera zones (road, crosswalk, no_smoking, litter_watch).", no_args_is_help=True)


@app.command("draw")
def draw(
    camera: Path = typer.Argument(..., help="Camera config YAML."),
    frame: int = typer.Option(0, "--frame", "-f", min=0, help="Index of the source frame to draw on."),
    out: Path = typer.Option(Path("zones.png"), "--out", "-o", help="PNG to write."),
    grid: int = typer.Option(
        50, "--grid", min=0, help="Pixel grid spacing to help read coordinates (0 = none)."
    ),
) -> None:
    """Write a PNG of the zones (and the pedestrian-signal box) over frame N of the camera's source."""
    import cv2

    from vision.evidence import draw_zones
    from vision.scene import Scene, load_camera_config, zones_outside_frame
    from vision.sources import open_source

    config = load_camera_config(camera)
    source = open_source(config.model_copy(update={"analysis_fps": None}))
    image = None
    for item in source:
        if item.index >= frame:
            image = item.image
            break
    source.stop()
    if image is None:
        raise UserError(f"source {config.source} has no frame {frame}; pick a smaller --frame")
    h, w = image.shape[:2]
    if grid:
        for x in range(0, w, grid):
            cv2.line(image, (x, 0), (x, h - 1), (0, 200, 200), 1)
            cv2.putText(image, str(x), (x + 2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1)
        for y in range(0, h, grid):
            cv2.line(image, (0, y), (w - 1, y), (0, 200, 200), 1)
            cv2.putText(image, str(y), (2, y - 2), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 255, 255), 1)
    image = draw_zones(image, Scene(config.zones))
    if config.signal is not None and config.signal.region is not None:
        x1, y1, x2, y2 = config.signal.region.box
        cv2.rectangle(image, (x1, y1), (x2, y2), (255, 0, 255), 2)
        cv2.putText(image, "signal", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 0, 255), 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), image):
        raise UserError(f"cannot write {out}; use a .png path in a writable folder")
    problem = zones_outside_frame(config.zones, w, h)
    typer.echo(f"wrote {out} ({w}x{h}, frame {frame})" + (f"; WARNING: {problem}" if problem else ""))
