from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import yaml
from sqlmodel import select

from api.models import AuditEntry, Fine, Subject, Violation
from api.policy import compute_amount, is_repeat, load_schedule, months_before, route
from api.subjects import LocalSubjectRegistry
from autofine.errors import UserError


@pytest.fixture(scope="module")
def schedule():
    from api.settings import DEFAULT_SCHEDULE

    return load_schedule(DEFAULT_SCHEDULE)


def test_littering_is_ten_mrp_in_2026(schedule):
    amount = compute_amount(
        schedule, violation_type="littering", onset=datetime(2026, 5, 1, tzinfo=UTC), repeat=False
    )
    assert (amount.amount_mrp, amount.amount_kzt, amount.mrp_year) == (10, 43_250, 2026)
    older = compute_amount(
        schedule, violation_type="littering", onset=datetime(2025, 5, 1, tzinfo=UTC), repeat=False
    )
    assert older.amount_kzt == 10 * 3932


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"violations": {"littering": {"article": "x", "amount_mrp": 10}}}, "violations must be exactly"),
        ({"mrp_by_year": {}}, "mrp_by_year"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_invalid_schedule_is_refused(tmp_path, schedule, patch, message):
    data = schedule.model_dump(mode="json") | patch
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(UserError, match=message):
        load_schedule(path)


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2026, 3, 31, tzinfo=UTC), 1, datetime(2026, 2, 28, tzinfo=UTC)),
        (datetime(2024, 2, 29, tzinfo=UTC), 12, datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2026, 1, 15, 8, tzinfo=UTC), 12, datetime(2025, 1, 15, 8, tzinfo=UTC)),
    ],
)
def test_months_before(moment, months, expected):
    assert months_before(moment, months) == expected


def test_repeat_window_boundary():
    onset = datetime(2026, 6, 10, 12, tzinfo=UTC)
    assert is_repeat(onset=onset, prior_onsets=[datetime(2025, 6, 10, 12, 1, tzinfo=UTC)], window_months=12)
    assert is_repeat(onset=onset, prior_onsets=[datetime(2025, 6, 10, 12, tzinfo=UTC)], window_months=12)
    assert not is_repeat(
        onset=onset, prior_onsets=[datetime(2025, 6, 10, 11, 59, tzinfo=UTC)], window_months=12
    )
    assert not is_repeat(onset=onset, prior_onsets=[], window_months=12)
    assert not is_repeat(onset=onset, prior_onsets=[onset + timedelta(days=1)], window_months=12)


@pytest.mark.parametrize(
    ("confidence", "review_all", "enabled", "threshold", "expected"),
    [
        (0.99, False, False, 0.9, "review"),  # default: nothing auto-issued
        (0.99, False, True, 0.9, "auto"),
        (0.89, False, True, 0.9, "review"),
        (0.99, True, True, 0.9, "review"),  # review_all wins
    ],
)
def test_route(confidence, review_all, enabled, threshold, expected):
    assert (
        route(confidence=confidence, review_all=review_all, auto_enabled=enabled, threshold=threshold)
        == expected
    )


def _confirm(client, headers, fine_id):
    assert client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=headers).status_code == 200
    response = client.post(
        f"/api/v1/review/cases/{fine_id}/decision", headers=headers, json={"action": "confirm"}
    )
    assert response.status_code == 200, response.text


