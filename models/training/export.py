"""Export a trained checkpoint to the ONNX file the project ships: ultralytics metadata, fp16-stored weights.

A YOLOv8s in float32 is ~43 MB, over the 25 MB the repository allows per model. The weights are stored as
float16 and cast back to float32 when the session loads (a `Cast` node per initializer), so onnxruntime still
computes in float32 on every CPU; the only change is the rounding of each weight to fp16 (measured mAP cost in
the model card).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from autofine.errors import UserError

MIN_ELEMENTS_TO_HALVE = 1024  # small tensors (biases, shape constants) stay float32


def export_onnx(
    checkpoint: Path,
    out_path: Path,
    imgsz: int,
    extra_metadata: dict[str, str] | None = None,
    *,
    fp16_weights: bool = True,
    dynamic: bool = False,
) -> Path:
    """`checkpoint` (.pt) → `out_path` (.onnx, ultralytics metadata + `extra_metadata`).

    `fp16_weights=False` keeps ultralytics' plain float32 file (used to measure what fp16 storage costs).
    `dynamic=True`: any batch and input size (a portrait crop then runs at e.g. 256×416, not 416×416, with the
    detector's `rect` letterbox); False: fixed 1×3×imgsz×imgsz.
    """
    from models.training.offline import prepare_offline_ultralytics

    prepare_offline_ultralytics()
    from ultralytics import YOLO

    if not checkpoint.is_file():
        raise UserError(f"checkpoint {checkpoint} not found; train first (`autofine models train ...`)")
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / checkpoint.name
        shutil.copyfile(checkpoint, staged)  # ultralytics writes the .onnx beside the .pt
        exported = Path(YOLO(str(staged)).export(format="onnx", imgsz=imgsz, simplify=False, dynamic=dynamic))
        out_path.parent.mkdir(parents=True, exist_ok=True)
        if fp16_weights:
            store_weights_as_fp16(exported, out_path, extra_metadata or {})
        else:
            shutil.copyfile(exported, out_path)
    return out_path


def store_weights_as_fp16(source: Path, target: Path, extra_metadata: dict[str, str]) -> None:
    """Rewrite `source` so large float32 initializers are stored as float16 and cast back at load time."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    initializers, casts = [], []
    for init in graph.initializer:
        array = numpy_helper.to_array(init)
        if (
            init.data_type != TensorProto.FLOAT
            or array.size < MIN_ELEMENTS_TO_HALVE
            or np.abs(array).max() > 65000
        ):
            initializers.append(numpy_helper.from_array(array, init.name))
            continue
        half_name = f"{init.name}__fp16"
        initializers.append(numpy_helper.from_array(array.astype(np.float16), half_name))
        casts.append(
            helper.make_node("Cast", [half_name], [init.name], to=TensorProto.FLOAT, name=f"{half_name}_cast")
        )
    new_graph = helper.make_graph(
        casts + list(graph.node),
        graph.name,
        list(graph.input),
        list(graph.output),
        initializer=initializers,
        value_info=list(graph.value_info),
    )
    model.graph.CopyFrom(new_graph)
    metadata = {p.key: p.value for p in model.metadata_props}
    metadata.update({"weights_storage": "float16 (computed in float32)", **extra_metadata})
    del model.metadata_props[:]
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
