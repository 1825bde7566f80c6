"""Reviewer web UI: server-rendered pages over the same service functions as the JSON API.

Pages: login/logout, queue, case (opening it claims it), history, admin. Every POST form carries a per-session
CSRF token. Service errors (`api.errors.ServiceError`) are turned into plain-language messages on the page;
nothing here decides what a reviewer may do — `api.cases` does.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import audit, cases
from api.db import utcnow
from api.errors import Conflict, NotFound, ServiceError
from api.intake import record_summary
from api.models import (
    DECIDABLE,
    EXPORTABLE,
    CaseStatus,
    DecisionCreate,
    Export,
    Fine,
    Role,
    User,
    Violation,
)
from api.policy import OVERRIDE_REASONS, REJECT_REASONS
from api.security import (
    SESSION_USER_KEY,
    SessionDep,
    authenticate,
    get_current_user,
    login_session,
    logout_session,
)
from autofine.contract import VIOLATION_TYPES

_HERE = Path(__file__).resolve().parents[1]
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"
CSRF_KEY = "csrf"
FLASH_KEY = "flash"
QUEUE_PAGE = 50
NAV_WINDOW = 100  # how many queue entries j/k and "next case" look through

TYPE_LABELS = {"littering": "Littering", "smoking": "Smoking", "jaywalking": "Jaywalking"}
STATUS_LABELS = {
    "pending_review": "Waiting for review",
    "auto_issued": "Issued automatically",
    "confirmed": "Confirmed",
    "rejected": "Rejected",
    "overridden": "Overridden",
    "exported": "Exported to ERAP",
}
SORT_LABELS = {
    "onset": "Oldest first",
    "-onset": "Newest first",
    "-confidence": "Highest confidence",
    "confidence": "Lowest confidence",
    "received": "Received, oldest",
    "-received": "Received, newest",
}
AI_BANNER = (
    "Cases on this page were detected automatically by an artificial-intelligence system (autofine). "
    "A fine is issued only after a person checks the evidence and decides."
)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def setup(app: FastAPI) -> None:
    """Called by `api.app.create_app`: pages, static files, and the login redirect."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    app.add_exception_handler(_LoginRequired, _to_login)
    app.add_exception_handler(_PageError, _error_page)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)


# ---------------------------------------------------------------- who is looking
class _LoginRequired(Exception):
    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class _PageError(Exception):
    def __init__(self, status_code: int, title: str, text: str) -> None:
        self.status_code, self.title, self.text = status_code, title, text


async def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _LoginRequired)
    return RedirectResponse("/login?" + urlencode({"next": exc.next_url}), status_code=303)


async def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, _PageError)
    return _error_response(request, exc.status_code, exc.title, exc.text)


def _error_response(request: Request, status_code: int, title: str, text: str) -> HTMLResponse:
    """An error page that keeps the navigation for a logged-in person."""
    user = None
    uid = request.session.get(SESSION_USER_KEY) if "session" in request.scope else None
    if isinstance(uid, int):
        with Session(request.app.state.engine) as session:
            found = session.get(User, uid)
            user = found if found is not None and found.active else None
    context = {"title": title, "text": text, "user": user}
    return _render(request, "error.html", context, status_code=status_code)


def _wants_html(request: Request) -> bool:
    """A browser asking for a page (not the JSON API, metrics or docs)."""
    api_paths = ("/api/", "/metrics", "/healthz", "/docs", "/redoc", "/openapi")
    return not request.url.path.startswith(api_paths) and "text/html" in request.headers.get("accept", "")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not _wants_html(request):
        return await http_exception_handler(request, exc)
    title = "Page not found" if exc.status_code == 404 else "Something went wrong"
    text = "There is no such page." if exc.status_code == 404 else str(exc.detail)
    return _error_response(request, exc.status_code, title, text)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if not _wants_html(request):
        return await request_validation_exception_handler(request, exc)
    text = "This address is not valid (a case number must be a whole number)."
    return _error_response(request, 404, "Page not found", text)


def _page_user(request: Request, session: SessionDep) -> User:
    """The logged-in person (session cookie), else a redirect to the login page."""
    try:
        return get_current_user(request, session, request.app.state.settings, None)
    except HTTPException as exc:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise _LoginRequired(target) from exc


def _page_reviewer(user: Annotated[User, Depends(_page_user)]) -> User:
    if user.role not in (Role.reviewer, Role.admin):
        raise _PageError(403, "Not allowed", "Only reviewers and administrators can see the review queue.")
    return user