def _attach(client, headers, fine_id):
    response = client.post(
        f"/api/v1/review/cases/{fine_id}/subject",
        headers=headers,
        json={"national_id": "900101300123", "basis": "ID card shown to the inspector"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_repeat_offence_escalates_only_inside_twelve_months(client, actors, new_case, session):
    LocalSubjectRegistry().register(session, national_id="900101300123", full_name="Test Person")
    session.commit()
    first = new_case(onset=datetime(2025, 3, 1, 9, tzinfo=UTC))
    _confirm(client, actors.reviewer, first)
    first_fine = _attach(client, actors.reviewer, first)
    assert first_fine["repeat_offence"] is False and first_fine["has_subject"] is True

    inside = new_case(onset=datetime(2026, 2, 28, 9, tzinfo=UTC))  # 11 months 27 days later
    escalated = _attach(client, actors.reviewer, inside)
    assert escalated["repeat_offence"] is True
    assert escalated["amount_mrp"] == 20 and escalated["amount_kzt"] == 20 * 4325

    outside = new_case(onset=datetime(2026, 3, 1, 9, 0, 1, tzinfo=UTC))  # 12 months + 1 s after `first`
    # `inside` is still pending (not an offence yet), so only `first` counts, and it is out of the window
    plain = _attach(client, actors.reviewer, outside)
    assert plain["repeat_offence"] is False and plain["amount_kzt"] == 43_250
    # identity stays out of the public model
    assert "national_id" not in str(plain) and "Test Person" not in str(plain)
    assert session.exec(select(Subject)).one().full_name == "Test Person"


def test_unknown_subject_is_404(client, actors, new_case):
    fine_id = new_case()
    response = client.post(
        f"/api/v1/review/cases/{fine_id}/subject",
        headers=actors.reviewer,
        json={"national_id": "000000000000", "basis": "said so"},
    )
    assert response.status_code == 404


def test_admin_enables_auto_issue_and_it_is_audited(client, actors, new_case, session, snapshot_bytes):
    assert client.get("/api/v1/admin/policy", headers=actors.admin).json() == []
    low_before = new_case(confidence=0.99)
    assert session.get(Fine, low_before).status == "pending_review"  # default: review everything
    response = client.put(
        "/api/v1/admin/policy/littering", headers=actors.admin, json={"enabled": True, "threshold": 0.9}
    )
    assert response.status_code == 200
    auto = new_case(confidence=0.95)
    manual = new_case(confidence=0.85)
    assert session.get(Fine, auto).status == "auto_issued" and session.get(Fine, auto).route == "auto"
    assert session.get(Fine, manual).status == "pending_review"
    actions = [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()]
    assert "policy.auto_issue" in actions and actions.count("auto_issue") == 1
    # auto-issued fines stay overridable: a reviewer can open and reject one
    client.post(f"/api/v1/review/cases/{auto}/claim", headers=actors.reviewer)
    rejected = client.post(
        f"/api/v1/review/cases/{auto}/decision",
        headers=actors.reviewer,
        json={"action": "reject", "reason_code": "detector_error", "reason_text": "It is a leaf"},
    )
    assert rejected.status_code == 200 and rejected.json()["fine"]["status"] == "rejected"
    assert session.exec(select(Violation)).all().__len__() == 3


def test_review_all_forces_review(tmp_path, db_url, snapshot_bytes):
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from api import bootstrap
    from api.app import create_app
    from api.settings import Settings
    from tests.api.conftest import SECRET, make_record, post, register_test_key

    app = create_app(
        Settings(data_dir=tmp_path / "d", database_url=db_url, secret_key=SECRET, review_all=True)
    )
    with Session(app.state.engine) as session:
        bootstrap.set_auto_issue(
            session, violation_type="littering", enabled=True, threshold=0.5, actor="test"
        )
        _, token = bootstrap.register_camera(session, camera_id="cam-1")
        register_test_key(session, "cam-1")
    files = {"s.jpg": snapshot_bytes}
    with TestClient(app) as client:
        response = post(
            client, {"Authorization": f"Bearer {token}"}, make_record(files=files, confidence=0.99), files
        )
    assert response.status_code == 201 and response.json()["status"] == "pending_review"
    app.state.engine.dispose()


def test_record_flagged_review_required_is_never_auto_issued(client, actors, session, snapshot_bytes):
    """A littering proposal the litter model did not verify carries thresholds['review.required'] = 1."""
    from tests.api.conftest import make_record, post

    client.put(
        "/api/v1/admin/policy/littering", headers=actors.admin, json={"enabled": True, "threshold": 0.5}
    )
    files = {"snapshot.jpg": snapshot_bytes}
    statuses = []
    for flag in (1.0, 0.0):
        record = make_record(files=files, confidence=0.99)
        record["thresholds"]["review.required"] = flag
        response = post(client, actors.camera, record, files)
        assert response.status_code == 201, response.text
        statuses.append(session.get(Fine, response.json()["fine_id"]).status)
    assert statuses == ["pending_review", "auto_issued"]
