"""Delivery benchmark: what the outbox costs the camera loop, and how fast the publisher empties it.

    autofine run --camera cameras/vtest.yaml --model yolox-nano \
        --model-path ../shared/models/yolox_nano.onnx --out runs/vtest
    python benchmarks/delivery_bench.py --run runs/vtest --records 60

1. `emit` latency (copy evidence + fsync + SQLite commit) while the publisher is stuck on a service that takes
   2 s per answer: the camera loop pays only the local write.
2. Throughput of a publisher into a real `autofine serve` (SQLite) on this machine.
Writes benchmarks/results/delivery.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autofine.contract import ViolationRecord  # noqa: E402
from vision.outbox import Outbox, OutboxSink, Publisher, PublisherConfig  # noqa: E402
from vision.sinks import read_violations  # noqa: E402


def load_run(run_dir: Path, n: int) -> list[tuple[ViolationRecord, dict[str, Path]]]:
    """`n` records built from a real run's records and evidence, each with a unique incident id."""
    base = read_violations(run_dir / "violations.jsonl")
    if not base:
        raise SystemExit(f"no violations in {run_dir}; run `autofine run ... --out {run_dir}` first")
    out = []
    for i in range(n):
        record = base[i % len(base)]
        files = {ev.name: run_dir / "evidence" / record.incident_id / ev.name for ev in record.evidence}
        out.append((record.model_copy(update={"incident_id": f"{record.incident_id}-b{i}"}), files))
    return out


def slow_server(delay_s: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(delay_s)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def bench_emit(records, tmp: Path) -> dict:
    server = slow_server(2.0)
    outbox = Outbox(tmp / "emit.sqlite3")
    publisher = Publisher(
        outbox, service_url=f"http://127.0.0.1:{server.server_address[1]}", token="x"
    ).start()
    sink = OutboxSink(outbox, publisher)
    times = []
    for record, files in records:
        t0 = time.perf_counter()
        sink.emit(record, files)
        times.append((time.perf_counter() - t0) * 1000)
    sink.close(drain_timeout_s=0)
    server.shutdown()
    times.sort()
    return {
        "records": len(times),
        "evidence_bytes_per_record": sum(ev.size for ev in records[0][0].evidence),
        "emit_ms_mean": round(statistics.mean(times), 2),
        "emit_ms_p50": round(times[len(times) // 2], 2),
        "emit_ms_p95": round(times[int(len(times) * 0.95) - 1], 2),
        "emit_ms_max": round(times[-1], 2),
        "service": "answers 503 after 2 s per request",
    }


def bench_throughput(records, tmp: Path) -> dict:
    from sqlmodel import Session

    from api.bootstrap import ensure_camera, open_engine
    from api.settings import Settings

    data = tmp / "service"
    data.mkdir()
    db = f"sqlite:///{data / 'autofine.sqlite3'}"
    engine = open_engine(Settings(data_dir=data, database_url=db))
    with Session(engine) as session:
        token = ensure_camera(session, camera_id=records[0][0].camera_id)
    engine.dispose()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "AUTOFINE_DATA_DIR": str(data),
        "AUTOFINE_DATABASE_URL": db,
        "AUTOFINE_REQUIRE_SIGNATURES": "false",  # the bench camera config has no signing key
    }
    service = subprocess.Popen(
        [sys.executable, "-c", "from autofine.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        outbox = Outbox(tmp / "throughput.sqlite3")
        for record, files in records:
            outbox.add(record, files)
        config = PublisherConfig(poll_interval_s=0.05)
        t0 = time.perf_counter()
        publisher = Publisher(
            outbox, service_url=f"http://127.0.0.1:{port}", token=token, config=config
        ).start()
        left = publisher.stop(drain_timeout_s=600)
        wall = time.perf_counter() - t0
        return {
            "records": len(records),
            "delivered": outbox.counts()["delivered"],
            "left_pending": left,
            "wall_s": round(wall, 2),
            "records_per_s": round(len(records) / wall, 1),
            "ms_per_record": round(wall * 1000 / len(records), 1),
            "service": "autofine serve, SQLite, same machine",
        }
    finally:
        service.terminate()
        service.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", type=Path, required=True, help="Output folder of `autofine run`.")
    parser.add_argument("--records", type=int, default=60)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "delivery.json")
    args = parser.parse_args()
    records = load_run(args.run, args.records)
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
            "cpus": os.cpu_count(),
            "emit_while_service_slow": bench_emit(records, Path(tmp)),
            "delivery_throughput": bench_throughput(records, Path(tmp)),
            "command": f"python benchmarks/delivery_bench.py --run {args.run} --records {args.records}",
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
