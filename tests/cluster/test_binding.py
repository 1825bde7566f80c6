"""`autofine cluster run --address local` starts Ray with every listening socket on loopback, and Ray's
token authentication on.

Ray 2.60 rewrites `_node_ip_address="127.0.0.1"` to the machine's routable IP and then listens on all
interfaces (GCS, raylet, workers: `*:port`; dashboard agent: `0.0.0.0`); `vision.cluster.connect` turns
that off (see `loopback_only`). This test starts a local cluster in a child process, as the CLI does,
and lists the TCP sockets its Ray processes listen on."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import REPO, child_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

_PROBE = """
import json, time, httpx, psutil
from vision.cluster import ClusterSettings, connect, shutdown
connect(ClusterSettings(address="local", num_cpus=1))
import ray
ray.get(ray.remote(lambda: 1).remote())  # a worker process is up too
time.sleep(2)
rows = []
me = psutil.Process()
for proc in [me, *me.children(recursive=True)]:
    try:
        name = proc.name()
        for conn in proc.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN:
                rows.append([proc.pid, name, conn.laddr.ip, conn.laddr.port])
    except psutil.NoSuchProcess:
        pass
# the agents' HTTP APIs (job submission = running code) without a token
answers = []
for pid, name, ip, port in rows:
    if "Agent" in name or "RuntimeEnv" in name:
        try:
            status = httpx.get(f"http://127.0.0.1:{port}/api/job_agent/jobs/", timeout=5).status_code
        except httpx.HTTPError:
            status = None  # a gRPC port
        answers.append([name, port, status])
print("SOCKETS " + json.dumps(rows))
print("ANSWERS " + json.dumps(answers))
shutdown()
"""


def _is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


@pytest.fixture(scope="module")
def probe() -> str:
    """One local cluster started as `cluster run --address local` does; its sockets and answers."""
    env = child_env()
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # connect() must set it itself
    env.pop("RAY_AUTH_MODE", None)  # Ray's own default for a local cluster: token
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def _line(stdout: str, prefix: str) -> str:
    return next(x for x in stdout.splitlines() if x.startswith(prefix)).removeprefix(prefix)


def test_local_cluster_listens_on_loopback_only(probe: str) -> None:
    sockets = json.loads(_line(probe, "SOCKETS "))
    names = {name for _, name, _, _ in sockets}
    # GCS, raylet, the dashboard agent and a worker each listen; a bind we did not look at proves nothing
    assert {"gcs_server", "raylet"} <= names, sockets
    assert len(sockets) >= 5, sockets
    public = [s for s in sockets if not _is_loopback(s[2])]
    assert public == [], f"Ray sockets on non-loopback interfaces: {public}"


def test_local_cluster_refuses_requests_without_its_token(probe: str) -> None:
    answers = json.loads(_line(probe, "ANSWERS "))
    refused = {name for name, _, status in answers if status == 401}
    # the dashboard agent's job API and the runtime-env agent: "Unauthorized: Missing authentication token"
    assert {"ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= refused, answers
