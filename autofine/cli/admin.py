"""`autofine admin ...`: set up users and cameras, verify the audit chain, export to ERAP, run retention."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
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


# ---------------------------------------- issue 12: keys, anchors, appeals, calibration
key_app = typer.Typer(help="Camera signing keys: register, rotate, revoke, list.", no_args_is_help=True)
app.add_typer(key_app, name="camera-key")


def _read_pem(path: Path) -> str:
    if not path.is_file():
        raise UserError(f"{path} does not exist; the camera's public key comes from `autofine keys generate`")
    return path.read_text()


@key_app.command("add")
def key_add(
    camera_id: str,
    public_key: Annotated[Path, typer.Argument(help="The camera's public key PEM (<camera>.pub.pem).")],
    rotate: Annotated[bool, typer.Option(help="Retire the camera's other active keys now.")] = False,
    db: DbOption = None,
) -> None:
    """Register a camera's public signing key (with --rotate: replaces its active key). Audited."""
    from api.keys import add_key

    with _session(db) as (_, session):
        row = add_key(
            session, camera_id=camera_id, public_key_pem=_read_pem(public_key), actor="cli", rotate=rotate
        )
    typer.echo(
        f"camera {row.camera_id}: key {row.key_id} active" + (" (older keys retired)" if rotate else "")
    )


@key_app.command("revoke")
def key_revoke(
    key_id: str,
    reason: Annotated[str, typer.Option(help="Why (e.g. 'camera stolen'); recorded in the audit log.")],
    db: DbOption = None,
) -> None:
    """Revoke a signing key: records signed with it are refused from now on. Audited."""
    from api.keys import revoke_key

    with _session(db) as (_, session):
        row = revoke_key(session, key_id=key_id, reason=reason, actor="cli")
    typer.echo(f"key {row.key_id} of camera {row.camera_id} revoked")


@key_app.command("list")
def key_list(camera_id: Annotated[str | None, typer.Argument()] = None, db: DbOption = None) -> None:
    """List registered signing keys."""
    from api.keys import list_keys

    with _session(db) as (_, session):
        rows = list_keys(session, camera_id=camera_id)
    for row in rows:
        typer.echo(f"{row.camera_id}\t{row.key_id}\t{row.status}\t{row.created_at:%Y-%m-%d %H:%M}")
    if not rows:
        typer.echo("no signing keys registered")


@app.command()
def anchor(
    anchor_dir: Annotated[Path | None, typer.Option("--dir", help="Default: AUTOFINE_ANCHOR_DIR.")] = None,
    db: DbOption = None,
) -> None:
    """Export the audit chain head (an anchor) to the anchor file and the system log."""
    from api.anchors import anchor_path, write_anchor

    with _session(db) as (settings, session):
        where = anchor_dir or settings.resolved_anchor_dir
        written = write_anchor(session, anchor_dir=where)
    if written is None:
        typer.echo(f"no new audit entries since the last anchor in {anchor_path(where)}")
    else:
        typer.echo(f"anchored entry {written.seq} ({written.hash[:16]}…) in {anchor_path(where)}")


@app.command("verify-anchors")
def verify_anchors(
    anchor_dir: Annotated[Path | None, typer.Option("--dir", help="Default: AUTOFINE_ANCHOR_DIR.")] = None,
    db: DbOption = None,
) -> None:
    """Check the audit chain and the exported anchors; exit 1 with the first broken link, last good anchor."""
    from api.anchors import verify_against_anchors

    with _session(db) as (settings, session):
        try:
            result = verify_against_anchors(session, anchor_dir=anchor_dir or settings.resolved_anchor_dir)
        except ValueError as exc:
            raise UserError(str(exc)) from exc
    good = result.last_good_anchor
    last = f"last good anchor: entry {good.seq} at {good.at}" if good else "no anchor holds"
    if result.ok:
        typer.echo(f"audit chain OK ({result.entries} entries, {result.anchors} anchor(s) hold; {last})")
        return
    typer.secho(
        f"audit chain BROKEN at entry {result.first_broken_seq}: {result.reason}; {last}",
        fg=typer.colors.RED,
        err=True,
    )
    raise typer.Exit(1)


