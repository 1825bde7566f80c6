"""Calibrated confidence: what share of violations at a given raw confidence are real (isotonic regression).

A detector/rule confidence is a score, not a probability. Fitted on event-level evaluation results (each
reported incident scored as a true or false positive by `autofine eval events`), an isotonic map turns the raw
confidence into the precision expected at that confidence, per violation type and per model version
(a new model needs a new calibration).

Auto-issue stated as precision: a fine is issued without a human only when its calibrated confidence is at
least the admin's `min_expected_precision`; every issued fine then has an expected precision at or above it,
so the issued set does too. A type without a calibration for the model that produced the record goes to
review.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sqlmodel import Session, col, select

from api import audit
from api.bootstrap import update_auto_issue_policy
from api.db import utcnow
from api.errors import Invalid, NotFound
from api.models import AutoIssuePolicy, Calibration
from autofine.contract import VIOLATION_TYPES

MIN_EVENTS = 20  # fewer scored events than this calibrate nothing worth stating
MIN_EACH = 3  # ... and at least this many true and false positives each


@dataclass(frozen=True)
class ScoredEvent:
    violation_type: str
    confidence: float
    true_positive: bool


def scored_events(report: dict[str, Any]) -> list[ScoredEvent]:
    """Scored incidents from an `autofine eval events` report (`events.json`) or a plain `scored` list.

    Matched incidents are true positives, false positives are false; incidents in ignore spans are left out
    (the annotator could not decide). The plain form is `{"scored": [{"type", "confidence", "tp"}, ...]}`.
    """
    out: list[ScoredEvent] = []
    for item in report.get("scored", []):
        out.append(ScoredEvent(str(item["type"]), float(item["confidence"]), bool(item["tp"])))
    for clip in report.get("clips", []):
        for match in clip.get("matches", []):
            inc = match["incident"]
            out.append(ScoredEvent(str(inc["type"]), float(inc["confidence"]), True))
        for fp in clip.get("false_positives", []):
            out.append(ScoredEvent(str(fp["type"]), float(fp["confidence"]), False))
    return out


@dataclass(frozen=True)
class Curve:
    """Piecewise-linear isotonic map (sklearn's `X_thresholds_`, `y_thresholds_`)."""

    x: tuple[float, ...]
    y: tuple[float, ...]

    def __call__(self, raw: float) -> float:
        return float(np.interp(raw, self.x, self.y))  # clipped at both ends, as out_of_bounds="clip"

    def threshold_for(self, precision: float) -> float | None:
        """Lowest raw confidence whose calibrated value reaches `precision`; None if none does."""
        xs, ys = np.asarray(self.x), np.asarray(self.y)
        if ys.max() < precision:
            return None
        i = int(np.argmax(ys >= precision))
        if i == 0:
            return float(xs[0])
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return float(x0 + (precision - y0) * (x1 - x0) / (y1 - y0)) if y1 > y0 else float(x1)


def fit_curve(confidences: list[float], labels: list[bool]) -> Curve:
    """Isotonic regression (scikit-learn) of true-positive rate on raw confidence, increasing, in [0, 1]."""
    from sklearn.isotonic import IsotonicRegression

    n_tp = sum(labels)
    if len(labels) < MIN_EVENTS or n_tp < MIN_EACH or len(labels) - n_tp < MIN_EACH:
        raise Invalid(
            f"calibration needs at least {MIN_EVENTS} scored events with {MIN_EACH}+ true and false "
            f"positives each; got {len(labels)} events, {n_tp} true positives"
        )
    model = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    model.fit(np.asarray(confidences, dtype=float), np.asarray(labels, dtype=float))
    return Curve(tuple(float(v) for v in model.X_thresholds_), tuple(float(v) for v in model.y_thresholds_))


def curve_of(calibration: Calibration) -> Curve:
    return Curve(tuple(json.loads(calibration.x_thresholds)), tuple(json.loads(calibration.y_thresholds)))


def calibrated_confidence(calibration: Calibration, raw: float) -> float:
    return round(curve_of(calibration)(raw), 4)


def precision_table(curve: Curve, events: list[ScoredEvent], targets: tuple[float, ...]) -> list[dict]:
    """For each target precision: the raw threshold and what the fitted events give above it."""
    rows = []
    for target in targets:
        above = [e for e in events if curve(e.confidence) >= target]
        tp = sum(e.true_positive for e in above)
        rows.append(
            {
                "expected_precision": target,
                "raw_threshold": curve.threshold_for(target),
                "events_above": len(above),
                "observed_precision": tp / len(above) if above else None,
            }
        )
    return rows


def fit_and_store(
    session: Session,
    *,
    events: list[ScoredEvent],
    violation_type: str,
    model_id: str,
    model_version: str,
    actor: str,
    source: str = "",
    source_sha256: str = "",
) -> Calibration:
    """Fit one type's curve, store it with the model id+version, audit it."""
    if violation_type not in VIOLATION_TYPES:
        raise Invalid(f"violation_type must be one of {', '.join(VIOLATION_TYPES)}")
    mine = [e for e in events if e.violation_type == violation_type]
    curve = fit_curve([e.confidence for e in mine], [e.true_positive for e in mine])
    row = Calibration(
        violation_type=violation_type,
        model_id=model_id,
        model_version=model_version,
        x_thresholds=json.dumps(curve.x),
        y_thresholds=json.dumps(curve.y),
        events=len(mine),
        true_positives=sum(e.true_positive for e in mine),
        source=source[:500],
        source_sha256=source_sha256,
        created_by=actor,
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="calibration.fit",
        target=f"calibration:{row.id}",
        data={
            "violation_type": violation_type,
            "model": f"{model_id} {model_version}",
            "events": row.events,
            "true_positives": row.true_positives,
            "source_sha256": source_sha256,
            "points": len(curve.x),
        },
    )
    session.commit()
    return row


def load_report(path: Path) -> tuple[dict, str]:
    """An events report and its sha256 (recorded with the calibration)."""
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"{path} does not exist; produce it with `autofine eval events`")
    data = path.read_bytes()
    try:
        return json.loads(data), hashlib.sha256(data).hexdigest()
    except json.JSONDecodeError as exc:
        raise Invalid(
            f"{path} is not JSON ({exc}); expected the events.json of `autofine eval events`"
        ) from exc


