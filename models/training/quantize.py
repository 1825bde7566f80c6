"""INT8 static quantisation (onnxruntime, QDQ, per-channel), calibrated on frames of the camera's own video.

Why static QDQ with per-channel weights: this CPU has AVX-512 VNNI, where onnxruntime runs QDQ Conv as INT8
dot products; per-channel weight scales keep thin channels from being rounded to zero. Why the end of the
detection head stays float: in an ultralytics YOLOv8 the head (nodes under `/model.22/`) ends by decoding
boxes (DFL, anchors, strides) and concatenating box coordinates in pixels (0..640) with class scores (0..1)
into one tensor; one INT8 scale for both rounds every score to 0. The head's convolutions come before that
mix (each branch has its own tensor and scale), so they are quantised too by default (`head_convs`): about a
third faster again, measured on vtest and coco128 (docs/fast-path.md).

A quantised model is only accepted when it keeps accuracy: person AP50 on a labelled set (coco128 with the
project's `evaluation` code) may drop by at most `ap_budget`; otherwise `check_ap_budget` refuses it with a
`UserError` that says by how much and what to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from autofine.errors import UserError

HEAD_PREFIXES_YOLOV8 = ("/model.22/",)


@dataclass(frozen=True)
class QuantizeReport:
    source: str
    output: str
    calibration_frames: int
    excluded_nodes: int
    quantized_ops: int  # QuantizeLinear nodes in the result
    fp32_ap50: float | None = None
    int8_ap50: float | None = None
    ap_budget: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def video_frames(video: str | Path, count: int, *, start: int = 0) -> list[np.ndarray]:
    """`count` frames spread evenly over the video (from `start`): calibration data from the camera itself."""
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise UserError(f"cannot open {video} for calibration frames; pass a video file OpenCV can decode")
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or count
    wanted = set(np.linspace(start, max(total - 1, start), count).round().astype(int).tolist())
    frames, index = [], -1
    while len(frames) < len(wanted) and cap.grab():
        index += 1
        if index in wanted:
            ok, image = cap.retrieve()
            if ok and image is not None:
                frames.append(image)
    cap.release()
    if not frames:
        raise UserError(f"{video} gave no frames for calibration")
    return frames


def head_nodes(onnx_path: Path, prefixes: Sequence[str], *, convs: bool = True) -> list[str]:
    """Names of the nodes under `prefixes`; `convs=False` leaves out the Conv nodes (they may be INT8)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    return [
        n.name
        for n in model.graph.node
        if any(n.name.startswith(p) for p in prefixes) and (convs or n.op_type != "Conv")
    ]


class _FrameReader:
    """onnxruntime's CalibrationDataReader over preprocessed frames, one per call."""

    def __init__(self, input_name: str, tensors: Sequence[np.ndarray]) -> None:
        self._items: Iterator[dict[str, np.ndarray]] = iter([{input_name: t[None]} for t in tensors])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._items, None)


def quantize_int8(
    source: str | Path,
    output: str | Path,
    frames: Sequence[np.ndarray],
    preprocess: Callable[[np.ndarray], np.ndarray],
    *,
    exclude_prefixes: Sequence[str] = HEAD_PREFIXES_YOLOV8,
    head_convs: bool = True,
) -> QuantizeReport:
    """Static INT8 (QDQ, per-channel, MinMax on `frames`); nodes under `exclude_prefixes` stay float, except
    their Conv layers when `head_convs` (the box/score decode after them is what must stay float).

    `preprocess`: a BGR frame → the float32 C×H×W tensor the model takes (the detector's own `_preprocess`).
    """
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    source, output = Path(source), Path(output)
    if not frames:
        raise UserError("no calibration frames; give a video of the camera (--calibration-video)")
    input_name = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    excluded = head_nodes(source, exclude_prefixes, convs=not head_convs) if exclude_prefixes else []
    output.parent.mkdir(parents=True, exist_ok=True)
    quantize_static(
        str(source),
        str(output),
        _FrameReader(input_name, [preprocess(f) for f in frames]),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=excluded,
        calibrate_method=CalibrationMethod.MinMax,
    )
    model = onnx.load(str(output))
    meta = {p.key: p.value for p in model.metadata_props}
    meta.update(
        {
            "quantization": f"onnxruntime static INT8 QDQ per-channel, {len(frames)} calibration frames, "
            f"{len(excluded)} head nodes kept float"
            + (" (head convolutions INT8)" if head_convs and exclude_prefixes else ""),
        }
    )
    del model.metadata_props[:]
    for key, value in meta.items():
        model.metadata_props.add(key=key, value=str(value))
    onnx.save(model, str(output))
    quantized = sum(1 for n in model.graph.node if n.op_type == "QuantizeLinear")
    return QuantizeReport(str(source), str(output), len(frames), len(excluded), quantized)


