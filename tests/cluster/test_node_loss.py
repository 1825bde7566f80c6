"""A Ray node that leaves: its camera moves to another node, and the violations still pending in the
camera's outbox there are either delivered (outbox on storage that survives the node) or counted and
reported as stranded (node-local outbox, the default).

Two Ray nodes on this one machine with `ray.cluster_utils.Cluster` (Ray's own multi-node test utility):
a head node and node2, each with its own `AUTOFINE_OUTBOX_DIR` (its "local disk"). The camera is pinned
to node2 with a soft node affinity, runs a short clip while the service is DOWN (so its violations stay
pending), then node2 is removed. Ray restarts the camera on the head node; the service comes up.

This module shuts down the session's local Ray cluster (other files' `ray_cluster` fixture) and runs last
in this folder (file order); run it alone or after them, not before.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.cluster.conftest import ClusterService
from tests.e2e.conftest import REPO, outbox_counts, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]

CAMERA = "nl_cam"
FRAMES = 40  # 8 s of vtest at 5 analysed fps: 4 jaywalking incidents with YOLOX-Nano


@dataclass
class TwoNodes:
    cluster: object
    head_id: str
    head_outbox: Path
    root: Path


@pytest.fixture(scope="module")
def camera_config(tmp_path_factory, vtest_path: Path, yolox_nano_path: Path) -> Path:
    data = yaml.safe_load((REPO / "cameras" / "vtest.yaml").read_text()) | {
        "camera_id": CAMERA,
        "source": str(vtest_path),
        "model": "yolox-nano",
        "model_path": str(yolox_nano_path),
    }
    path = tmp_path_factory.mktemp("nl_cameras") / f"{CAMERA}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def reference(camera_config: Path) -> list[str]:
    """What a single-machine run of the same clip emits (plain Python, no Ray)."""
    from vision.cluster import CameraWorker, ClusterSettings

    result = CameraWorker(str(camera_config), ClusterSettings(max_frames=FRAMES).model_dump_json()).run()
    assert len(result.violations) >= 2, result.violations  # the test below means something only then
    return list(result.violations)


@pytest.fixture(scope="module")
def two_nodes(tmp_path_factory) -> Iterator[TwoNodes]:
    import ray
    from ray.cluster_utils import Cluster

    from vision.cluster import NAMESPACE, loopback_only

    if ray.is_initialized():
        ray.shutdown()
    loopback_only()  # every node on 127.0.0.1, as `--address local`
    root = tmp_path_factory.mktemp("nl")
    head_outbox = root / "head-outbox"
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "env_vars": {"AUTOFINE_OUTBOX_DIR": str(head_outbox)},
        },
    )
    ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False, logging_level="WARNING")
    try:
        yield TwoNodes(cluster, ray.get_runtime_context().get_node_id(), head_outbox, root)
    finally:
        ray.shutdown()
        cluster.shutdown()


def _lose_node2_mid_drain(
    nodes: TwoNodes, config: Path, service: ClusterService, expected: int, **settings_overrides
) -> tuple:  # noqa: ANN401
    """Camera on node2, service down → `expected` rows pending on node2; remove node2; camera restarts on
    the head; start the service; return (first life's health, results, fleet)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from vision.cluster import CameraFleet, ClusterSettings

    node2_outbox = nodes.root / "node2-outbox"
    node2 = nodes.cluster.add_node(num_cpus=1, env_vars={"AUTOFINE_OUTBOX_DIR": str(node2_outbox)})
    nodes.cluster.wait_for_nodes()
    node2_id = node2.node_id
    settings = ClusterSettings(
        max_frames=FRAMES,
        service_url=service.url,
        health_interval_s=0.5,
        drain_timeout_s=150,  # the first life waits, draining, with its rows pending until node2 goes
        max_restarts=2,
        **settings_overrides,
    )
    fleet = CameraFleet([config], settings, tokens=service.tokens)
    fleet.start(scheduling_strategy={CAMERA: NodeAffinitySchedulingStrategy(node2_id, soft=True)})

    def pending_on_node2() -> bool:
        health = fleet.poll()[CAMERA]
        return health.state == "draining" and health.outbox_pending == expected

    wait_for(pending_on_node2, timeout=150, what=f"{expected} violations pending on node2")
    first = fleet.health[CAMERA]
    assert first.node_id == node2_id and first.outbox_delivered == 0

    nodes.cluster.remove_node(node2, allow_graceful=False)  # the node is gone, its processes killed

    def restarted_on_head() -> bool:
        health = fleet.poll()[CAMERA]
        return health.state != "unreachable" and health.pid != first.pid

    wait_for(restarted_on_head, timeout=150, what="the camera restarted on the head node")
    assert fleet.health[CAMERA].node_id == nodes.head_id
    service.start()
    results = fleet.wait(release_finished=False)
    return first, results, fleet, node2_outbox


def test_node_leaves_and_the_surviving_outbox_delivers_what_it_held(
    two_nodes: TwoNodes, camera_config: Path, reference: list[str], tmp_path: Path
) -> None:
    """Mode `outbox_survives_node=True`: one outbox folder every node mounts (on one machine: the same
    folder). The camera lands on the head, reopens the outbox node2 wrote, and its publisher delivers the
    rows node2 left pending — exactly once in the service's database."""
    shared = tmp_path / "shared-outbox"
    (tmp_path / "service").mkdir()
    service = ClusterService(tmp_path / "service", [CAMERA])  # not started: the service is DOWN
    try:
        first, results, fleet, _ = _lose_node2_mid_drain(
            two_nodes,
            camera_config,
            service,
            len(reference),
            outbox_dir=shared,
            outbox_survives_node=True,
        )
        fleet.stop()
        result = results[CAMERA]
        assert not isinstance(result, str), result
        health = result.health
        assert health.node_id == two_nodes.head_id and health.restarts == 1
        assert health.stranded_pending == 0
        # the replay on the head found every incident already in the outbox node2 wrote: nothing new
        assert (health.stored, health.repeats) == (0, len(reference))
        assert result.outbox_counts == {"pending": 0, "delivered": len(reference), "parked": 0}
        assert outbox_counts(shared / f"{CAMERA}.sqlite3")["delivered"] == len(reference)
        delivered = service.violation_keys()
        assert sorted(delivered) == sorted(reference)  # nothing lost
        assert len(delivered) == len(set(delivered)) == first.outbox_pending  # nothing twice
        assert service.fines_per_violation() == [1] * len(reference)
    finally:
        service.stop()


def test_node_leaves_with_a_node_local_outbox_and_its_pending_rows_are_reported_stranded(
    two_nodes: TwoNodes, camera_config: Path, reference: list[str], tmp_path: Path
) -> None:
    """Mode `outbox_survives_node=False` (default): each node's outbox is on its own disk
    (`AUTOFINE_OUTBOX_DIR` per node), deleted with node2. The rows pending there are counted as stranded
    in the fleet's health (run summary, Prometheus) and in the actor's own health (`cluster status`)."""
    from vision.cluster import named_camera_health, prometheus_text

    (tmp_path / "service").mkdir()
    service = ClusterService(tmp_path / "service", [CAMERA])
    try:
        first, results, fleet, node2_outbox = _lose_node2_mid_drain(
            two_nodes, camera_config, service, len(reference)
        )
        assert outbox_counts(node2_outbox / f"{CAMERA}.sqlite3")["pending"] == len(reference)
        shutil.rmtree(node2_outbox)  # node2's disk is gone with it
        try:
            status = named_camera_health()  # what `autofine cluster status` shows
        finally:
            fleet.stop()
        result = results[CAMERA]
        assert not isinstance(result, str), result
        assert result.health.node_id == two_nodes.head_id and result.health.restarts == 1
        assert result.health.stranded_pending == first.outbox_pending == len(reference)
        assert status[CAMERA].stranded_pending == len(reference)
        assert (
            f'autofine_camera_outbox_stranded{{camera="{CAMERA}",node="{result.health.node_ip}"}} '
            f"{len(reference)}" in prometheus_text(fleet.health)
        )
        # the head started its own outbox; a file source replays, so it re-created and delivered the same
        # incidents (a live stream could not: there the stranded count is what is missing)
        assert result.health.stored == len(reference)
        assert outbox_counts(two_nodes.head_outbox / f"{CAMERA}.sqlite3")["delivered"] == len(reference)
        assert sorted(service.violation_keys()) == sorted(reference)
    finally:
        service.stop()
