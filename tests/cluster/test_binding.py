"""`autofine cluster run --address local` starts Ray with every listening socket on loopback.

Ray 2.60 rewrites `_node_ip_address="127.0.0.1"` to the machine's routable IP and then listens on all
interfaces (GCS, raylet, workers: `*:port`; dashboard agent: `0.0.0.0`); `vision.cluster.connect` turns
that off (see `_loopback_only`). This test starts a local cluster in a child process, as the CLI does,
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
import json, time, psutil
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
print("SOCKETS " + json.dumps(rows))
shutdown()
"""


def _is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def test_local_cluster_listens_on_loopback_only() -> None:
    env = child_env()
    env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)  # connect() must set it itself
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("SOCKETS "))
    sockets = json.loads(line.removeprefix("SOCKETS "))
    names = {name for _, name, _, _ in sockets}
    # GCS, raylet, the dashboard agent and a worker each listen; a bind we did not look at proves nothing
    assert {"gcs_server", "raylet"} <= names, sockets
    assert len(sockets) >= 5, sockets
    public = [s for s in sockets if not _is_loopback(s[2])]
    assert public == [], f"Ray sockets on non-loopback interfaces: {public}"
