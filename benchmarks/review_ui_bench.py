"""Reviewer UI benchmark: server time to render the queue, a case page (which claims it) and history.

Builds a temp SQLite service with `create_app`, seeds N cases through the real intake endpoint (a COCO128
JPEG as the snapshot), logs in through the web form (with its CSRF token), then times GET /queue (50 rows,
counts per type), GET /queue filtered, GET /cases/<id> and GET /history in-process (Starlette TestClient, no
network). Writes `benchmarks/results/review_ui.json` and `.md`. Not part of the test suite.

    nice -n 19 .venv/bin/python benchmarks/review_ui_bench.py --cases 500 --repeat 30
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import re
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fastapi.testclient import TestClient  # noqa: E402
from sqlmodel import Session  # noqa: E402

from api import bootstrap  # noqa: E402
from api.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402

RESULTS = REPO / "benchmarks" / "results"
JPEG = REPO.parent / "shared" / "datasets" / "coco128" / "images" / "train2017" / "000000000009.jpg"


def _record(i: int, data: bytes) -> dict:
    onset = datetime(2026, 3, 1, 8, 0, tzinfo=UTC) + timedelta(minutes=3 * i)
    return {
        "camera_id": "bench-cam",
        "incident_id": uuid.uuid4().hex,
        "violation_type": ("jaywalking", "littering", "smoking")[i % 3],
        "onset": onset.isoformat(),
        "confirmed_at": (onset + timedelta(seconds=3)).isoformat(),
        "track_id": i,
        "confidence": 0.5 + (i % 50) / 100,
        "boxes": [
            {
                "frame_index": k,
                "timestamp": (onset + timedelta(seconds=0.2 * k)).isoformat(),
                "xyxy": [10.0, 20.0, 110.0, 220.0],
                "confidence": 0.8,
                "rule_score": 0.7,
            }
            for k in range(15)
        ],
        "model": {"id": "yolox-nano", "version": "0.1", "sha256": "c" * 64},
        "config_hash": "d" * 64,
        "thresholds": {"detector_confidence": 0.4},
        "software_version": "0.1.0",
        "redaction": {"method": "gaussian-blur", "regions": 1},
        "evidence": [
            {
                "name": "snapshot.jpg",
                "kind": "snapshot",
                "media_type": "image/jpeg",
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
        ],
    }


def _timed(client: TestClient, url: str, repeat: int) -> dict:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    samples.sort()
    return {
        "url": url,
        "p50_ms": round(statistics.median(samples), 1),
        "p90_ms": round(samples[int(0.9 * (len(samples) - 1))], 1),
        "bytes": len(response.content),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    data = JPEG.read_bytes()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp), secret_key="bench-secret-0123456789", require_signatures=False
        )
        app = create_app(settings)
        with Session(app.state.engine) as session:
            bootstrap.create_user(session, username="alice", password="alice-pass-1", role="reviewer")
            _, token = bootstrap.register_camera(session, camera_id="bench-cam")
        with TestClient(app) as client:
            seed_start = time.perf_counter()
            for i in range(args.cases):
                response = client.post(
                    "/api/v1/intake/violations",
                    data={"record": json.dumps(_record(i, data))},
                    files={"snapshot.jpg": ("snapshot.jpg", data, "image/jpeg")},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 201, response.text
            seed_s = time.perf_counter() - seed_start
            login = client.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
            response = client.post(
                "/login",
                data={"csrf_token": csrf, "username": "alice", "password": "alice-pass-1", "next": "/queue"},
                follow_redirects=False,
            )
            assert response.status_code == 303, response.text
            pages = [
                _timed(client, "/queue", args.repeat),
                _timed(client, "/queue?type=littering&min_conf=0.7&sort=-confidence", args.repeat),
                _timed(client, "/cases/1", args.repeat),
                _timed(client, "/history", args.repeat),
            ]
        app.state.engine.dispose()
    result = {
        "cases": args.cases,
        "repeat": args.repeat,
        "seed_seconds": round(seed_s, 1),
        "pages": pages,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "review_ui.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Reviewer UI render times ({args.cases} cases, SQLite, in-process, {args.repeat} requests each)",
        "",
        "| page | p50 ms | p90 ms | HTML bytes |",
        "|---|---:|---:|---:|",
        *[f"| `{p['url']}` | {p['p50_ms']} | {p['p90_ms']} | {p['bytes']} |" for p in pages],
        "",
        f"Measured {result['measured_at']} with `benchmarks/review_ui_bench.py --cases {args.cases}`.",
    ]
    (RESULTS / "review_ui.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
