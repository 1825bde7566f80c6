"""A real fine service (uvicorn + create_app, temp SQLite, temp evidence dir) and Debian's Chromium.

Cases are seeded through the real intake endpoint with real evidence: a vtest.avi frame with the offender box
and a zone drawn on it (as the camera draws them) and a short H.264 MP4 from the camera's own encoder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from sqlmodel import Session

from api import bootstrap
from api.app import create_app
from api.settings import Settings
from autofine.contract import INTAKE_PATH
from tests.live_server import serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
PASSWORDS = {"admin": "admin-pass-1", "alice": "alice-pass-1", "bob": "bob-pass-12"}
OFFENDER_BOX = (300.0, 180.0, 360.0, 330.0)  # a walker in vtest.avi frame 120 (768×576)
ZONE = np.array([[0, 260], [768, 230], [768, 330], [0, 370]], dtype=np.int32)


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if "tests/web/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


# ---------------------------------------------------------------- evidence made from the real sample video
@dataclass(frozen=True)
class Media:
    snapshot: bytes
    clip: bytes


def _frames(vtest_path: Path, start: int, count: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(vtest_path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, start)
    frames = []
    for _ in range(count):
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == count, f"vtest.avi gave {len(frames)} of {count} frames"
    return frames


def _annotate(frame: np.ndarray) -> np.ndarray:
    """What the camera's evidence stage draws: zone overlay, offender box, AI label."""
    image = frame.copy()
    overlay = image.copy()
    cv2.fillPoly(overlay, [ZONE], (60, 60, 220))
    image = cv2.addWeighted(overlay, 0.25, image, 0.75, 0)
    cv2.polylines(image, [ZONE], True, (60, 60, 220), 2)
    x1, y1, x2, y2 = (int(v) for v in OFFENDER_BOX)
    cv2.rectangle(image, (x1, y1), (x2, y2), (0, 200, 255), 2)
    cv2.putText(image, "jaywalking 0.87", (x1, y1 - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 200, 255), 1)
    cv2.putText(image, "AI-detected (autofine)", (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (255, 255, 255), 2)
    return image


@pytest.fixture(scope="session")
def media(vtest_path: Path, tmp_path_factory) -> Media:
    from vision.evidence import encode_h264  # the camera's own clip writer (PyAV, libx264, faststart)

    frames = _frames(vtest_path, 110, 20)
    ok, jpeg = cv2.imencode(".jpg", _annotate(frames[10]), [cv2.IMWRITE_JPEG_QUALITY, 88])
    assert ok
    clip_path = tmp_path_factory.mktemp("media") / "clip.mp4"
    encode_h264([cv2.resize(f, (384, 288)) for f in frames], clip_path, fps=10.0, crf=30)
    return Media(snapshot=jpeg.tobytes(), clip=clip_path.read_bytes())


# ---------------------------------------------------------------- the service
@dataclass
class Service:
    url: str
    app: object
    camera_token: str

    def session(self) -> Session:
        return Session(self.app.state.engine, expire_on_commit=False)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'web.sqlite3'}",
        secret_key="web-test-secret-0123456789",
        claim_lease_seconds=600,
        require_signatures=False,  # seeded records are unsigned; signatures: tests/api/test_signatures.py
    )
    app = create_app(settings)
    with Session(app.state.engine, expire_on_commit=False) as session:
        bootstrap.create_user(session, username="admin", password=PASSWORDS["admin"], role="admin")
        bootstrap.create_user(session, username="alice", password=PASSWORDS["alice"], role="reviewer")
        bootstrap.create_user(session, username="bob", password=PASSWORDS["bob"], role="reviewer")
        _, token = bootstrap.register_camera(
            session, camera_id="almaty-abay-01", name="Abay ave / Dostyk", address="Abay ave 52, Almaty"
        )
    with serve(app) as url:
        yield Service(url=url, app=app, camera_token=token)
    app.state.engine.dispose()


def _record(media: Media, *, violation_type: str, confidence: float, onset: datetime, camera_id: str) -> dict:
    boxes = []
    for i in range(12):
        score = min(1.0, 0.55 + 0.04 * i) if i < 10 else 0.9
        boxes.append(
            {
                "frame_index": 110 + 2 * i,
                "timestamp": (onset + timedelta(seconds=0.2 * i)).isoformat(),
                "xyxy": [OFFENDER_BOX[0] + 3 * i, OFFENDER_BOX[1], OFFENDER_BOX[2] + 3 * i, OFFENDER_BOX[3]],
                "confidence": round(0.62 + 0.3 * np.sin(i / 4) ** 2, 3),
                "rule_score": round(score if i >= 2 else 0.0, 3),
            }
        )
    files = {
        "snapshot.jpg": (media.snapshot, "snapshot", "image/jpeg"),
        "clip.mp4": (media.clip, "clip", "video/mp4"),
    }
    return {
        "camera_id": camera_id,
        "incident_id": uuid.uuid4().hex,
        "violation_type": violation_type,
        "onset": onset.isoformat(),
        "confirmed_at": (onset + timedelta(seconds=2.4)).isoformat(),
        "track_id": 17,
        "confidence": confidence,
        "boxes": boxes,
        "zones": ["roadway"],
        "model": {
            "id": "yolox-nano",
            "version": "0.1.0",
            "sha256": hashlib.sha256(b"yolox-nano").hexdigest(),
        },
        "config_hash": hashlib.sha256(b"cameras/vtest.yaml").hexdigest(),
        "thresholds": {"detector_confidence": 0.4, "violation_confidence": 0.6},
        "software_version": "0.1.0",
        "location": {"address": "Abay ave 52, Almaty", "latitude": 43.2389, "longitude": 76.9455},
        "redaction": {"method": "gaussian-blur", "regions": 4},
        "evidence": [
            {
                "name": name,
                "kind": kind,
                "media_type": media_type,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
            for name, (data, kind, media_type) in files.items()
        ],
    }, files


SeedCase = Callable[..., int]


@pytest.fixture
def seed_case(service: Service, media: Media) -> SeedCase:
    """Post one violation through the real intake endpoint; returns the new case (fine) id."""
    counter = iter(range(10_000))

    def _seed(
        violation_type: str = "jaywalking",
        confidence: float = 0.87,
        camera_id: str = "almaty-abay-01",
        onset: datetime | None = None,
    ) -> int:
        onset = onset or datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(minutes=7 * next(counter))
        record, files = _record(
            media, violation_type=violation_type, confidence=confidence, onset=onset, camera_id=camera_id
        )
        response = httpx.post(
            service.url + INTAKE_PATH,
            data={"record": json.dumps(record)},
            files={name: (name, data, mt) for name, (data, _, mt) in files.items()},
            headers={"Authorization": f"Bearer {service.camera_token}"},
            timeout=30,
        )
        assert response.status_code == 201, response.text
        return response.json()["fine_id"]

    return _seed


# ---------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def browser():
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (scripts/test.sh does it in CI)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser, service: Service):
    """`new_page(width, height)` → a page in a fresh browser context (its own cookies)."""
    contexts = []

    def _make(width: int = 1366, height: int = 768):
        context = browser.new_context(viewport={"width": width, "height": height}, base_url=service.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield _make
    for context in contexts:
        context.close()


def login(page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/queue")


REPO_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
