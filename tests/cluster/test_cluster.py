"""Cameras as Ray actors on a local cluster deliver exactly what single-machine runs deliver, and survive
their actor being killed (Ray's kill with restart, and SIGKILL of the worker process)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.cluster.conftest import LITTER_ID, VTEST_FRAMES, VTEST_IDS, by_camera
from tests.e2e.conftest import outbox_counts, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _fleet(configs: list[Path], service, outbox_dir: Path, **overrides):  # noqa: ANN001, ANN202
    from vision.cluster import CameraFleet, ClusterSettings

    settings = ClusterSettings(
        max_frames=VTEST_FRAMES,
        service_url=service.url,
        outbox_dir=outbox_dir,
        health_interval_s=0.5,
        cpus_per_camera=0.5,  # all cameras at once on this 2-core machine
        **overrides,
    )
    return CameraFleet(configs, settings, tokens=service.tokens)


def test_reference_runs_find_violations(reference_keys: dict[str, list[str]]) -> None:
    """The comparison below means something only if the single-machine runs found incidents."""
    assert set(reference_keys) == {*VTEST_IDS, LITTER_ID}
    for camera_id in VTEST_IDS:
        assert len(reference_keys[camera_id]) >= 2, reference_keys
    assert len(reference_keys[LITTER_ID]) >= 1, reference_keys
    # same clip, same config except the id: as many incidents (their ids hash the camera id in)
    assert len({len(reference_keys[c]) for c in VTEST_IDS}) == 1


def test_four_cameras_on_ray_deliver_what_four_single_runs_deliver(
    ray_cluster, camera_configs, reference_keys, make_cluster_service, tmp_path: Path
) -> None:
    service = make_cluster_service([*VTEST_IDS, LITTER_ID])
    fleet = _fleet(camera_configs, service, tmp_path / "outbox")
    fleet.start()
    try:
        results = fleet.wait()
    finally:
        fleet.stop()
    failed = {c: r for c, r in results.items() if isinstance(r, str)}
    assert not failed, failed
    delivered = by_camera(service.violation_keys())
    compared = 0
    for camera_id, expected in reference_keys.items():
        assert sorted(results[camera_id].violations) == sorted(expected)
        assert sorted(delivered.get(camera_id, [])) == sorted(expected)
        assert results[camera_id].outbox_counts["pending"] == 0
        assert outbox_counts(tmp_path / "outbox" / f"{camera_id}.sqlite3")["delivered"] == len(expected)
        compared += len(expected)
    assert compared == len(service.violation_keys()) >= 7
    assert service.fines_per_violation() == [1] * compared
    health = fleet.health
    assert {h.state for h in health.values()} == {"finished"}
    assert results["vt_a"].frames == VTEST_FRAMES and health["vt_a"].fps > 0


def _wait_mid_run(fleet, camera_id: str) -> int:  # noqa: ANN001
    """Wait until the camera has stored at least one violation and is still running; return its pid."""

    def mid() -> bool:
        health = fleet.poll()[camera_id]
        return health.state == "running" and health.stored >= 1 and health.frames < VTEST_FRAMES - 10

    wait_for(mid, timeout=300, what=f"{camera_id} mid-run with a stored violation")
    return fleet.health[camera_id].pid


def test_killed_camera_actors_restart_and_nothing_is_lost_or_duplicated(
    ray_cluster, camera_configs, reference_keys, make_cluster_service, tmp_path: Path
) -> None:
    import ray

    configs = [p for p in camera_configs if p.stem in ("vt_a", "vt_b")]
    service = make_cluster_service(["vt_a", "vt_b"])
    fleet = _fleet(configs, service, tmp_path / "outbox", max_restarts=2)
    fleet.start()
    try:
        # vt_a: Ray's own kill, restart allowed
        pid_a = _wait_mid_run(fleet, "vt_a")
        ray.kill(fleet.actors["vt_a"], no_restart=False)
        # vt_b: the worker process dies the hard way
        pid_b = _wait_mid_run(fleet, "vt_b")
        os.kill(pid_b, signal.SIGKILL)
        results = fleet.wait()
    finally:
        fleet.stop()
    failed = {c: r for c, r in results.items() if isinstance(r, str)}
    assert not failed, failed
    for camera_id, old_pid in (("vt_a", pid_a), ("vt_b", pid_b)):
        result = results[camera_id]
        assert result.health.pid != old_pid  # a new worker process ran the camera to its end
        assert result.health.restarts == 1
        assert sorted(result.violations) == sorted(reference_keys[camera_id])
        assert result.outbox_counts == {
            "pending": 0,
            "delivered": len(reference_keys[camera_id]),
            "parked": 0,
        }
        assert result.health.repeats >= 1  # the replay re-emitted what the first life had stored
    delivered = service.violation_keys()
    expected = sorted(reference_keys["vt_a"] + reference_keys["vt_b"])
    assert sorted(delivered) == expected  # nothing lost
    assert len(delivered) == len(set(delivered))  # nothing twice
    assert service.fines_per_violation() == [1] * len(expected)


def test_health_and_prometheus_text_from_named_actors(ray_cluster, camera_configs, tmp_path: Path) -> None:
    """`autofine cluster status` reads named actors from any driver; Prometheus text names every camera."""
    from vision.cluster import CameraFleet, ClusterSettings, named_camera_health, prometheus_text

    config = next(p for p in camera_configs if p.stem == LITTER_ID)
    fleet = CameraFleet([config], ClusterSettings(max_frames=20, health_interval_s=0.5))
    fleet.start()
    try:
        fleet.wait(release_finished=False)
        health = named_camera_health()
    finally:
        fleet.stop()
    assert list(health) == [LITTER_ID]
    assert health[LITTER_ID].state == "finished" and health[LITTER_ID].frames == 20
    text = prometheus_text(health)
    assert f'autofine_camera_frames_total{{camera="{LITTER_ID}",node="' in text
    assert 'autofine_camera_up{camera="litter_1"' in text and text.count("# TYPE") == 10
    deadline = time.monotonic() + 30
    while named_camera_health() and time.monotonic() < deadline:  # killed actors leave the name list
        time.sleep(0.5)
    assert named_camera_health() == {}