def _page_admin(user: Annotated[User, Depends(_page_user)]) -> User:
    if user.role != Role.admin:
        raise _PageError(403, "Not allowed", "This page is for administrators only.")
    return user


PageReviewer = Annotated[User, Depends(_page_reviewer)]
PageAdmin = Annotated[User, Depends(_page_admin)]


# ---------------------------------------------------------------- CSRF, flash messages, rendering
def _csrf_token(request: Request) -> str:
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return token


async def _checked_form(request: Request) -> dict[str, str]:
    """The POSTed form as text fields, after checking its CSRF token against the session's."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    expected = request.session.get(CSRF_KEY)
    sent = fields.get("csrf_token", "")
    if not isinstance(expected, str) or not secrets.compare_digest(expected, sent):
        raise _PageError(
            403,
            "Form expired",
            "This form is out of date (your session changed or expired). "
            "Go back, reload the page and try again.",
        )
    return fields


FormDep = Annotated[dict[str, str], Depends(_checked_form)]


def _flash(request: Request, text: str, level: str = "info") -> None:
    request.session.setdefault(FLASH_KEY, [])
    request.session[FLASH_KEY] = [*request.session[FLASH_KEY], {"level": level, "text": text}]


def _render(
    request: Request, template: str, context: dict[str, Any], *, status_code: int = 200
) -> HTMLResponse:
    flashes = request.session.pop(FLASH_KEY, []) if "session" in request.scope else []
    base = {
        "csrf_token": _csrf_token(request),
        "flashes": flashes,
        "type_labels": TYPE_LABELS,
        "status_labels": STATUS_LABELS,
        "ai_banner": AI_BANNER,
        "fmt_time": _fmt_time,
        "fmt_age": _fmt_age,
        "fmt_kzt": _fmt_kzt,
        "now": utcnow(),
    }
    return templates.TemplateResponse(request, template, base | context, status_code=status_code)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _fmt_time(moment: datetime | None) -> str:
    return "—" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _fmt_age(moment: datetime | None, now: datetime | None = None) -> str:
    if moment is None:
        return "—"
    seconds = max(0, int(((now or utcnow()) - moment).total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _fmt_kzt(amount: int | None) -> str:
    return "—" if amount is None else f"{amount:,}".replace(",", "\u202f") + " KZT"


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.exec(select(User.id, User.username).where(col(User.id).in_(wanted))).all())


def _safe_next(url: str | None) -> str:
    return url if url and url.startswith("/") and not url.startswith("//") else "/queue"


# ---------------------------------------------------------------- login / logout
@router.get("/", response_class=HTMLResponse)
def home() -> Response:
    return _redirect("/queue")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/queue") -> HTMLResponse:
    return _render(request, "login.html", {"next": _safe_next(next), "username": ""})


@router.post("/login", response_class=HTMLResponse)
def login_submit(request: Request, session: SessionDep, form: FormDep) -> Response:
    username = form.get("username", "").strip()
    user = authenticate(session, username, form.get("password", ""))
    if user is None:
        context = {"next": _safe_next(form.get("next")), "username": username}
        _flash(request, "Wrong username or password.", "error")
        return _render(request, "login.html", context, status_code=401)
    login_session(request, user)  # clears the old session (and its CSRF token) first
    return _redirect(_safe_next(form.get("next")))


@router.post("/logout")
def logout(request: Request, _: FormDep) -> Response:
    logout_session(request)
    _flash(request, "You are logged out.")
    return _redirect("/login")


# ---------------------------------------------------------------- queue
def _parse_date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def _parse_float(text: str | None) -> float | None:
    try:
        value = float(text) if text else None
    except ValueError:
        return None
    return value if value is None or 0 <= value <= 1 else None


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, user: PageReviewer) -> HTMLResponse:
    q = request.query_params
    violation_type = q.get("type") if q.get("type") in VIOLATION_TYPES else None
    camera_id = (q.get("camera") or "").strip()[:64] or None
    day_from, day_to = _parse_date(q.get("from")), _parse_date(q.get("to"))
    min_conf, max_conf = _parse_float(q.get("min_conf")), _parse_float(q.get("max_conf"))
    sort = q.get("sort") if q.get("sort") in SORT_LABELS else "onset"
    try:
        page = max(1, min(int(q.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    query = cases.CaseFilter(
        violation_type=violation_type,
        camera_id=camera_id,
        onset_from=datetime.combine(day_from, time(), UTC) if day_from else None,
        onset_to=datetime.combine(day_to, time(), UTC) + timedelta(days=1) if day_to else None,
        min_confidence=min_conf,
        max_confidence=max_conf,
        sort=sort,  # type: ignore[arg-type]
        offset=(page - 1) * QUEUE_PAGE,
        limit=QUEUE_PAGE,
    )
    rows, count = cases.list_cases(session, query)
    counts = cases.pending_counts(session)
    violations = {
        v.id: v
        for v in session.exec(
            select(Violation).where(col(Violation.id).in_([r.violation_id for r in rows]))
        ).all()
    }
    filters = {
        "type": violation_type or "",
        "camera": camera_id or "",
        "from": day_from.isoformat() if day_from else "",
        "to": day_to.isoformat() if day_to else "",
        "min_conf": "" if min_conf is None else f"{min_conf:g}",
        "max_conf": "" if max_conf is None else f"{max_conf:g}",
        "sort": sort,
    }
    active = {k: v for k, v in filters.items() if v and k != "sort"}
    cameras = sorted(
        session.exec(select(Violation.camera_id).distinct()).all()  # cameras that sent anything
    )
    return _render(
        request,
        "queue.html",
        {
            "user": user,
            "rows": [(r, violations[r.violation_id]) for r in rows],
            "count": count,
            "counts": counts,
            "filters": filters,
            "filtered": bool(active),
            "cameras": cameras,
            "sort_labels": SORT_LABELS,
            "page": page,
            "pages": max(1, -(-count // QUEUE_PAGE)),
            "page_url": lambda n: "/queue?" + urlencode({**filters, "page": n}),
        },
    )


# ---------------------------------------------------------------- case
@dataclass(frozen=True)
class Timeline:
    """Inline-SVG polylines of the detector confidence and the rule score over the incident."""

    width: int
    height: int
    confidence_points: str
    rule_points: str
    dots: list[tuple[float, float, str]]
    duration_s: float
    count: int


def _timeline(boxes: list[dict], *, width: int = 560, height: int = 120, pad: int = 22) -> Timeline | None:
    points = []
    for box in boxes:
        try:
            at = datetime.fromisoformat(str(box["timestamp"]).replace("Z", "+00:00"))
            points.append((at, float(box["confidence"]), float(box.get("rule_score", 0.0))))
        except (KeyError, TypeError, ValueError):
            continue
    if not points:
        return None
    points.sort(key=lambda p: p[0])
    start = points[0][0]
    duration = max((points[-1][0] - start).total_seconds(), 1e-6)

    def xy(at: datetime, value: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * ((at - start).total_seconds() / duration if len(points) > 1 else 0.5)
        y = height - pad - (height - 2 * pad) * min(max(value, 0.0), 1.0)
        return round(x, 1), round(y, 1)

    conf = [xy(at, c) for at, c, _ in points]
    rule = [xy(at, r) for at, _, r in points]
    return Timeline(
        width=width,
        height=height,
        confidence_points=" ".join(f"{x},{y}" for x, y in conf),
        rule_points=" ".join(f"{x},{y}" for x, y in rule),
        dots=[(x, y, f"{c:.2f}") for (x, y), (_, c, _) in zip(conf, points, strict=True)],
        duration_s=round(duration if len(points) > 1 else 0.0, 2),
        count=len(points),
    )


def _queue_ids(session: Session, user: User) -> list[int]:
    """Pending cases in queue order that this reviewer could open now (free or already theirs)."""
    rows, _ = cases.list_cases(session, cases.CaseFilter(limit=NAV_WINDOW))
    return [r.id for r in rows if r.claimed_by in (None, user.username)]


def _neighbours(ids: list[int], fine_id: int) -> tuple[int | None, int | None]:
    """(previous, next) around `fine_id` in the queue; from outside the queue, next is its first case."""
    if fine_id in ids:
        i = ids.index(fine_id)
        return (ids[i - 1] if i > 0 else None), (ids[i + 1] if i + 1 < len(ids) else None)
    return None, (ids[0] if ids else None)


def _next_case_url(session: Session, user: User, after: int) -> str:
    ids = [i for i in _queue_ids(session, user) if i != after]
    return f"/cases/{ids[0]}" if ids else "/queue"


@router.get("/cases/{fine_id}", response_class=HTMLResponse)
def case_page(fine_id: int, request: Request, session: SessionDep, user: PageReviewer) -> HTMLResponse:
    try:
        fine, _ = cases.get_case(session, fine_id)
    except NotFound as exc:
        raise _PageError(404, "No such case", f"Case {fine_id} does not exist.") from exc
    claim_note = None
    if fine.status in DECIDABLE:
        try:  # opening a case is what claims it: nobody decides a case they have not opened
            cases.claim(
                session,
                fine_id=fine_id,
                reviewer=user,
                lease_seconds=request.app.state.settings.claim_lease_seconds,
            )
        except Conflict:
            claim_note = "other"
    detail = cases.case_detail(session, fine_id)
    mine = detail.fine.claimed_by == user.username
    if claim_note is None and not mine and detail.fine.status in DECIDABLE:
        claim_note = "other"
    _, violation = cases.get_case(session, fine_id)
    record = record_summary(violation.record_json)
    live = [e for e in detail.evidence if e.deleted_at is None]
    snapshot = next((e for e in live if e.kind == "snapshot"), None)
    clip = next((e for e in live if e.kind == "clip" and e.media_type.startswith("video/")), None)
    others = [e for e in live if e not in (snapshot, clip)]
    trail = audit.trail(session, targets=[f"fine:{fine_id}", f"violation:{violation.id}"])
    names = _names(session, {d.reviewer_id for d in detail.decisions})
    prev_id, next_id = _neighbours(_queue_ids(session, user), fine_id)
    return _render(
        request,
        "case.html",
        {
            "user": user,
            "d": detail,
            "fine": detail.fine,
            "violation": detail.violation,
            "record": record,
            "snapshot": snapshot,
            "clip": clip,
            "other_evidence": others,
            "deleted_evidence": [e for e in detail.evidence if e.deleted_at is not None],
            "timeline": _timeline(record.get("boxes", [])),
            "can_decide": mine and detail.fine.status in DECIDABLE,
            "claim_note": claim_note,
            "decider_names": names,
            "trail": trail,
            "prev_id": prev_id,
            "next_id": next_id,
            "reject_reasons": REJECT_REASONS,
            "override_reasons": OVERRIDE_REASONS,
            "types": VIOLATION_TYPES,
        },
    )


def _conflict_text(session: Session, fine_id: int, user: User, exc: ServiceError) -> str:
    """Say in plain words why a decision did not go through, from the case's state now."""
    fine, _ = cases.get_case(session, fine_id)
    session.refresh(fine)
    names = _names(session, {fine.decided_by_id, fine.claimed_by_id})
    if fine.status not in DECIDABLE:
        who = names.get(fine.decided_by_id) if fine.decided_by_id else None
        what = STATUS_LABELS.get(str(fine.status), str(fine.status)).lower()
        by = f" by {who}" if who and who != user.username else ""
        when = f" at {_fmt_time(fine.decided_at)}" if fine.decided_at else ""
        return (
            f"Someone else decided case {fine_id} first: it was {what}{by}{when}. "
            "Your decision was not recorded."
        )
    if (
        fine.claimed_by_id not in (None, user.id)
        and fine.claim_expires_at
        and fine.claim_expires_at > utcnow()
    ):
        holder = names.get(fine.claimed_by_id, "another reviewer")
        return (
            f"Your hold on case {fine_id} expired and {holder} has opened it since. "
            "Your decision was not recorded."
        )
    if "changed since" in exc.detail:
        return (
            f"Case {fine_id} changed while you were looking at it. "
            "Check it again; your decision was not recorded."
        )
    return (
        f"Your hold on case {fine_id} had expired, so your decision was not recorded. "
        "The case has been opened for you again: check it and decide."
    )


