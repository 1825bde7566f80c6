"""Review queue: list and filter cases, open (claim) one, decide it, attach the identified subject."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from api import cases
from api.dependencies import QueueFilter
from api.models import CaseDetail, DecisionCreate, DecisionPublic, FinePublic, FinesPublic
from api.policy import OVERRIDE_REASONS, REJECT_REASONS
from api.security import CurrentReviewer, RowId, SessionDep

router = APIRouter(prefix="/api/v1/review", tags=["review"])


class DecisionResult(BaseModel):
    fine: FinePublic
    decision: DecisionPublic


class SubjectAttach(BaseModel):
    model_config = ConfigDict(extra="forbid")
    national_id: str = Field(min_length=1, max_length=32, description="IIN looked up in the subject registry")
    basis: str = Field(min_length=1, max_length=1000, description="How the person was identified")


class ReasonCodes(BaseModel):
    reject: dict[str, str]
    override: dict[str, str]


def _public(session, fine_id: int) -> FinePublic:
    return cases.case_detail(session, fine_id).fine


@router.get("/reasons", response_model=ReasonCodes)
def reason_codes(_: CurrentReviewer) -> ReasonCodes:
    return ReasonCodes(reject=REJECT_REASONS, override=OVERRIDE_REASONS)


@router.get("/cases", response_model=FinesPublic)
def list_queue(session: SessionDep, _: CurrentReviewer, query: QueueFilter) -> FinesPublic:
    data, count = cases.list_cases(session, query)
    return FinesPublic(data=data, count=count)


@router.get("/cases/{fine_id}", response_model=CaseDetail)
def get_case(fine_id: RowId, session: SessionDep, _: CurrentReviewer) -> CaseDetail:
    return cases.case_detail(session, fine_id)


@router.post("/cases/{fine_id}/claim", response_model=FinePublic)
def claim_case(
    fine_id: RowId, request: Request, session: SessionDep, reviewer: CurrentReviewer
) -> FinePublic:
    lease = request.app.state.settings.claim_lease_seconds
    cases.claim(session, fine_id=fine_id, reviewer=reviewer, lease_seconds=lease)
    return _public(session, fine_id)


@router.post("/cases/{fine_id}/release", response_model=FinePublic)
def release_case(fine_id: RowId, session: SessionDep, reviewer: CurrentReviewer) -> FinePublic:
    cases.release(session, fine_id=fine_id, reviewer=reviewer)
    return _public(session, fine_id)


@router.post("/cases/{fine_id}/decision", response_model=DecisionResult)
def decide_case(
    fine_id: RowId, body: DecisionCreate, request: Request, session: SessionDep, reviewer: CurrentReviewer
) -> DecisionResult:
    state = request.app.state
    fine, decision = cases.decide(
        session, fine_id=fine_id, reviewer=reviewer, decision=body, schedule=state.schedule
    )
    state.metrics.decisions.labels(decision.action).inc()
    if decision.claimed_at is not None:
        state.metrics.decision_latency.observe((decision.decided_at - decision.claimed_at).total_seconds())
    return DecisionResult(
        fine=_public(session, fine_id), decision=DecisionPublic.model_validate(decision, from_attributes=True)
    )


@router.post("/cases/{fine_id}/subject", response_model=FinePublic)
def attach_subject(
    fine_id: RowId, body: SubjectAttach, request: Request, session: SessionDep, reviewer: CurrentReviewer
) -> FinePublic:
    cases.attach_subject(
        session,
        fine_id=fine_id,
        actor=reviewer,
        national_id=body.national_id,
        basis=body.basis,
        registry=request.app.state.subject_registry,
        schedule=request.app.state.schedule,
        min_age=request.app.state.settings.min_age_of_responsibility,
    )
    return _public(session, fine_id)
