"""The driver's Prometheus endpoint serves every camera's health (hand-made values, no Ray needed)."""

from __future__ import annotations

import httpx

from vision.cluster import CameraHealth, MetricsServer, prometheus_text


def test_metrics_endpoint_serves_each_camera_and_skips_unknown_lag() -> None:
    health = {
        "a": CameraHealth(camera_id="a", state="running", node_ip="10.0.0.2", fps=4.5, outbox_pending=3),
        "b": CameraHealth(camera_id="b", state="unreachable", lag_s=None, stranded_pending=2),
    }
    server = MetricsServer(port=0).start()
    try:
        server.health = health
        response = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=5)
        missing = httpx.get(f"http://127.0.0.1:{server.port}/", timeout=5)
    finally:
        server.stop()
    assert response.status_code == 200 and missing.status_code == 404
    text = response.text
    assert text == prometheus_text(health)
    assert 'autofine_camera_fps{camera="a",node="10.0.0.2"} 4.5' in text
    assert 'autofine_camera_outbox_pending{camera="a",node="10.0.0.2"} 3' in text
    assert 'autofine_camera_up{camera="b",node=""} 0' in text
    assert 'autofine_camera_outbox_stranded{camera="b",node=""} 2' in text
    assert "autofine_camera_lag_seconds{" not in text  # unknown lag is left out, not reported as 0
