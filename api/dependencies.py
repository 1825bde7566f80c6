"""Query-string dependencies shared by routers: the case-listing filter of /fines and /review/cases."""

# No `from __future__ import annotations` here: the parameter annotations below use the factory's arguments
# (defaults, help text), and FastAPI resolves string annotations against module globals only.

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query

from api import cases
from api.models import CaseStatus
from autofine.contract import ViolationType


def _case_filter(
    *, default_statuses: tuple[CaseStatus, ...], default_sort: cases.SortKey, statuses_help: str
) -> Callable[..., cases.CaseFilter]:
    """A dependency that reads the listing's query parameters into a `cases.CaseFilter`."""

    def case_filter(
        status: Annotated[list[CaseStatus] | None, Query(description=statuses_help)] = None,
        violation_type: ViolationType | None = None,
        camera_id: Annotated[str | None, Query(max_length=64)] = None,
        onset_from: datetime | None = None,
        onset_to: datetime | None = None,
        min_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
        max_confidence: Annotated[float | None, Query(ge=0, le=1)] = None,
        sort: cases.SortKey = default_sort,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> cases.CaseFilter:
        return cases.CaseFilter(
            statuses=tuple(status) if status else default_statuses,
            violation_type=violation_type,
            camera_id=camera_id,
            onset_from=onset_from,
            onset_to=onset_to,
            min_confidence=min_confidence,
            max_confidence=max_confidence,
            sort=sort,
            offset=offset,
            limit=limit,
        )

    return case_filter


# The review queue: cases waiting for a person, oldest incident first.
QueueFilter = Annotated[
    cases.CaseFilter,
    Depends(
        _case_filter(
            default_statuses=(CaseStatus.pending_review,),
            default_sort="onset",
            statuses_help="Default: pending_review",
        )
    ),
]
# Every fine in any status, newest arrival first.
AllFinesFilter = Annotated[
    cases.CaseFilter,
    Depends(
        _case_filter(
            default_statuses=tuple(CaseStatus),
            default_sort="-received",
            statuses_help="Default: every status",
        )
    ),
]
