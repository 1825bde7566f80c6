from __future__ import annotations


def test_healthz_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    spec = client.get("/openapi.json").json()
    assert "/api/v1/intake/violations" in spec["paths"]
    assert (
        "multipart/form-data" in spec["paths"]["/api/v1/intake/violations"]["post"]["requestBody"]["content"]
    )


def test_metrics_count_intake_queue_and_decisions(client, actors, new_case):
    first = new_case()
    new_case(violation_type="smoking")
    client.post(f"/api/v1/review/cases/{first}/claim", headers=actors.reviewer)
    client.post(f"/api/v1/review/cases/{first}/decision", headers=actors.reviewer, json={"action": "confirm"})
    client.get("/api/v1/admin/users", headers=actors.reviewer)  # a 403
    text = client.get("/metrics").text
    assert 'autofine_intake_total{outcome="created"} 2.0' in text
    assert 'autofine_review_queue_depth{violation_type="smoking"} 1.0' in text
    assert 'autofine_review_queue_depth{violation_type="littering"} 0.0' in text
    assert 'autofine_decisions_total{action="confirm"} 1.0' in text
    assert "autofine_decision_latency_seconds_count 1.0" in text
    assert 'autofine_http_errors_total{status="403"} 1.0' in text
