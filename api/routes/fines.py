"""Fines (every status), their AI notice, and evidence files — for reviewers and admins only."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse

from api import cases
from api.dependencies import AllFinesFilter
from api.models import CaseDetail, Evidence, FinesPublic, Notice
from api.security import CurrentReviewer, RowId, SessionDep

router = APIRouter(prefix="/api/v1", tags=["fines"])

# Served media types; anything else goes out as a download so a stored file can never run as a page.
_INLINE_TYPES = {"image/jpeg", "image/png", "image/webp", "video/mp4", "video/webm", "application/json"}


@router.get("/fines", response_model=FinesPublic)
def list_fines(session: SessionDep, _: CurrentReviewer, query: AllFinesFilter) -> FinesPublic:
    data, count = cases.list_cases(session, query)
    return FinesPublic(data=data, count=count)


@router.get("/fines/{fine_id}", response_model=CaseDetail)
def get_fine(fine_id: RowId, session: SessionDep, _: CurrentReviewer) -> CaseDetail:
    return cases.case_detail(session, fine_id)


@router.get("/fines/{fine_id}/notice", response_model=Notice)
def get_notice(fine_id: RowId, session: SessionDep, _: CurrentReviewer) -> Notice:
    return cases.case_detail(session, fine_id).fine.notice


@router.get(
    "/evidence/{evidence_id}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}},
        410: {"description": "Deleted by retention"},
    },
)
def get_evidence(
    evidence_id: RowId, request: Request, session: SessionDep, _: CurrentReviewer
) -> FileResponse:
    evidence = session.get(Evidence, evidence_id)
    if evidence is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"evidence {evidence_id} not found")
    if evidence.deleted_at is not None:
        raise HTTPException(status.HTTP_410_GONE, detail=f"evidence {evidence_id} was deleted by retention")
    try:
        path = request.app.state.evidence_store.open_verified(
            evidence.storage_key, expected_sha256=evidence.sha256
        )
    except FileNotFoundError as exc:
        raise HTTPException(
            status.HTTP_410_GONE, detail=f"evidence {evidence_id} is missing from the store"
        ) from exc
    except ValueError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    inline = evidence.media_type in _INLINE_TYPES
    return FileResponse(
        path,
        media_type=evidence.media_type if inline else "application/octet-stream",
        filename=evidence.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"},
    )