def check_ap_budget(fp32_ap50: float, int8_ap50: float, budget: float, *, what: str = "INT8 model") -> None:
    """Refuse (UserError) a quantised model that loses more than `budget` AP50 against its float original."""
    if budget < 0:
        raise UserError(f"the AP budget must be >= 0, got {budget}")
    loss = fp32_ap50 - int8_ap50
    if loss > budget:
        raise UserError(
            f"{what} refused: person AP50 {int8_ap50:.3f} vs {fp32_ap50:.3f} in float, a loss of {loss:.3f} "
            f"> the budget {budget:.3f}; keep the float model, calibrate on more frames of the camera, "
            "or keep more nodes in float (the detection head must stay float)"
        )


def person_ap50(
    model: str, path: Path | None, dataset_yaml: Path, *, split: str = "train", rect: bool = True
) -> float:
    """Person AP50 of an ONNX model on a YOLO dataset (coco128), with the project's evaluation code."""
    from datasets.formats import load_yolo
    from evaluation.detect_eval import AP_CONF, run_detect_eval
    from vision.detectors import load_detector

    detector = load_detector(model, path=path, conf=AP_CONF, rect=rect)
    result = run_detect_eval(load_yolo(dataset_yaml, split), detector, model=model, classes=["person"])
    return float(result.report.overall.ap50)


def quantize_and_verify(
    model: str,
    source: Path,
    output: Path,
    calibration_video: Path | Sequence[Path],
    dataset_yaml: Path,
    *,
    calibration_frames: int = 24,
    ap_budget: float = 0.02,
    exclude_prefixes: Sequence[str] = HEAD_PREFIXES_YOLOV8,
    head_convs: bool = True,
) -> QuantizeReport:
    """Quantise `source`, measure person AP50 before and after, and refuse (delete) it when over budget.

    `calibration_frames` frames are taken from each calibration video (the cameras' own footage). The model
    is calibrated on frames as the detector feeds them (with a dynamic-size model, `rect` 640×480 for 4:3).
    """
    from vision.detectors import load_detector

    detector = load_detector(model, path=source)
    videos = [calibration_video] if isinstance(calibration_video, str | Path) else list(calibration_video)
    frames = [f for video in videos for f in video_frames(video, calibration_frames)]
    report = quantize_int8(
        source,
        output,
        frames,
        lambda f: detector._preprocess(f)[0],
        exclude_prefixes=exclude_prefixes,
        head_convs=head_convs,
    )
    fp32 = person_ap50(model, source, dataset_yaml)
    int8 = person_ap50(model, output, dataset_yaml)
    report = QuantizeReport(
        **{**report.to_dict(), "fp32_ap50": fp32, "int8_ap50": int8, "ap_budget": ap_budget}
    )
    try:
        check_ap_budget(fp32, int8, ap_budget, what=f"INT8 {output.name}")
    except UserError:
        output.unlink(missing_ok=True)
        raise
    output.with_suffix(".json").write_text(json.dumps(report.to_dict(), indent=2))
    return report


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(
        description="INT8-quantise an ultralytics YOLO ONNX, refused over the AP budget"
    )
    parser.add_argument("source", type=Path, help="float ONNX (e.g. a dynamic-batch variant)")
    parser.add_argument("output", type=Path)
    parser.add_argument("--model", default="fall-yolov8s", help="registry id (keeps its class map)")
    parser.add_argument(
        "--calibration-video",
        type=Path,
        action="append",
        required=True,
        help="a video of the camera (repeat for several)",
    )
    parser.add_argument(
        "--head-float",
        action="store_true",
        help="keep the whole detection head float (slower; the default quantises its convolutions)",
    )
    parser.add_argument("--calibration-frames", type=int, default=24)
    parser.add_argument("--dataset", type=Path, required=True, help="YOLO data.yaml with a person class")
    parser.add_argument("--ap-budget", type=float, default=0.02)
    args = parser.parse_args()
    try:
        done = quantize_and_verify(
            args.model,
            args.source,
            args.output,
            args.calibration_video,
            args.dataset,
            calibration_frames=args.calibration_frames,
            ap_budget=args.ap_budget,
            head_convs=not args.head_float,
        )
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(json.dumps(done.to_dict(), indent=2))
