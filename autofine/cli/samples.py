"""`autofine samples fetch|list`: real sample media in the cache dir (never in the repository)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Real sample videos (fetched into the cache dir).", no_args_is_help=True)


@app.command("fetch")
def fetch(name: str = typer.Argument("vtest.avi", help="Sample name (see 'autofine samples list').")) -> None:
    """Fetch a sample (Debian's opencv-doc, else OpenCV's GitHub), verify it decodes, print its path."""
    from autofine.cli._logs import show_autofine_logs
    from vision.samples import fetch_sample

    show_autofine_logs()
    typer.echo(fetch_sample(name))


@app.command("list")
def list_samples() -> None:
    """Known samples and whether each is in the cache."""
    from vision.samples import SAMPLES, sample_path

    table = Table("name", "frames", "size", "cached", "description")
    for sample in SAMPLES.values():
        path = sample_path(sample.name)
        table.add_row(
            sample.name,
            str(sample.frames),
            f"{sample.width}x{sample.height}",
            str(path) if path.is_file() else "no",
            sample.description,
        )
    Console().print(table)
