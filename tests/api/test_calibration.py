"""Calibrated confidence: isotonic fit on scored events keeps the precision it promises; auto-issue by it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlmodel import select

from api.bootstrap import set_auto_issue
from api.calibration import (
    curve_of,
    fit_and_store,
    fit_curve,
    scored_events,
    set_auto_issue_precision,
)
from api.errors import Invalid
from api.models import AuditEntry, AutoIssuePolicy
from tests.api.conftest import make_record, post


def _true_rate(raw: np.ndarray) -> np.ndarray:
    """How often a violation at this raw confidence is real (not the score itself: scores overstate it)."""
    return np.clip((raw - 0.3) / 0.7, 0, 1) ** 2


def _events_report(n: int, seed: int) -> dict:
    """Scored events in the shape `autofine eval events` writes (clips -> matches / false_positives)."""
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.3, 1.0, n)
    real = rng.uniform(0, 1, n) < _true_rate(raw)
    matches, fps = [], []
    for i, (score, tp) in enumerate(zip(raw, real, strict=True)):
        incident = {"incident_id": f"i{i}", "type": "littering", "confidence": round(float(score), 4)}
        if tp:
            matches.append({"event": {"type": "littering"}, "incident": incident})
        else:
            fps.append({"reason": "no event", **incident})
    return {"kind": "event-accuracy", "clips": [{"matches": matches, "false_positives": fps}]}


@pytest.mark.parametrize("target", [0.8, 0.9, 0.95])
def test_calibration_gives_the_precision_it_promises(target):
    train = scored_events(_events_report(4000, seed=1))
    assert len(train) == 4000 and 0 < sum(e.true_positive for e in train) < 4000
    curve = fit_curve([e.confidence for e in train], [e.true_positive for e in train])
    # calibrated values are monotone and probabilities
    assert (
        all(a <= b for a, b in zip(curve.y, curve.y[1:], strict=False))
        and 0 <= curve.y[0] <= curve.y[-1] <= 1
    )
    threshold = curve.threshold_for(target)
    assert threshold is not None and curve(threshold) >= target - 1e-9

    # on fresh events from the same camera: the auto-issued ones (calibrated >= target) are that precise
    test = scored_events(_events_report(4000, seed=2))
    issued = [e for e in test if curve(e.confidence) >= target]
    precision = sum(e.true_positive for e in issued) / len(issued)
    assert len(issued) >= 150, len(issued)
    assert precision >= target - 0.03, (target, precision, len(issued))
    # ... while the raw score taken at face value would promise too much
    naive = [e for e in test if e.confidence >= target]
    assert sum(e.true_positive for e in naive) / len(naive) < target


def test_too_few_events_calibrate_nothing():
    with pytest.raises(Invalid, match="at least 20 scored events"):
        fit_curve([0.9] * 10, [True] * 10)


def test_auto_issue_by_expected_precision(client, actors, session, snapshot_bytes):
    files = {"snapshot.jpg": snapshot_bytes}
    with pytest.raises(Invalid, match="no calibration for littering"):
        set_auto_issue_precision(session, violation_type="littering", min_expected_precision=0.9, actor="t")
    row = fit_and_store(
        session,
        events=scored_events(_events_report(2000, seed=3)),
        violation_type="littering",
        model_id="yolox-nano",
        model_version="0.1",  # what make_record's camera ran
        actor="test",
    )
    assert row.events == 2000
    policy = set_auto_issue_precision(
        session, violation_type="littering", min_expected_precision=0.9, actor="t"
    )
    assert policy.enabled and policy.min_expected_precision == 0.9
    curve = curve_of(row)

    high = post(client, actors.camera, make_record(files=files, confidence=0.99), files).json()
    low = post(client, actors.camera, make_record(files=files, confidence=0.9), files).json()
    assert (high["status"], low["status"]) == ("auto_issued", "pending_review")
    fine = client.get(f"/api/v1/review/cases/{high['fine_id']}", headers=actors.reviewer).json()["fine"]
    # reviewers see both numbers
    assert fine["confidence"] == 0.99
    assert fine["calibrated_confidence"] == pytest.approx(curve(0.99), abs=1e-4)
    assert fine["calibrated_confidence"] >= 0.9 and fine["calibration_id"] == row.id
    low_fine = client.get(f"/api/v1/review/cases/{low['fine_id']}", headers=actors.reviewer).json()["fine"]
    assert low_fine["calibrated_confidence"] < 0.9 < low_fine["confidence"] + 1e-9

    # a record from another model version has no calibration: review, whatever its raw confidence
    other = make_record(files=files, confidence=0.999)
    other["model"]["version"] = "0.2"
    assert post(client, actors.camera, other, files).json()["status"] == "pending_review"

    # a raw threshold set afterwards replaces the precision target (it would otherwise be ignored)
    raw = set_auto_issue(session, violation_type="littering", enabled=True, threshold=0.999, actor="t")
    assert raw.min_expected_precision is None and raw.threshold == 0.999
    assert post(client, actors.camera, make_record(files=files, confidence=0.99), files).json()["status"] == (
        "pending_review"  # 0.99 < 0.999; under the precision target it was auto-issued
    )
    set_auto_issue_precision(session, violation_type="littering", min_expected_precision=None, actor="t")
    assert session.get(AutoIssuePolicy, "littering").enabled is False
    assert post(client, actors.camera, make_record(files=files, confidence=0.99), files).json()["status"] == (
        "pending_review"
    )
    actions = [e.action for e in session.exec(select(AuditEntry)).all()]
    assert actions.count("policy.auto_issue") == 3 and actions.count("calibration.fit") == 1


def test_cli_calibrate(settings, session, tmp_path):
    from typer.testing import CliRunner

    from autofine.cli.admin import app as admin_app

    report = tmp_path / "events.json"
    report.write_text(json.dumps(_events_report(1500, seed=4)))
    db = settings.resolved_database_url
    result = CliRunner().invoke(
        admin_app,
        [
            "calibrate",
            str(report),
            "--type",
            "littering",
            "--model-id",
            "m",
            "--model-version",
            "1",
            "--db",
            db,
        ],
        env={"AUTOFINE_DATA_DIR": str(settings.data_dir)},
    )
    assert result.exit_code == 0, result.output
    assert "1500 events" in result.output
    assert "expected precision 0.90: raw confidence >= 0.9" in result.output
    on = CliRunner().invoke(
        admin_app,
        ["auto-issue-precision", "littering", "--precision", "0.9", "--db", db],
        env={"AUTOFINE_DATA_DIR": str(settings.data_dir)},
    )
    assert on.exit_code == 0 and "expected precision >= 0.9" in on.output
