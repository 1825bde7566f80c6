"""A subject under 16 (KoAP age of administrative responsibility) at the offence gets no fine."""

from __future__ import annotations

import json
from datetime import date

from sqlmodel import select

from api.cases import age_at
from api.models import AuditEntry
from api.subjects import LocalSubjectRegistry


def _attach(client, actors, fine_id: int, national_id: str):
    return client.post(
        f"/api/v1/review/cases/{fine_id}/subject",
        json={"national_id": national_id, "basis": "school ID shown to the patrol"},
        headers=actors.reviewer,
    )


def test_minor_closes_the_case_with_no_fine(client, actors, new_case, session):
    # offence on 2026-03-01 (make_record's default onset); 15 years and 9 months old then
    LocalSubjectRegistry().register(
        session, national_id="100601500123", full_name="Minor Person", birth_date=date(2010, 6, 1)
    )
    session.commit()
    fine_id = new_case()
    response = _attach(client, actors, fine_id, "100601500123")
    assert response.status_code == 200, response.text
    fine = response.json()
    assert (fine["status"], fine["closure_reason"], fine["amount_kzt"]) == ("closed", "subject_under_16", 0)
    assert fine["document_kind"] == "fine" and fine["has_subject"]
    # nothing to review, decide or export
    assert client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=actors.reviewer).status_code == 409
    assert client.post("/api/v1/admin/export", headers=actors.admin).json()["exported"] == []
    close = session.exec(select(AuditEntry).where(AuditEntry.action == "case.close")).one()
    data = json.loads(close.data)
    assert data["reason"] == "subject_under_16" and data["previous_amount_kzt"] == 43_250
    attach = session.exec(select(AuditEntry).where(AuditEntry.action == "attach_subject")).one()
    assert json.loads(attach.data)["basis"] == "school ID shown to the patrol"  # who and on what basis
    assert attach.actor == "user:alice"


def test_sixteenth_birthday_on_the_offence_day_is_a_fine(client, actors, new_case, session):
    LocalSubjectRegistry().register(
        session, national_id="100301500456", full_name="Just Sixteen", birth_date=date(2010, 3, 1)
    )
    session.commit()
    fine_id = new_case()
    fine = _attach(client, actors, fine_id, "100301500456").json()
    assert (fine["status"], fine["closure_reason"], fine["amount_kzt"]) == ("pending_review", None, 43_250)
    assert fine["document_kind"] == "fine"


def test_without_a_subject_the_case_is_a_notice_of_violation(client, actors, new_case):
    fine_id = new_case()
    fine = client.get(f"/api/v1/review/cases/{fine_id}", headers=actors.reviewer).json()["fine"]
    assert (fine["document_kind"], fine["has_subject"]) == ("notice_of_violation", False)


def test_age_at_counts_full_years():
    from datetime import UTC, datetime

    moment = datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert [age_at(date(2010, 3, 1), moment), age_at(date(2010, 3, 2), moment)] == [16, 15]
    assert age_at(date(2008, 2, 29), datetime(2026, 2, 28, tzinfo=UTC)) == 17
