"""Read helpers behind the reviewer UI's history page and case audit trail (api.cases / api.audit)."""

from __future__ import annotations

from api import audit, cases
from api.models import Fine


def _decide(client, headers, fine_id: int, body: dict) -> None:
    assert client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=headers).status_code == 200
    response = client.post(f"/api/v1/review/cases/{fine_id}/decision", headers=headers, json=body)
    assert response.status_code == 200, response.text


def test_decision_history_newest_first_with_reviewer_names(client, actors, new_case, session):
    first = new_case(violation_type="littering")
    second = new_case(violation_type="smoking")
    untouched = new_case(violation_type="littering")
    _decide(client, actors.reviewer, first, {"action": "confirm"})
    _decide(
        client,
        actors.reviewer2,
        second,
        {"action": "reject", "reason_code": "no_violation", "reason_text": "empty hand"},
    )

    rows, count = cases.decision_history(session)
    assert count == 2 and len(rows) == 2
    assert [(r.decision.fine_id, r.decision.action, r.reviewer) for r in rows] == [
        (second, "reject", "bob"),
        (first, "confirm", "alice"),
    ]
    assert rows[0].current_status == "rejected" and rows[0].camera_id == "cam-1"
    assert rows[0].decision.reason_text == "empty hand"
    assert untouched not in {r.decision.fine_id for r in rows}

    littering, n = cases.decision_history(session, violation_type="littering")
    assert n == 1 and [r.decision.fine_id for r in littering] == [first]
    assert cases.decision_history(session, violation_type="jaywalking") == ([], 0)


def test_pending_counts_per_type(client, actors, new_case, session):
    assert cases.pending_counts(session) == {"jaywalking": 0, "littering": 0, "smoking": 0}
    new_case(violation_type="littering")
    new_case(violation_type="littering")
    decided = new_case(violation_type="smoking")
    new_case(violation_type="jaywalking")
    _decide(client, actors.reviewer, decided, {"action": "confirm"})
    assert cases.pending_counts(session) == {"jaywalking": 1, "littering": 2, "smoking": 0}


def test_trail_lists_a_cases_entries_in_order(client, actors, new_case, session):
    fine_id = new_case()
    other = new_case()
    _decide(client, actors.reviewer, fine_id, {"action": "confirm"})
    violation_id = session.get(Fine, fine_id).violation_id

    entries = audit.trail(session, targets=[f"fine:{fine_id}", f"violation:{violation_id}"])
    assert [e.action for e in entries] == ["intake", "claim", "decision.confirm"]
    assert [e.seq for e in entries] == sorted(e.seq for e in entries)
    assert all(e.target != f"fine:{other}" for e in entries)
    assert audit.trail(session, targets=[]) == []
