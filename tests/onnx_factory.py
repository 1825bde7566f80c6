"""Tiny real ONNX files with a canned output, for testing decoders and bad-input handling exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def constant_model(
    path: Path,
    output: np.ndarray,
    *,
    input_shape: tuple[int, int, int, int] = (1, 3, 64, 64),
    metadata: dict[str, str] | None = None,
    output_name: str = "output0",
) -> Path:
    """An ONNX model whose output is `output` whatever the image (the image input is read but ignored)."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    canned = numpy_helper.from_array(np.asarray(output, dtype=np.float32), name="canned")
    zero = numpy_helper.from_array(np.zeros(1, dtype=np.float32), name="zero")
    # output = canned + 0 * mean(image): keeps the input in the graph so onnxruntime accepts any frame
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["canned", "nothing"], [output_name]),
    ]
    graph = helper.make_graph(
        nodes,
        "canned",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, list(np.shape(output)))],
        initializer=[canned, zero],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def ultralytics_metadata(names: dict[int, str], imgsz: int = 64) -> dict[str, str]:
    return {
        "names": repr(names),
        "imgsz": repr([imgsz, imgsz]),
        "stride": "32",
        "task": "detect",
        "batch": "1",
    }
