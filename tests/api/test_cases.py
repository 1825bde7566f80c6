from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from api import cases
from api.db import utcnow
from api.errors import Conflict
from api.models import AuditEntry, Decision, DecisionCreate, Fine, User


def _claim(client, headers, fine_id):
    return client.post(f"/api/v1/review/cases/{fine_id}/claim", headers=headers)


def _decide(client, headers, fine_id, **body):
    return client.post(f"/api/v1/review/cases/{fine_id}/decision", headers=headers, json=body)


def test_queue_lists_filters_and_sorts(client, actors, new_case):
    low = new_case(confidence=0.55, violation_type="smoking")
    high = new_case(confidence=0.95)
    mid = new_case(confidence=0.75)
    body = client.get("/api/v1/review/cases", headers=actors.reviewer, params={"sort": "-confidence"}).json()
    assert body["count"] == 3
    assert [c["id"] for c in body["data"]] == [high, mid, low]
    only = client.get(
        "/api/v1/review/cases", headers=actors.reviewer, params={"violation_type": "smoking"}
    ).json()
    assert [c["id"] for c in only["data"]] == [low]
    ranged = client.get(
        "/api/v1/review/cases", headers=actors.reviewer, params={"min_confidence": 0.7, "max_confidence": 0.9}
    ).json()
    assert [c["id"] for c in ranged["data"]] == [mid]
    assert (
        client.get("/api/v1/review/cases", headers=actors.reviewer, params={"camera_id": "x"}).json()["count"]
        == 0
    )


def test_fines_listing_defaults_to_every_status_newest_first(client, actors, new_case):
    onset = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    first, second, third = (
        new_case(confidence=c, onset=onset + timedelta(minutes=i)) for i, c in enumerate((0.65, 0.95, 0.75))
    )
    assert _claim(client, actors.reviewer, second).status_code == 200
    assert _decide(client, actors.reviewer, second, action="confirm").status_code == 200

    queue = client.get("/api/v1/review/cases", headers=actors.reviewer).json()
    assert [c["id"] for c in queue["data"]] == [first, third]
    fines = client.get("/api/v1/fines", headers=actors.reviewer).json()
    assert fines["count"] == 3
    assert [c["id"] for c in fines["data"]] == [third, second, first]
    confirmed = client.get("/api/v1/fines", headers=actors.reviewer, params={"status": "confirmed"}).json()
    assert [c["id"] for c in confirmed["data"]] == [second]
    ranged = client.get(
        "/api/v1/fines", headers=actors.reviewer, params={"min_confidence": 0.7, "sort": "confidence"}
    ).json()
    assert [c["id"] for c in ranged["data"]] == [third, second]


def test_confirm_flow_labels_the_fine(client, actors, new_case):
    fine_id = new_case()
    assert _claim(client, actors.reviewer, fine_id).json()["claimed_by"] == "alice"
    response = _decide(client, actors.reviewer, fine_id, action="confirm")
    assert response.status_code == 200, response.text
    fine = response.json()["fine"]
    assert fine["status"] == "confirmed" and fine["human_confirmed"] is True
    provenance = fine["provenance"]
    assert provenance["generated_by_ai"] is True and provenance["confirmed_by"] == "alice"
    assert provenance["model_id"] == "yolox-nano" and provenance["model_sha256"] == "c" * 64
    assert provenance["thresholds"] == {"detector_confidence": 0.4, "violation_confidence": 0.6}
    assert "искусственного интеллекта" in fine["notice"]["ru"] and "жасанды интеллект" in fine["notice"]["kk"]
    assert "artificial-intelligence" in fine["notice"]["en"] and "contest" in fine["notice"]["en"]
    # decided cases leave the queue and cannot be decided again
    assert client.get("/api/v1/review/cases", headers=actors.reviewer).json()["count"] == 0
    assert _claim(client, actors.reviewer, fine_id).status_code == 409


def test_decision_requires_own_live_claim(client, actors, new_case):
    fine_id = new_case()
    assert _decide(client, actors.reviewer, fine_id, action="confirm").status_code == 409
    assert _claim(client, actors.reviewer, fine_id).status_code == 200
    assert _claim(client, actors.reviewer2, fine_id).status_code == 409  # held by alice
    assert _decide(client, actors.reviewer2, fine_id, action="confirm").status_code == 409


