"""`autofine serve`: run the fine service with uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from autofine.errors import UserError


def serve(
    host: Annotated[
        str, typer.Option(help="Interface to bind (0.0.0.0 to accept remote cameras).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Database URL (default: AUTOFINE_DATABASE_URL or a SQLite file)."),
    ] = None,
) -> None:
    """Start the fine-issuing service (intake, review API, web UI); migrates the database first."""
    import uvicorn
    from pydantic import ValidationError

    from api.app import create_app
    from api.settings import Settings

    try:
        settings = Settings(**({"database_url": db} if db else {}))
    except ValidationError as exc:
        raise UserError(str(exc.errors()[0]["msg"])) from exc
    from sqlalchemy.exc import OperationalError

    try:
        app = create_app(settings)
    except OperationalError as exc:
        raise UserError(
            f"cannot open the database ({str(exc.orig).splitlines()[0]}); check --db / AUTOFINE_DATABASE_URL "
            "or start PostgreSQL with scripts/start-postgres.sh"
        ) from exc
    typer.echo(
        f"autofine service on http://{host}:{port}  (db: {settings.resolved_database_url.split('@')[-1]})"
    )
    uvicorn.run(app, host=host, port=port, log_level="info")