def latest_calibration(
    session: Session, *, violation_type: str, model_id: str, model_version: str
) -> Calibration | None:
    return session.exec(
        select(Calibration)
        .where(
            Calibration.violation_type == violation_type,
            Calibration.model_id == model_id,
            Calibration.model_version == model_version,
        )
        .order_by(col(Calibration.id).desc())
    ).first()


def set_auto_issue_precision(
    session: Session, *, violation_type: str, min_expected_precision: float | None, actor: str
) -> AutoIssuePolicy:
    """Enable auto-issue for a type at an expected precision (needs a calibration), or turn it off (None)."""
    if violation_type not in VIOLATION_TYPES:
        raise Invalid(f"violation_type must be one of {', '.join(VIOLATION_TYPES)}")
    if min_expected_precision is not None:
        if not 0.5 <= min_expected_precision <= 1:
            raise Invalid("expected precision must be between 0.5 and 1")
        calibrated = session.exec(
            select(Calibration).where(Calibration.violation_type == violation_type)
        ).first()
        if calibrated is None:
            raise Invalid(
                f"no calibration for {violation_type}: fit one first "
                "(`autofine admin calibrate EVENTS_JSON --type ...`); until then every case goes to review"
            )
    # threshold 1.0: the raw confidence never issues on its own; only the calibrated curve does
    return update_auto_issue_policy(
        session,
        violation_type=violation_type,
        changes={
            "enabled": min_expected_precision is not None,
            "threshold": 1.0,
            "min_expected_precision": min_expected_precision,
        },
        actor=actor,
    )