def test_reject_needs_listed_reason_and_text(client, actors, new_case, session):
    fine_id = new_case()
    _claim(client, actors.reviewer, fine_id)
    assert _decide(client, actors.reviewer, fine_id, action="reject").status_code == 422
    assert (
        _decide(
            client, actors.reviewer, fine_id, action="reject", reason_code="made_up", reason_text="x"
        ).status_code
        == 422
    )
    assert (
        _decide(client, actors.reviewer, fine_id, action="reject", reason_code="no_violation").status_code
        == 422
    )
    ok = _decide(
        client,
        actors.reviewer,
        fine_id,
        action="reject",
        reason_code="no_violation",
        reason_text="Bag was picked up",
    )
    assert ok.status_code == 200 and ok.json()["fine"]["status"] == "rejected"
    assert ok.json()["fine"]["human_confirmed"] is False
    decision = session.exec(select(Decision)).one()
    assert (decision.reason_code, decision.reason_text) == ("no_violation", "Bag was picked up")


def test_override_changes_type_and_amount_with_reason(client, actors, new_case):
    fine_id = new_case(violation_type="littering")
    _claim(client, actors.reviewer, fine_id)
    no_reason = _decide(client, actors.reviewer, fine_id, action="override", new_type="smoking")
    assert no_reason.status_code == 422
    response = _decide(
        client,
        actors.reviewer,
        fine_id,
        action="override",
        new_type="smoking",
        reason_code="wrong_type",
        reason_text="He is smoking, the bag is his lunch",
    )
    assert response.status_code == 200, response.text
    fine = response.json()["fine"]
    assert fine["status"] == "overridden" and fine["violation_type"] == "smoking"
    assert fine["amount_kzt"] == 5 * 4325
    decision = response.json()["decision"]
    assert (decision["previous_type"], decision["previous_amount_kzt"]) == ("littering", 43_250)


def test_expired_claim_returns_to_the_queue(app, actors, new_case, session):
    fine_id = new_case()
    alice = session.exec(select(User).where(User.username == "alice")).one()
    bob = session.exec(select(User).where(User.username == "bob")).one()
    start = utcnow()
    cases.claim(session, fine_id=fine_id, reviewer=alice, lease_seconds=60, now=start)
    with pytest.raises(Conflict):
        cases.claim(
            session, fine_id=fine_id, reviewer=bob, lease_seconds=60, now=start + timedelta(seconds=59)
        )
    later = start + timedelta(seconds=61)
    listed, _ = cases.list_cases(session, cases.CaseFilter())
    assert [c.id for c in listed] == [fine_id]
    cases.claim(session, fine_id=fine_id, reviewer=bob, lease_seconds=60, now=later)
    # alice's lease is gone: her decision is refused, bob's goes through
    with pytest.raises(Conflict):
        cases.decide(
            session,
            fine_id=fine_id,
            reviewer=alice,
            decision=DecisionCreate(action="confirm"),
            schedule=app.state.schedule,
            now=later + timedelta(seconds=1),
        )
    fine, _ = cases.decide(
        session,
        fine_id=fine_id,
        reviewer=bob,
        decision=DecisionCreate(action="confirm"),
        schedule=app.state.schedule,
        now=later + timedelta(seconds=2),
    )
    assert fine.status == "confirmed" and fine.decided_by_id == bob.id
    actions = [e.action for e in session.exec(select(AuditEntry).order_by(AuditEntry.seq)).all()]
    assert actions[-3:] == ["claim", "claim", "decision.confirm"]


def _race(base_url: str, requests: list[tuple[str, dict, dict | None]]) -> list[int]:
    """Fire the requests at the same moment from separate threads; return status codes in order."""
    barrier = threading.Barrier(len(requests))
    codes: list[int] = [0] * len(requests)

    def send(i: int, path: str, headers: dict, body: dict | None) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            barrier.wait()
            codes[i] = http.post(path, headers=headers, json=body).status_code

    threads = [threading.Thread(target=send, args=(i, *req)) for i, req in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return codes


def test_concurrent_claims_and_decisions_one_wins(live_server, actors, new_case, session):
    rounds = 3
    for _ in range(rounds):
        fine_id = new_case()
        claim = f"/api/v1/review/cases/{fine_id}/claim"
        codes = _race(live_server, [(claim, actors.reviewer, None), (claim, actors.reviewer2, None)])
        assert sorted(codes) == [200, 409], codes
        holder = actors.reviewer if codes[0] == 200 else actors.reviewer2
        decide = f"/api/v1/review/cases/{fine_id}/decision"
        codes = _race(
            live_server,
            [
                (decide, holder, {"action": "confirm"}),
                (decide, holder, {"action": "reject", "reason_code": "other", "reason_text": "second tab"}),
            ],
        )
        assert sorted(codes) == [200, 409], codes
        session.expire_all()
        assert len(session.exec(select(Decision).where(Decision.fine_id == fine_id)).all()) == 1
        assert session.get(Fine, fine_id).status in ("confirmed", "rejected")
