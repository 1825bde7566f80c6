"""`autofine` command line. Each subcommand group lives in its own module and is imported lazily."""

from __future__ import annotations

import importlib
import sys

import typer

from autofine.errors import UserError

app = typer.Typer(
    name="autofine",
    help="Automated detection-to-fine: cameras detect violations, humans review every fine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, attribute, name, is_group). Each module defines a typer app or a command function.
_COMMANDS: list[tuple[str, str, str, bool]] = [
    ("autofine.cli.detect", "detect", "detect", False),
    ("autofine.cli.samples", "app", "samples", True),
    ("autofine.cli.models", "app", "models", True),
    ("autofine.cli.run", "run", "run", False),
    ("autofine.cli.zones", "app", "zones", True),
    ("autofine.cli.serve", "serve", "serve", False),
    ("autofine.cli.admin", "app", "admin", True),
    ("autofine.cli.outbox", "app", "outbox", True),
    ("autofine.cli.demo", "demo", "demo", False),
    ("autofine.cli.eval", "app", "eval", True),
    ("autofine.cli.bench", "bench", "bench", False),
    ("autofine.cli.keys", "app", "keys", True),
    ("autofine.cli.cluster", "app", "cluster", True),
]


def _register() -> None:
    for module_name, attr, name, is_group in _COMMANDS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet
                continue
            raise
        target = getattr(module, attr)
        if is_group:
            app.add_typer(target, name=name)
        else:
            app.command(name=name)(target)


def main() -> None:
    _register()
    try:
        app()
    except UserError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        sys.exit(2)
