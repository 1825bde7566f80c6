"""FastAPI app factory: engine, stores, policy and routers from one `Settings`; no import-time state."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import func
from sqlmodel import Session, select
from starlette.middleware.sessions import SessionMiddleware

from api.anchors import AnchorTask
from api.bootstrap import open_engine
from api.erap import FileDropAdapter, Signer
from api.errors import ServiceError
from api.evidence_store import make_evidence_store
from api.metrics import Metrics
from api.models import CaseStatus, Fine
from api.policy import load_schedule
from api.routes import admin, auth, fines, health, intake, legal, review
from api.settings import Settings
from api.subjects import LocalSubjectRegistry
from autofine.contract import VIOLATION_TYPES

WEB_ROUTER_MODULE = "api.routes.web"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    schedule = load_schedule(settings.fine_schedule_path)
    engine = open_engine(settings, run_migrations=settings.migrate_on_startup)

    anchors = AnchorTask(engine, settings.resolved_anchor_dir, settings.anchor_interval_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        anchors.start()  # the audit chain head, exported on a schedule (api/anchors.py)
        yield
        if settings.anchor_interval_seconds > 0:
            anchors.stop()

    # FastAPI's own /docs and /redoc load their scripts from a CDN and stay blank in a closed network;
    # fastapi-offline serves the same pages with the files shipped in its wheel.
    app = FastAPIOffline(
        lifespan=lifespan,
        static_url="/docs-assets",
        title="autofine fine service",
        version="0.1.0",
        description=(
            "Turns camera-confirmed violations into fines with humans in control: intake, review queue, "
            "hash-chained audit, AI provenance labels, ERAP export."
        ),
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.schedule = schedule
    app.state.evidence_store = make_evidence_store(settings)
    app.state.subject_registry = LocalSubjectRegistry()
    app.state.erap_adapter = FileDropAdapter(
        settings.resolved_export_dir, Signer.from_file(settings.resolved_signing_key_path)
    )

    def queue_depth() -> dict[str, int]:
        with Session(engine) as session:
            rows = session.exec(
                select(Fine.violation_type, func.count())
                .where(Fine.status == str(CaseStatus.pending_review))
                .group_by(Fine.violation_type)
            ).all()
        return {t: 0 for t in VIOLATION_TYPES} | {t: n for t, n in rows}  # 0s keep dashboards flat

    app.state.metrics = Metrics(queue_depth)
    app.state.anchor_task = anchors

    app.add_middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie="autofine_session",
        max_age=settings.access_token_minutes * 60,
        same_site="lax",
        https_only=settings.cookie_https_only,
    )

    @app.exception_handler(ServiceError)
    async def _service_error(_: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.middleware("http")
    async def _count_errors(request: Request, call_next):
        try:
            response = await call_next(request)
        except Exception:
            app.state.metrics.errors.labels("500").inc()
            raise
        if response.status_code >= 400:
            app.state.metrics.errors.labels(str(response.status_code)).inc()
        return response

    for module in (health, auth, intake, review, fines, admin, legal):
        app.include_router(module.router)
    _include_web(app)
    return app


def _include_web(app: FastAPI) -> None:
    """The web UI lives in its own module (another part of the project); mount it when present."""
    import importlib

    try:
        web = importlib.import_module(WEB_ROUTER_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name == WEB_ROUTER_MODULE:
            return
        raise
    if hasattr(web, "setup"):
        web.setup(app)
    else:
        app.include_router(web.router)