@app.command()
def calibrate(
    events_json: Annotated[Path, typer.Argument(help="events.json from `autofine eval events`.")],
    violation_type: Annotated[str, typer.Option("--type", help="Violation type to calibrate.")],
    model_id: Annotated[str, typer.Option(help="Model id as in the camera's records.")],
    model_version: Annotated[str, typer.Option(help="Model version as in the camera's records.")],
    db: DbOption = None,
) -> None:
    """Fit the isotonic confidence calibration of one type for one model version; prints precision targets."""
    from api.calibration import curve_of, fit_and_store, load_report, precision_table, scored_events

    with _session(db) as (_, session):
        report, digest = load_report(events_json)
        events = scored_events(report)
        row = fit_and_store(
            session,
            events=events,
            violation_type=violation_type,
            model_id=model_id,
            model_version=model_version,
            actor="cli",
            source=str(events_json),
            source_sha256=digest,
        )
    mine = [e for e in events if e.violation_type == violation_type]
    typer.echo(
        f"calibration {row.id}: {violation_type} / {model_id} {model_version}, "
        f"{row.events} events ({row.true_positives} true positives)"
    )
    for item in precision_table(curve_of(row), mine, (0.8, 0.9, 0.95, 0.99)):
        raw = item["raw_threshold"]
        seen = item["observed_precision"]
        typer.echo(
            f"  expected precision {item['expected_precision']:.2f}: raw confidence >= "
            f"{'unreachable' if raw is None else f'{raw:.3f}'}; fitted events above: {item['events_above']}"
            + (f", observed precision {seen:.3f}" if seen is not None else "")
        )


@app.command("auto-issue-precision")
def auto_issue_precision(
    violation_type: str,
    precision: Annotated[
        float | None, typer.Option(help="Issue without review where the calibrated confidence reaches this.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="Back to review for every case of this type.")] = False,
    db: DbOption = None,
) -> None:
    """Enable auto-issue for a type at an expected precision (needs a calibration), or --off. Audited."""
    from api.calibration import set_auto_issue_precision

    if (precision is None) == (not off):
        raise UserError("give exactly one of --precision P or --off")
    with _session(db) as (_, session):
        row = set_auto_issue_precision(
            session,
            violation_type=violation_type,
            min_expected_precision=None if off else precision,
            actor="cli",
        )
    state = f"on at expected precision >= {row.min_expected_precision}" if row.enabled else "off (review)"
    typer.echo(f"{row.violation_type}: auto-issue {state}")


@app.command()
def appeal(
    fine_id: int,
    grounds: Annotated[str, typer.Option(help="What the person contests, as received.")],
    db: DbOption = None,
) -> None:
    """Record an appeal: the case goes under_appeal and its evidence under legal hold."""
    from api.appeals import file_appeal

    with _session(db) as (_, session):
        row = file_appeal(session, fine_id=fine_id, actor="cli", grounds=grounds)
    typer.echo(f"appeal {row.id} filed against case {fine_id}; evidence on legal hold")


@app.command("appeal-decide")
def appeal_decide(
    fine_id: int,
    outcome: Annotated[str, typer.Option(help="upheld, cancelled or amended")],
    reason: Annotated[str, typer.Option(help="Reason for the decision (recorded, and sent to ERAP).")],
    amount_kzt: Annotated[int | None, typer.Option(help="New amount (amended only).")] = None,
    db: DbOption = None,
) -> None:
    """Decide a case's open appeal; a cancelled/amended exported fine gets an ERAP correction document."""
    from api.appeals import decide_appeal
    from api.erap import FileDropAdapter, Signer

    with _session(db) as (settings, session):
        adapter = FileDropAdapter(
            settings.resolved_export_dir, Signer.from_file(settings.resolved_signing_key_path)
        )
        row = decide_appeal(
            session,
            fine_id=fine_id,
            actor="cli",
            outcome=outcome,
            reason=reason,
            new_amount_kzt=amount_kzt,
            adapter=adapter,
        )
    typer.echo(
        f"appeal {row.id}: {row.outcome}"
        + (f"; ERAP document {row.erap_document}" if row.erap_document else "")
    )


@app.command("release-hold")
def release_hold_cmd(
    fine_id: int,
    reason: Annotated[str, typer.Option(help="Why the hold ends (e.g. appeal period over).")],
    db: DbOption = None,
) -> None:
    """End a case's legal hold; retention may then delete its evidence on schedule. Audited."""
    from api.appeals import release_hold

    with _session(db) as (_, session):
        release_hold(session, fine_id=fine_id, actor="cli", reason=reason)
    typer.echo(f"case {fine_id}: legal hold released")
