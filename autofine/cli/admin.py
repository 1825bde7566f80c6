"""`autofine admin ...`: set up users and cameras, verify the audit chain, export to ERAP, run retention."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated

import typer

from autofine.errors import UserError

app = typer.Typer(
    help="Administer the fine service (users, cameras, audit, export, retention).", no_args_is_help=True
)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: AUTOFINE_DATABASE_URL / SQLite).")
]


def _settings(db: str | None):
    from pydantic import ValidationError

    from api.settings import Settings

    try:
        return Settings(**({"database_url": db} if db else {}))
    except ValidationError as exc:
        raise UserError(str(exc.errors()[0]["msg"])) from exc


@contextmanager
def _session(db: str | None):
    from sqlmodel import Session

    from api.errors import ServiceError

    settings = _settings(db)
    engine = _open(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            yield settings, session
    except ServiceError as exc:
        raise UserError(exc.detail) from exc
    finally:
        engine.dispose()


def _open(settings):
    from sqlalchemy.exc import OperationalError

    from api.bootstrap import open_engine

    try:
        return open_engine(settings)
    except OperationalError as exc:
        raise UserError(
            f"cannot open the database ({str(exc.orig).splitlines()[0]}); check --db / AUTOFINE_DATABASE_URL "
            "or start PostgreSQL with scripts/start-postgres.sh"
        ) from exc


def _password(password: str | None) -> str:
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise UserError("password must have at least 8 characters")
    return password


@app.command()
def migrate(db: DbOption = None) -> None:
    """Create or upgrade the database schema (alembic upgrade head)."""
    settings = _settings(db)
    _open(settings).dispose()
    typer.echo(f"database at head: {settings.resolved_database_url.split('@')[-1]}")


@app.command("create-admin")
def create_admin(
    username: str,
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
    db: DbOption = None,
) -> None:
    """Create the first (or another) admin user."""
    from api.bootstrap import create_user

    with _session(db) as (_, session):
        user = create_user(
            session, username=username, password=_password(password), role="admin", actor="cli"
        )
    typer.echo(f"admin '{user.username}' created (id {user.id})")


@app.command("create-user")
def create_user_cmd(
    username: str,
    role: Annotated[str, typer.Option(help="reviewer or admin")] = "reviewer",
    password: Annotated[str | None, typer.Option(help="Prompted for when omitted.")] = None,
    full_name: Annotated[str, typer.Option(help="Shown in the audit log and UI.")] = "",
    db: DbOption = None,
) -> None:
    """Create a reviewer (or admin) account."""
    from api.bootstrap import create_user
    from api.models import Role

    if role not in {r.value for r in Role}:
        raise UserError(f"--role must be one of: {', '.join(r.value for r in Role)}")
    with _session(db) as (_, session):
        user = create_user(
            session,
            username=username,
            password=_password(password),
            role=role,
            full_name=full_name,
            actor="cli",
        )
    typer.echo(f"{role} '{user.username}' created (id {user.id})")


@app.command("register-camera")
def register_camera(
    camera_id: str,
    name: Annotated[str, typer.Option(help="Human-readable name.")] = "",
    rotate: Annotated[bool, typer.Option(help="Issue a new token for an existing camera.")] = False,
    db: DbOption = None,
) -> None:
    """Register a camera and print its token (shown once; store it in the camera's config)."""
    from api.bootstrap import register_camera as register
    from api.bootstrap import rotate_camera_token

    with _session(db) as (_, session):
        if rotate:
            token = rotate_camera_token(session, camera_id=camera_id, actor="cli")
        else:
            token = register(session, camera_id=camera_id, name=name, actor="cli")[1]
    typer.echo(token)


@app.command("set-auto-issue")
def set_auto_issue(
    violation_type: str,
    threshold: Annotated[
        float, typer.Option(min=0, max=1, help="Minimum confidence to issue without review.")
    ],
    enable: Annotated[bool, typer.Option("--enable/--disable")] = True,
    actor: Annotated[str, typer.Option(help="Admin username recorded in the audit log.")] = "cli",
    db: DbOption = None,
) -> None:
    """Allow (or stop) issuing fines of one type without a human above a confidence threshold. Audited."""
    from api.bootstrap import set_auto_issue as set_policy

    with _session(db) as (_, session):
        row = set_policy(
            session, violation_type=violation_type, enabled=enable, threshold=threshold, actor=f"cli:{actor}"
        )
    typer.echo(
        f"{row.violation_type}: auto-issue {'on' if row.enabled else 'off'} at confidence >= {row.threshold}"
    )


@app.command("verify-audit")
def verify_audit(db: DbOption = None) -> None:
    """Check the audit hash chain; exit 1 and name the first broken link if it does not hold."""
    from api import audit

    with _session(db) as (_, session):
        result = audit.verify(session)
    if result.ok:
        typer.echo(f"audit chain OK ({result.entries} entries)")
        return
    typer.secho(
        f"audit chain BROKEN at entry {result.first_broken_seq}: {result.reason} "
        f"({result.entries} entries verified before it)",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(1)


@app.command()
def export(db: DbOption = None) -> None:
    """Export issued fines to ERAP (file drop: one signed JSON per fine + manifest). Idempotent."""
    from api.erap import FileDropAdapter, Signer, export_fines

    with _session(db) as (settings, session):
        adapter = FileDropAdapter(
            settings.resolved_export_dir, Signer.from_file(settings.resolved_signing_key_path)
        )
        summary = export_fines(session, adapter=adapter, actor="cli")
    typer.echo(
        f"exported {len(summary.exported)} fine(s) to {settings.resolved_export_dir}"
        + (f" (manifest {summary.manifest})" if summary.manifest else "")
    )


@app.command()
def retention(db: DbOption = None) -> None:
    """Delete evidence past its retention period (rejected and closed cases); audited."""
    from api.evidence_store import make_evidence_store
    from api.retention import run_retention

    with _session(db) as (settings, session):
        summary = run_retention(
            session,
            store=make_evidence_store(settings),
            rejected_days=settings.retention_rejected_days,
            evidence_days=settings.retention_evidence_days,
            actor="cli:retention",
        )
    typer.echo(f"deleted {len(summary.deleted_evidence)} evidence file(s) of {len(summary.cases)} case(s)")
