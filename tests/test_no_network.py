"""Privacy proof: the running camera pipeline and the fine service connect nowhere but the service URL.

Both run as real processes (`autofine run` with YOLOX-Nano by path on the first seconds of vtest, delivering
signed records to `autofine serve` on 127.0.0.1 with SQLite). Each process installs `sys.addaudithook` before
anything else is imported and logs every `socket.connect`, `socket.sendto` and name lookup
(`socket.getaddrinfo`, `socket.gethostbyname`) — the audit events Python raises for every socket opened from
Python code, whichever library opens it. As a second, independent view that also covers native code
(onnxruntime, FFmpeg), the test polls the camera process's sockets in /proc while it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autofine.signing import verify, write_keypair
from tests.e2e.conftest import CAMERA, REPO, Service, child_env, outbox_counts, wait_for
from vision.sinks import read_violations

pytestmark = pytest.mark.slow

MAX_FRAMES = 60  # 12 s of vtest at 5 analysed fps: the first jaywalking incidents
LOCAL_NAMES = {"127.0.0.1", "localhost", "::1"}

# Runs `autofine <args>` with an audit hook that appends one JSON line per network event to $AUDIT_LOG.
_AUDITED = """
import json, os, sys
_fd = os.open(os.environ["AUDIT_LOG"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
_EVENTS = {"socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname",
           "socket.gethostbyaddr"}
def _hook(event, args):
    if event in _EVENTS:
        target = args[1] if event in ("socket.connect", "socket.sendto") else args[0]
        if event == "socket.getaddrinfo":
            target = [args[0], args[1]]
        os.write(_fd, (json.dumps({"event": event, "target": target}, default=str) + "\\n").encode())
sys.addaudithook(_hook)
sys.argv = ["autofine", *sys.argv[1:]]
from autofine.cli import main
main()
"""


def _audited(*args: str) -> list[str]:
    return [sys.executable, "-c", _AUDITED, *args]


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _remote_endpoints(pid: int) -> set[tuple[str, int]]:
    """Remote (address, port) of the TCP/UDP sockets process `pid` holds right now (Linux /proc)."""
    try:
        inodes = {
            os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1]
            for fd in os.listdir(f"/proc/{pid}/fd")
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:[")
        }
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return set()
    remote = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[9] not in inodes:
                continue
            address, port = fields[2].split(":")
            if int(port, 16) == 0:  # not connected
                continue
            remote.add((_decode_address(address), int(port, 16)))
    return remote


def _decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return ".".join(str(b) for b in raw[::-1])
    words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
    ip6 = b"".join(words)
    if ip6[:12] == b"\0" * 10 + b"\xff\xff":  # IPv4-mapped
        return ".".join(str(b) for b in ip6[12:])
    return ":".join(ip6[i : i + 2].hex() for i in range(0, 16, 2))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc for the socket poll")
def test_pipeline_and_service_connect_only_to_the_service(
    tmp_path: Path, yolox_nano_path: Path, vtest_path: Path
) -> None:
    assert vtest_path.is_file()  # fetched into the cache now, so the camera process has nothing to download
    (tmp_path / "service").mkdir()
    service = Service(tmp_path / "service")
    private_key, public_key = write_keypair("vtest", tmp_path / "keys")
    service.register_key("vtest", public_key.read_text())
    camera_yaml = tmp_path / "vtest.yaml"
    camera_yaml.write_text(CAMERA.read_text() + f"\nsigning_key: {private_key}\n")
    service_log, camera_log = tmp_path / "service_audit.jsonl", tmp_path / "camera_audit.jsonl"

    service.process = subprocess.Popen(
        _audited("serve", "--port", str(service.port)),
        env={**service.env, "AUTOFINE_REQUIRE_SIGNATURES": "true", "AUDIT_LOG": str(service_log)},
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "service.log", "wb"),  # noqa: SIM115 - the child owns it
        cwd=REPO,
    )
    try:
        wait_for(service._healthy, timeout=60, what="the service")
        outbox = tmp_path / "outbox.sqlite3"
        camera = subprocess.Popen(
            _audited(
                "run",
                "--camera",
                str(camera_yaml),
                "--model",
                "yolox-nano",
                "--model-path",
                str(yolox_nano_path),
                "--max-frames",
                str(MAX_FRAMES),
                "--out",
                str(tmp_path / "run"),
                "--service-url",
                service.url,
                "--outbox",
                str(outbox),
            ),
            env=child_env(AUTOFINE_CAMERA_TOKEN=service.token, AUDIT_LOG=str(camera_log)),
            stdout=subprocess.DEVNULL,
            stderr=open(tmp_path / "camera.log", "wb"),  # noqa: SIM115
            cwd=REPO,
        )
        seen_in_proc: set[tuple[str, int]] = set()
        deadline = time.monotonic() + 600
        while camera.poll() is None and time.monotonic() < deadline:
            seen_in_proc |= _remote_endpoints(camera.pid)
            time.sleep(0.05)
        if camera.poll() is None:
            camera.kill()
        assert camera.wait() == 0, (tmp_path / "camera.log").read_text()[-2000:]
    finally:
        service.stop()

    records = read_violations(tmp_path / "run" / "violations.jsonl")
    assert len(records) >= 1, "the run must deliver something for the proof to mean anything"
    assert all(verify(r, public_key.read_bytes()) for r in records)  # signed at the camera, end to end
    # every record delivered and accepted: the service verified each signature against the registered key
    assert outbox_counts(outbox) == {"pending": 0, "delivered": len(records), "parked": 0}
    assert sorted(service.violation_keys()) == sorted(r.idempotency_key for r in records)

    allowed = ("127.0.0.1", service.port)
    camera_events = _events(camera_log)
    connects = [tuple(e["target"]) for e in camera_events if e["event"] == "socket.connect"]
    assert connects, "no connect recorded: the audit hook did not see delivery"
    assert set(connects) == {allowed}, camera_events
    lookups = {e["target"][0] for e in camera_events if e["event"] != "socket.connect"}
    assert lookups <= LOCAL_NAMES, lookups  # no DNS for any other host either
    assert seen_in_proc <= {allowed}, seen_in_proc  # the /proc view (native code included) agrees

    service_events = _events(service_log)
    # The service only listens; with SQLite it has no database socket, so it connects nowhere at all.
    assert [e for e in service_events if e["event"] in ("socket.connect", "socket.sendto")] == []
    assert {e["target"][0] for e in service_events} <= LOCAL_NAMES