@router.post("/cases/{fine_id}/decide")
def decide(
    fine_id: int, request: Request, session: SessionDep, user: PageReviewer, form: FormDep
) -> Response:
    action = form.get("action", "")
    if action not in ("confirm", "reject", "override"):
        _flash(request, "Choose Confirm, Reject or Override.", "error")
        return _redirect(f"/cases/{fine_id}")
    amount_text = form.get("new_amount_kzt", "").replace(" ", "").replace("\u202f", "").replace(",", "")
    try:
        new_amount = int(amount_text) if action == "override" and amount_text else None
    except ValueError:
        _flash(request, "The new amount must be a whole number of tenge, e.g. 21625.", "error")
        return _redirect(f"/cases/{fine_id}#override")
    new_type = form.get("new_type") or None if action == "override" else None
    version = form.get("expected_version", "")
    try:
        body = DecisionCreate(
            action=action,  # type: ignore[arg-type]
            reason_code=form.get("reason_code") or None if action != "confirm" else None,
            reason_text=form.get("reason_text", "")[:4000] if action != "confirm" else "",
            new_type=new_type,
            new_amount_kzt=new_amount,
            expected_version=int(version) if version.isdigit() else None,
        )
    except ValueError:
        _flash(request, "The new amount must be between 0 and 100,000,000 KZT.", "error")
        return _redirect(f"/cases/{fine_id}#override")
    state = request.app.state
    try:
        fine, decision = cases.decide(
            session, fine_id=fine_id, reviewer=user, decision=body, schedule=state.schedule
        )
    except NotFound as exc:
        raise _PageError(404, "No such case", f"Case {fine_id} does not exist.") from exc
    except Conflict as exc:
        _flash(request, _conflict_text(session, fine_id, user, exc), "error")
        return _redirect(f"/cases/{fine_id}")
    except ServiceError as exc:  # Invalid: a missing reason and the like; the service words it
        _flash(request, _invalid_text(exc.detail), "error")
        anchor = {"reject": "#reject", "override": "#override"}.get(action, "")
        return _redirect(f"/cases/{fine_id}{anchor}")
    state.metrics.decisions.labels(decision.action).inc()
    if decision.claimed_at is not None:
        state.metrics.decision_latency.observe((decision.decided_at - decision.claimed_at).total_seconds())
    verb = {"confirm": "confirmed", "reject": "rejected", "override": "overridden"}[decision.action]
    _flash(request, f"Case {fine_id} {verb}.", "ok")
    return _redirect(_next_case_url(session, user, fine_id))


