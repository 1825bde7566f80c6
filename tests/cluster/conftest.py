"""Shared pieces for the Ray tests: 4 camera configs, single-machine reference runs, a real service, and
one local Ray cluster (`ray.init(num_cpus=2)`, loopback) for the whole session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.conftest import REPO, Service

pytest.importorskip("ray", reason="needs the cluster extra: pip install -e '.[cluster]'")

VTEST_FRAMES = 100  # 20 s of vtest.avi at 5 analysed fps: a few jaywalking incidents per camera
VTEST_IDS = ("vt_a", "vt_b", "vt_c")
LITTER_ID = "litter_1"
MAX_FRAMES = 100  # di_bo_1 has 63 analysed frames, so it runs whole


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def camera_configs(tmp_path_factory, vtest_path: Path, yolox_nano_path: Path, shared_dir: Path) -> list[Path]:
    """3 copies of cameras/vtest.yaml (YOLOX-Nano) and the littering clip di_bo_1, each its own camera id."""
    folder = tmp_path_factory.mktemp("cameras")
    vtest = yaml.safe_load((REPO / "cameras" / "vtest.yaml").read_text())
    litter = yaml.safe_load((REPO / "cameras" / "di_bo_1.yaml").read_text())
    paths = []
    for camera_id in VTEST_IDS:
        data = vtest | {
            "camera_id": camera_id,
            "source": str(vtest_path),
            "model": "yolox-nano",
            "model_path": str(yolox_nano_path),
        }
        paths.append(_write(folder / f"{camera_id}.yaml", data))
    data = litter | {
        "camera_id": LITTER_ID,
        "source": str(shared_dir / "video" / "di_bo_1.mp4"),
        "model_path": str(yolox_nano_path),
    }
    paths.append(_write(folder / f"{LITTER_ID}.yaml", data))
    return paths


@pytest.fixture(scope="session")
def reference_keys(camera_configs: list[Path]) -> dict[str, list[str]]:
    """What 4 separate single-machine runs emit (plain Python, no Ray): idempotency keys per camera."""
    from vision.cluster import CameraWorker, ClusterSettings

    settings = ClusterSettings(max_frames=VTEST_FRAMES).model_dump_json()
    out = {}
    for path in camera_configs:
        result = CameraWorker(str(path), settings).run()
        out[result.camera_id] = list(result.violations)
    return out


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    from vision.cluster import ClusterSettings, connect, shutdown

    connect(ClusterSettings(address="local", num_cpus=2))
    yield
    shutdown()


class ClusterService(Service):
    """The real `autofine serve` with every test camera registered; unsigned test records accepted."""

    def __init__(self, data_dir: Path, camera_ids: list[str]) -> None:
        from sqlmodel import Session

        from api.bootstrap import ensure_camera, open_engine
        from api.settings import Settings

        super().__init__(data_dir, camera_id=camera_ids[0])
        settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{self.db_path}")
        engine = open_engine(settings)
        with Session(engine) as session:
            self.tokens = {c: ensure_camera(session, camera_id=c) for c in camera_ids}
        engine.dispose()
        self.env["AUTOFINE_REQUIRE_SIGNATURES"] = "false"

    def fines_per_violation(self) -> list[int]:
        import sqlite3

        with sqlite3.connect(self.db_path) as db:
            return [
                row[0]
                for row in db.execute(
                    "SELECT COUNT(fine.id) FROM violation LEFT JOIN fine ON fine.violation_id = violation.id"
                    " GROUP BY violation.id"
                )
            ]


@pytest.fixture
def make_cluster_service(tmp_path: Path) -> Iterator:
    services: list[ClusterService] = []

    def make(camera_ids: list[str]) -> ClusterService:
        folder = tmp_path / f"service{len(services)}"
        folder.mkdir()
        services.append(ClusterService(folder, camera_ids).start())
        return services[-1]

    yield make
    for service in services:
        service.stop()


def by_camera(keys: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key in keys:
        out.setdefault(key.split(":", 1)[0], []).append(key)
    return out


os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
