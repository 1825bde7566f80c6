"""`POST /api/v1/intake/violations`: a camera posts one record + its evidence files (multipart)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.errors import Invalid, ServiceError
from api.intake import ingest
from api.security import CurrentCamera, SessionDep
from autofine.contract import INTAKE_PATH, IntakeResponse

router = APIRouter(tags=["intake"])

_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["record"],
                    "properties": {
                        "record": {
                            "type": "string",
                            "description": "JSON of autofine.contract.ViolationRecord",
                        }
                    },
                    "additionalProperties": {
                        "type": "string",
                        "format": "binary",
                        "description": "One file per record.evidence[i], field name = its `name`",
                    },
                }
            }
        },
    }
}


@router.post(
    INTAKE_PATH,
    response_model=IntakeResponse,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_BODY,
    responses={200: {"model": IntakeResponse, "description": "Duplicate of an earlier post"}},
)
async def post_violation(
    request: Request, response: Response, camera: CurrentCamera, session: SessionDep
) -> IntakeResponse:
    state = request.app.state
    try:
        form = await request.form(max_files=64, max_fields=64)
    except Exception as exc:  # malformed multipart bodies: the client's fault
        raise Invalid(f"body must be multipart/form-data with a 'record' field: {exc}") from exc
    try:
        record = form.get("record")
        if not isinstance(record, str):
            raise Invalid("multipart field 'record' (the ViolationRecord JSON, as text) is required")
        files: dict[str, bytes] = {}
        for name, value in form.multi_items():
            if name == "record":
                continue
            if not isinstance(value, UploadFile):
                raise Invalid(f"field '{name}' must be a file upload")
            if name in files:
                raise Invalid(f"file field '{name}' sent twice")
            if value.size is not None and value.size > state.settings.max_evidence_bytes:
                raise Invalid(f"evidence '{name}' exceeds {state.settings.max_evidence_bytes} bytes")
            files[name] = await value.read()
        result = await run_in_threadpool(
            ingest,
            session=session,
            store=state.evidence_store,
            schedule=state.schedule,
            review_all=state.settings.review_all,
            camera_pk=camera.id,
            camera_id=camera.camera_id,
            record_text=record,
            files=files,
            require_signatures=state.settings.require_signatures,
        )
    except ServiceError:
        state.metrics.intake.labels("rejected").inc()
        raise
    finally:
        await form.close()
    state.metrics.intake.labels("duplicate" if result.duplicate else "created").inc()
    if result.duplicate:
        response.status_code = status.HTTP_200_OK
    return result