def _invalid_text(detail: str) -> str:
    """The service's validation messages name API fields; say the same in the words of the form."""
    if detail.startswith("reject needs reason_code"):
        return "To reject, choose a reason from the list."
    if detail.startswith("reject needs reason_text"):
        return "To reject, write a few words explaining why."
    if detail.startswith("override needs reason_code"):
        return "To override, choose a reason from the list."
    if detail.startswith("override needs reason_text"):
        return "To override, write a few words explaining the change."
    if detail.startswith("override needs new_type"):
        return "To override, choose a new violation type or enter a new amount."
    return detail[:1].upper() + detail[1:] + "."


@router.post("/cases/{fine_id}/release")
def release(
    fine_id: int, request: Request, session: SessionDep, user: PageReviewer, form: FormDep
) -> Response:
    try:
        cases.release(session, fine_id=fine_id, reviewer=user)
        _flash(request, f"Case {fine_id} is back in the queue for others.")
    except NotFound as exc:
        raise _PageError(404, "No such case", f"Case {fine_id} does not exist.") from exc
    except Conflict:
        _flash(request, f"You no longer held case {fine_id}; nothing to release.")
    target = form.get("go", "")
    return _redirect(f"/cases/{int(target)}" if target.isdigit() else "/queue")


# ---------------------------------------------------------------- history
@router.get("/history", response_class=HTMLResponse)
def history_page(request: Request, session: SessionDep, user: PageReviewer) -> HTMLResponse:
    q = request.query_params
    violation_type = q.get("type") if q.get("type") in VIOLATION_TYPES else None
    try:
        page = max(1, min(int(q.get("page") or 1), 10_000))
    except ValueError:
        page = 1
    rows, count = cases.decision_history(
        session, offset=(page - 1) * QUEUE_PAGE, limit=QUEUE_PAGE, violation_type=violation_type
    )
    auto, auto_count = cases.list_cases(
        session, cases.CaseFilter(statuses=(CaseStatus.auto_issued,), sort="-received", limit=20)
    )
    return _render(
        request,
        "history.html",
        {
            "user": user,
            "rows": rows,
            "count": count,
            "auto": auto,
            "auto_count": auto_count,
            "type": violation_type or "",
            "page": page,
            "pages": max(1, -(-count // QUEUE_PAGE)),
        },
    )


# ---------------------------------------------------------------- admin
@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, session: SessionDep, user: PageAdmin) -> HTMLResponse:
    state = request.app.state
    exports = session.exec(select(Export).order_by(col(Export.id).desc()).limit(20)).all()
    awaiting = session.exec(
        select(func.count()).select_from(Fine).where(col(Fine.status).in_([str(s) for s in EXPORTABLE]))
    ).one()
    exported = session.exec(select(func.count()).select_from(Export)).one()
    return _render(
        request,
        "admin.html",
        {
            "user": user,
            "schedule": state.schedule,
            "users": session.exec(select(User).order_by(User.username)).all(),
            "exports": exports,
            "export_awaiting": awaiting,
            "export_total": exported,
            "export_adapter": getattr(state.erap_adapter, "name", "?"),
            "verify": audit.verify(session),
            "review_all": state.settings.review_all,
        },
    )
