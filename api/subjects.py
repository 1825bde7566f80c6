"""Offender lookup. Cameras never identify people: a reviewer or an external registry attaches a subject.

`SubjectRegistry` is the seam for a national registry; `LocalSubjectRegistry` answers from our own table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from sqlmodel import Session, select

from api.models import Subject


@dataclass(frozen=True)
class SubjectInfo:
    national_id: str
    full_name: str
    birth_date: date | None


class SubjectRegistry(Protocol):
    def lookup(self, session: Session, national_id: str) -> SubjectInfo | None: ...


class LocalSubjectRegistry:
    """Subjects an operator entered into this service's database."""

    def lookup(self, session: Session, national_id: str) -> SubjectInfo | None:
        row = session.exec(select(Subject).where(Subject.national_id == national_id)).first()
        if row is None:
            return None
        return SubjectInfo(national_id=row.national_id, full_name=row.full_name, birth_date=row.birth_date)

    def register(
        self, session: Session, *, national_id: str, full_name: str, birth_date: date | None = None
    ) -> Subject:
        row = session.exec(select(Subject).where(Subject.national_id == national_id)).first()
        if row is None:
            row = Subject(national_id=national_id, full_name=full_name, birth_date=birth_date)
            session.add(row)
            session.flush()
        return row


def subject_row(session: Session, info: SubjectInfo) -> Subject:
    """The local row for a looked-up subject (created on first use, so fines can reference it)."""
    return LocalSubjectRegistry().register(
        session, national_id=info.national_id, full_name=info.full_name, birth_date=info.birth_date
    )
