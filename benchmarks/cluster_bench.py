"""Detector placement on a Ray node: a detector inside each camera actor vs one shared batched detector actor.

    nice -n 19 .venv/bin/python benchmarks/cluster_bench.py --cameras 4 --frames 100 --num-cpus 2

Runs N copies of the vtest camera (YOLOX-Nano, no delivery) on a local Ray cluster, once per placement, and
writes aggregate analysed frames/s to benchmarks/results/cluster.json. Same machine, same run: compare the
two numbers with each other, not with other machines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def camera_configs(folder: Path, n: int, model_path: Path) -> list[Path]:
    from vision.samples import fetch_sample

    base = yaml.safe_load((REPO / "cameras" / "vtest.yaml").read_text())
    paths = []
    for i in range(n):
        data = base | {
            "camera_id": f"bench_{i}",
            "source": str(fetch_sample("vtest.avi")),
            "model": "yolox-nano",
            "model_path": str(model_path),
        }
        path = folder / f"bench_{i}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        paths.append(path)
    return paths


def run_once(paths: list[Path], placement: str, frames: int) -> dict:
    from vision.cluster import CameraFleet, ClusterSettings

    settings = ClusterSettings(max_frames=frames, detector_placement=placement, health_interval_s=0.5)
    fleet = CameraFleet(paths, settings)
    t0 = time.perf_counter()
    fleet.start()
    try:
        results = fleet.wait()
    finally:
        fleet.stop()
    wall = time.perf_counter() - t0
    failed = {c: r for c, r in results.items() if isinstance(r, str)}
    if failed:
        raise SystemExit(f"{placement}: cameras failed: {failed}")
    total = sum(r.frames for r in results.values())
    return {
        "placement": placement,
        "cameras": len(paths),
        "frames_per_camera": frames,
        "wall_s": round(wall, 2),
        "aggregate_fps": round(total / wall, 2),
        "per_camera_fps": {c: r.health.fps for c, r in sorted(results.items())},
        "violations": {c: len(r.violations) for c, r in sorted(results.items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--num-cpus", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--model-path", type=Path, default=REPO.parent / "shared/models/yolox_nano.onnx")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/cluster.json")
    args = parser.parse_args()

    from vision.cluster import ClusterSettings, connect, shutdown

    with tempfile.TemporaryDirectory() as tmp:
        paths = camera_configs(Path(tmp), args.cameras, args.model_path)
        connect(ClusterSettings(num_cpus=args.num_cpus))
        try:
            runs = [run_once(paths, placement, args.frames) for placement in ("in_actor", "shared")]
        finally:
            shutdown()
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "num_cpus": args.num_cpus,
        "command": f"benchmarks/cluster_bench.py --cameras {args.cameras} --frames {args.frames} "
        f"--num-cpus {args.num_cpus}",
        "runs": runs,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
