"""Intake benchmark: throughput and p50/p99 latency of `POST /api/v1/intake/violations`.

Starts the real service (`autofine serve`, one uvicorn process) on SQLite and on PostgreSQL, registers a
camera, then posts violations with a real JPEG as evidence from N concurrent clients. Writes
`benchmarks/results/intake.json` and `.md`. Not part of the test suite.

    .venv/bin/python benchmarks/intake_bench.py --requests 200 --concurrency 1 4 8 \
        --pg-url postgresql+psycopg://autofine:autofine@127.0.0.1:5432/autofine_test
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
DEFAULT_IMAGE = REPO.parent / "shared" / "datasets" / "coco128" / "images" / "train2017" / "000000000009.jpg"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _record(image: bytes, camera_id: str) -> dict:
    onset = datetime(2026, 3, 1, 10, tzinfo=UTC)
    return {
        "camera_id": camera_id,
        "incident_id": uuid.uuid4().hex,
        "violation_type": "littering",
        "onset": onset.isoformat(),
        "confirmed_at": (onset + timedelta(seconds=3)).isoformat(),
        "track_id": 1,
        "confidence": 0.8,
        "model": {"id": "bench", "version": "0", "sha256": "0" * 64},
        "config_hash": "0" * 64,
        "software_version": "bench",
        "redaction": {"method": "none", "regions": 0},
        "evidence": [
            {
                "name": "snapshot.jpg",
                "kind": "snapshot",
                "media_type": "image/jpeg",
                "sha256": hashlib.sha256(image).hexdigest(),
                "size": len(image),
            }
        ],
    }


def _reset_postgres_schema(url: str, schema: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _measure(base: str, headers: dict[str, str], image: bytes, requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    per_client = max(1, requests // concurrency)

    def client_loop() -> None:
        with httpx.Client(base_url=base, timeout=120) as http:
            for _ in range(per_client):
                record = _record(image, "bench-cam")
                start = time.perf_counter()
                response = http.post(
                    "/api/v1/intake/violations",
                    data={"record": json.dumps(record)},
                    files={"snapshot.jpg": ("snapshot.jpg", image, "image/jpeg")},
                    headers=headers,
                )
                elapsed = time.perf_counter() - start
                with lock:
                    (
                        latencies.append(elapsed)
                        if response.status_code == 201
                        else errors.append(response.status_code)
                    )

    threads = [threading.Thread(target=client_loop) for _ in range(concurrency)]
    wall_start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - wall_start
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "concurrency": concurrency,
        "requests": len(latencies) + len(errors),
        "errors": len(errors),
        "throughput_rps": round(len(latencies) / wall, 1),
        "p50_ms": round(q[49] * 1000, 1),
        "p99_ms": round(q[98] * 1000, 1),
        "wall_s": round(wall, 2),
    }


def run_backend(name: str, db_url: str, image: bytes, requests: int, concurrencies: list[int]) -> list[dict]:
    from sqlmodel import Session

    from api.bootstrap import open_engine, register_camera
    from api.settings import Settings

    data_dir = Path(tempfile.mkdtemp(prefix=f"intake-bench-{name}-"))
    env = os.environ | {
        "AUTOFINE_DATA_DIR": str(data_dir),
        "AUTOFINE_DATABASE_URL": db_url,
        "AUTOFINE_REQUIRE_SIGNATURES": "false",  # the bench posts unsigned records
    }
    settings = Settings(data_dir=data_dir, database_url=db_url)
    engine = open_engine(settings)
    with Session(engine) as session:
        _, token = register_camera(session, camera_id="bench-cam")
    engine.dispose()

    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("autofine")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise RuntimeError("service did not start")
        headers = {"Authorization": f"Bearer {token}"}
        rows = []
        for concurrency in concurrencies:
            rows.append({"backend": name} | _measure(base, headers, image, requests, concurrency))
            print(json.dumps(rows[-1]), flush=True)
        return rows
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="Posts per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--pg-url", default=os.environ.get("AUTOFINE_TEST_PG_URL"), help="PostgreSQL URL")
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE, help="Evidence JPEG to post")
    args = parser.parse_args()
    image = args.image.read_bytes()

    rows = []
    sqlite_dir = Path(tempfile.mkdtemp(prefix="intake-bench-db-"))
    rows += run_backend(
        "sqlite", f"sqlite:///{sqlite_dir / 'bench.sqlite3'}", image, args.requests, args.concurrency
    )
    if args.pg_url:
        rows += run_backend(
            "postgresql",
            _reset_postgres_schema(args.pg_url, "intake_bench"),
            image,
            args.requests,
            args.concurrency,
        )
    meta = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/intake_bench.py " + " ".join(sys.argv[1:]),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}",
        "server": f"autofine serve (1 uvicorn worker), evidence = 1 real JPEG of {len(image)} bytes",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "intake.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = [
        "# Intake benchmark",
        "",
        f"Measured {meta['measured_at']} on {meta['machine']}; {meta['server']}.",
        f"Command: `{meta['command']}`",
        "",
        "| backend | clients | requests | errors | throughput (req/s) | p50 (ms) | p99 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['backend']} | {r['concurrency']} | {r['requests']} | {r['errors']} | {r['throughput_rps']} "
        f"| {r['p50_ms']} | {r['p99_ms']} |"
        for r in rows
    ]
    (RESULTS / "intake.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
