"""Evidence: redaction on a real frame, snapshot/clip files whose hashes match the record, H.264 clip."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from tests.helpers import FAKE_MODEL, T0
from vision.confirm import Incident, Vote
from vision.detections import Detections
from vision.evidence import EvidenceRecorder, FrameBuffer, sha256_file
from vision.frame import Frame
from vision.redaction import head_region, redact_bystanders
from vision.scene import CameraConfig, Scene


@pytest.fixture(scope="module")
def real_frame(vtest_path: Path, yolox_nano_path: Path) -> tuple[np.ndarray, Detections]:
    from vision.detectors import load_detector

    cap = cv2.VideoCapture(str(vtest_path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    ok, image = cap.read()
    cap.release()
    assert ok
    detections = load_detector("yolox-nano", path=yolox_nano_path).detect(image)
    people = detections.of_classes(["person"])
    people = people[people.confidence >= 0.4]
    return image, people.with_tracker_ids(np.arange(len(people)))


def test_redaction_blurs_bystanders_not_the_offender(real_frame) -> None:  # noqa: ANN001
    image, people = real_frame
    assert len(people) >= 4  # frame 300 of vtest has several walkers
    offender = int(np.argmax(people.area))
    result = redact_bystanders(image, people, offender_track_id=offender, head_fraction=0.3)
    x1, y1, x2, y2 = people.xyxy[offender].astype(int)
    assert np.array_equal(result.image[y1:y2, x1:x2], image[y1:y2, x1:x2])
    assert len(result.regions) == len(people) - 1
    changed = 0
    offender_box = people.xyxy[offender]
    for i in range(len(people)):
        if i == offender:
            continue
        hx1, hy1, hx2, hy2 = head_region(people.xyxy[i], 0.3, image.shape[1], image.shape[0])
        overlaps = not (
            hx2 <= offender_box[0]
            or hx1 >= offender_box[2]
            or hy2 <= offender_box[1]
            or hy1 >= offender_box[3]
        )
        diff = np.abs(result.image[hy1:hy2, hx1:hx2].astype(int) - image[hy1:hy2, hx1:hx2].astype(int)).mean()
        if not overlaps:
            assert diff > 1.0, f"bystander {i} head not blurred"
            changed += 1
    assert changed >= 3
    # nothing outside head regions was touched
    mask = np.zeros(image.shape[:2], dtype=bool)
    for r in result.regions:
        mask[r[1] : r[3], r[0] : r[2]] = True
    assert np.array_equal(result.image[~mask], image[~mask])


def _frames(n: int, fps: float = 5.0) -> list[tuple[Frame, Detections]]:
    out = []
    for i in range(n):
        image = np.full((240, 320, 3), 90, dtype=np.uint8)
        x = 40 + 6 * i
        cv2.rectangle(image, (x, 100), (x + 30, 200), (20, 20, 20), -1)  # the offender
        cv2.rectangle(image, (250, 90), (280, 200), (200, 200, 200), -1)  # a bystander
        cv2.circle(image, (265, 100), 8, (0, 0, 255), -1)  # the bystander's "face"
        dets = Detections.from_lists(
            [[x, 100, x + 30, 200], [250, 90, 280, 200]], [0.9, 0.8], ["person", "person"], tracker_id=[1, 2]
        )
        out.append((Frame("cam", i, T0 + timedelta(seconds=i / fps), image), dets))
    return out


def _incident(incident_id: str, voted: list[tuple[Frame, Detections]]) -> Incident:
    """A jaywalking incident of track 1 confirmed by four votes on `voted` (the offender's box)."""
    votes = tuple(Vote(f.index, f.timestamp, tuple(float(v) for v in d.xyxy[0]), 0.9, 1.0) for f, d in voted)
    return Incident(
        incident_id=incident_id,
        camera_id="cam",
        violation_type="jaywalking",
        track_id=1,
        onset=votes[0].timestamp,
        confirmed_at=votes[-1].timestamp,
        confirmed_frame_index=votes[-1].frame_index,
        votes=votes,
        zones=("road",),
        confidence=0.9,
    )


def test_recorder_builds_snapshot_clip_and_record(tmp_path: Path) -> None:
    config = CameraConfig(camera_id="cam", zones={"road": [[(0, 150), (320, 150), (320, 240), (0, 240)]]})
    recorder = EvidenceRecorder(config, Scene(config.zones), FAKE_MODEL, tmp_path, fps=5.0)
    frames = _frames(40)
    incident = _incident("a" * 24, frames[20:24])
    built = []
    for i, (frame, dets) in enumerate(frames):
        recorder.add_frame(frame, dets)
        if i == 23:
            recorder.add_incident(incident)
        built += recorder.ready(frame.timestamp)
        if i == 32:
            assert built == []  # post-roll (2 s = 10 frames) not yet complete
    assert len(built) == 1
    record, files = built[0]
    assert sorted(files) == ["a" * 24 + "_clip.mp4", "a" * 24 + "_snapshot.jpg"]
    for item in record.evidence:
        assert sha256_file(files[item.name]) == item.sha256 and files[item.name].stat().st_size == item.size
    # boxes over time: pre-roll (2 s before onset) through post-roll, votes scored
    assert [b.frame_index for b in record.boxes] == list(range(10, 34))
    assert [b.frame_index for b in record.boxes if b.rule_score > 0] == [20, 21, 22, 23]
    assert record.redaction.regions > 0 and "track 1" in record.redaction.notes
    assert record.thresholds["confirm.votes"] == 4.0
    with av.open(str(files["a" * 24 + "_clip.mp4"])) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        decoded = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
    assert len(decoded) == 24
    # the bystander's face is blurred in the stored clip: the red dot is smeared
    face = decoded[5][95:106, 260:271].astype(int)
    assert np.abs(face - np.array([0, 0, 255])).mean() > 30
    snapshot = cv2.imread(str(files["a" * 24 + "_snapshot.jpg"]))
    assert snapshot.shape == (240, 320, 3)


def test_flush_finishes_pending_with_the_frames_there_are(tmp_path: Path) -> None:
    config = CameraConfig(camera_id="cam")
    recorder = EvidenceRecorder(config, Scene(config.zones), FAKE_MODEL, tmp_path, fps=5.0)
    frames = _frames(6)
    for frame, dets in frames:
        recorder.add_frame(frame, dets)
    f, d = frames[5]
    vote = Vote(f.index, f.timestamp, tuple(float(v) for v in d.xyxy[0]), 0.9, 1.0)
    recorder.add_incident(
        Incident("b" * 24, "cam", "jaywalking", 1, f.timestamp, f.timestamp, 5, (vote,), ("road",), 0.9)
    )
    assert recorder.ready(f.timestamp) == []
    ((record, files),) = recorder.flush()
    assert len(record.boxes) == 6 and len(files) == 2
    assert recorder.pending == []


def test_frame_buffer_keeps_only_recent_seconds() -> None:
    buffer = FrameBuffer(seconds=1.0)
    for frame, dets in _frames(20):
        buffer.add(frame, dets)
    assert len(buffer) == 6  # 1 s at 5 fps, both ends included
    assert buffer.latest == T0 + timedelta(seconds=19 / 5)


def test_a_clip_analysed_at_10_fps_is_stored_at_clip_fps_with_the_same_duration(tmp_path: Path) -> None:
    config = CameraConfig(camera_id="cam", zones={"road": [[(0, 150), (320, 150), (320, 240), (0, 240)]]})
    recorder = EvidenceRecorder(config, Scene(config.zones), FAKE_MODEL, tmp_path, fps=10.0)
    frames = _frames(46, fps=10.0)
    incident = _incident("b" * 24, frames[20:24])
    for frame, dets in frames:
        recorder.add_frame(frame, dets)
        if frame.index == 23:
            recorder.add_incident(incident)
    ((record, files),) = recorder.flush()
    analysed = len(record.boxes)  # every analysed frame of the clip's span keeps its box in the record
    with av.open(str(files["b" * 24 + "_clip.mp4"])) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate)
        decoded = sum(1 for _ in container.decode(stream))
    assert config.evidence.clip_fps == 5.0 and rate == 5.0
    assert analysed >= 30 and decoded == -(-analysed // 2)  # every second analysed frame
