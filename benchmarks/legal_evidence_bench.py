"""What legal-grade evidence costs the camera: motion redaction, signing, verification, encrypted originals.

    python benchmarks/legal_evidence_bench.py [--frames 30]

On real vtest frames (300.., every 2nd = 5 fps) with YOLOX-Nano people:
1. `motion_masks` for a clip's frames (per frame);
2. `redact_bystanders` per frame, heads only vs heads + motion;
3. Ed25519 sign and verify of a real recorder-built record;
4. a whole `EvidenceRecorder.build` (snapshot + H.264 clip) with and without motion redaction.
Writes benchmarks/results/legal_evidence.json. Numbers are medians; this 2-core machine is shared, so compare
within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _median_ms(fn, repeat: int) -> float:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--model", type=Path, default=REPO.parent / "shared" / "models" / "yolox_nano.onnx")
    args = parser.parse_args()

    import cv2
    import numpy as np

    from autofine.signing import Ed25519Signer, verify, write_keypair
    from tests.helpers import FAKE_MODEL, T0
    from vision.confirm import Incident, Vote
    from vision.detectors import load_detector
    from vision.evidence import EvidenceRecorder
    from vision.frame import Frame
    from vision.redaction import motion_masks, redact_bystanders
    from vision.samples import fetch_sample
    from vision.scene import CameraConfig, Scene

    cap = cv2.VideoCapture(str(fetch_sample("vtest.avi")))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    images = []
    while len(images) < args.frames:
        ok, image = cap.read()
        if not ok:
            break
        ok, _ = cap.read()
        images.append(image)
    detector = load_detector("yolox-nano", path=args.model)
    people = []
    for image in images:
        d = detector.detect(image).of_classes(["person"])
        d = d[d.confidence >= 0.4]
        people.append(d.with_tracker_ids(np.arange(len(d))))
    n = len(images)
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "frames": n,
        "frame_size": list(images[0].shape[1::-1]),
    }
    results["motion_masks_ms_per_frame"] = round(_median_ms(lambda: motion_masks(images), 3) / n, 2)
    masks = motion_masks(images)
    k = n // 2
    results["redact_heads_only_ms"] = _median_ms(
        lambda: redact_bystanders(images[k], people[k], offender_track_id=0), 20
    )
    results["redact_heads_and_motion_ms"] = _median_ms(
        lambda: redact_bystanders(images[k], people[k], offender_track_id=0, motion=masks[k]), 20
    )

    with tempfile.TemporaryDirectory() as tmp:
        private_key, public_key = write_keypair("bench", Path(tmp) / "keys")
        frames = [Frame("bench", i, T0 + timedelta(seconds=i / 5), im) for i, im in enumerate(images)]
        boxes = [p.xyxy[0] if len(p) else np.array([0, 0, 10, 10], dtype=np.float32) for p in people]
        votes = tuple(
            Vote(frames[i].index, frames[i].timestamp, tuple(float(v) for v in boxes[i]), 0.9, 1.0)
            for i in range(k - 2, k + 2)
        )
        incident = Incident(
            "f" * 24, "bench", "jaywalking", 0, votes[0].timestamp, votes[-1].timestamp, k + 1, votes, (), 0.9
        )
        for motion in (False, True):
            config = CameraConfig(
                camera_id="bench", signing_key=private_key, evidence={"redact_motion": motion}
            )
            recorder = EvidenceRecorder(config, Scene(config.zones), FAKE_MODEL, Path(tmp) / "ev", fps=5.0)
            for frame, dets in zip(frames, people, strict=True):
                recorder.add_frame(frame, dets)
            start = time.perf_counter()
            record, _ = recorder.build(incident)
            key = "build_with_motion_ms" if motion else "build_heads_only_ms"
            results[key] = round((time.perf_counter() - start) * 1000, 1)
            results["clip_frames"] = len(record.boxes)
        signer = Ed25519Signer(private_key)
        pem = public_key.read_bytes()
        results["sign_ms"] = _median_ms(lambda: signer.sign(record), 200)
        signed = signer.sign(record)
        results["verify_ms"] = _median_ms(lambda: verify(signed, pem), 200)
        results["canonical_record_bytes"] = len(record.canonical_bytes())

    out = REPO / "benchmarks" / "results" / "legal_evidence.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
