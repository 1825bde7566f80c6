"""The ONNX runner: owns the onnxruntime session, its execution providers and threads.

Detectors only pre- and post-process (see `yolo.py`, `yolox.py`); this module is the one place that knows
about onnxruntime, so a model can be checked (metadata, input shape) before any detector is built.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from autofine.errors import UserError

log = logging.getLogger("autofine.detectors")

# Most capable first: the automatic choice takes every available one of these, in this order.
PREFERRED_PROVIDERS: tuple[str, ...] = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
)

_GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")

# Short names a user may type, and the pip package that brings each provider.
_ALIASES: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "trt": "TensorrtExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
    "directml": "DmlExecutionProvider",
    "dml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "rocm": "ROCMExecutionProvider",
    "migraphx": "MIGraphXExecutionProvider",
}
_PACKAGES: dict[str, str] = {
    "CUDAExecutionProvider": "onnxruntime-gpu",
    "TensorrtExecutionProvider": "onnxruntime-gpu (and TensorRT)",
    "OpenVINOExecutionProvider": "onnxruntime-openvino",
    "DmlExecutionProvider": "onnxruntime-directml",
    "CoreMLExecutionProvider": "onnxruntime (macOS build)",
    "ROCMExecutionProvider": "onnxruntime-rocm",
    "MIGraphXExecutionProvider": "onnxruntime-migraphx",
}


def provider_options(provider: str) -> dict[str, str]:
    """Options per provider: TensorRT builds fp16 engines once and caches them beside the models."""
    if provider == "TensorrtExecutionProvider":
        from models.registry import cache_dir

        engines = cache_dir() / "tensorrt"
        engines.mkdir(parents=True, exist_ok=True)
        return {
            "trt_fp16_enable": "True",
            "trt_engine_cache_enable": "True",
            "trt_engine_cache_path": str(engines),
            "trt_timing_cache_enable": "True",
            "trt_timing_cache_path": str(engines),
        }
    if provider == "OpenVINOExecutionProvider":
        return {"device_type": "CPU"}
    return {}


def resolve_providers(requested: Sequence[str] | None = None) -> list[str]:
    """Execution providers to ask for, most capable first.

    `None` picks automatically: TensorRT > CUDA > CPU among those this onnxruntime build offers. Names may be
    full (`CUDAExecutionProvider`) or short (`cuda`); an unknown or uninstalled one is a `UserError` naming
    the package that provides it.
    """
    available = ort.get_available_providers()
    if not requested:
        chosen = [p for p in PREFERRED_PROVIDERS if p in available]
        return chosen or ["CPUExecutionProvider"]
    chosen = []
    for name in requested:
        name = name.strip()
        full = _ALIASES.get(name.lower(), name)
        if full not in available:
            known = full in _PACKAGES or full in PREFERRED_PROVIDERS
            hint = (
                f"install {_PACKAGES.get(full, 'an onnxruntime build that has it')} instead of onnxruntime"
                if known
                else f"use one of: {', '.join(sorted(_ALIASES))} or a full provider name"
            )
            state = "not available in this onnxruntime" if known else "unknown"
            here = ", ".join(p for p in available if p != "AzureExecutionProvider")
            raise UserError(f"execution provider {name!r} is {state} (available here: {here}); {hint}")
        if full not in chosen:
            chosen.append(full)
    return chosen


class OnnxRunner:
    """One onnxruntime session with a single image input; runs float32 NCHW batches."""

    def __init__(
        self,
        path: str | Path,
        *,
        providers: Sequence[str] | None = None,
        threads: int | None = None,
        spin: bool = False,
        io_binding: bool | None = None,
    ) -> None:
        """`io_binding`: run through an onnxruntime I/O binding with the outputs allocated on the provider's
        device; None = on for CUDA and TensorRT, where it saves a device allocation and copy per output."""
        self.path = Path(path)
        if not self.path.is_file():
            raise UserError(f"model file {self.path} does not exist; check the path or fetch the model")
        requested = resolve_providers(providers)
        options = ort.SessionOptions()
        if threads is not None:
            if threads < 1:
                raise UserError(f"threads must be >= 1, got {threads}")
            options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        options.log_severity_level = 3  # onnxruntime's own warnings go to stderr; we report what matters
        try:
            self.session = ort.InferenceSession(
                str(self.path),
                sess_options=options,
                providers=requested,
                provider_options=[provider_options(p) for p in requested],
            )
        except Exception as exc:  # onnxruntime raises its own exception types for corrupt files
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UserError(
                f"cannot load {self.path} as an ONNX model ({first[:200]}); the file is corrupt or not ONNX: "
                "download or export it again"
            ) from None
        self.providers: list[str] = self.session.get_providers()
        if requested[0] not in self.providers:
            log.warning("asked for %s but onnxruntime runs %s", requested[0], self.providers[0])
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise UserError(
                f"{self.path.name} needs one NCHW image input, it has {[i.shape for i in inputs]}"
            )
        self.input_name: str = inputs[0].name
        self.input_shape: list[int | str | None] = list(inputs[0].shape)
        self.output_shapes: list[list[int | str | None]] = [list(o.shape) for o in self.session.get_outputs()]
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        self.busy_s = 0.0  # wall seconds inside onnxruntime, all calls (benchmarks read the difference)
        on_gpu = self.providers[0] in _GPU_PROVIDERS
        self.io_binding = on_gpu if io_binding is None else io_binding
        self._output_device = "cuda" if on_gpu else "cpu"
        self._output_names = [o.name for o in self.session.get_outputs()]

    @property
    def fixed_batch(self) -> int | None:
        """The batch size baked into the model, or None when the batch axis is dynamic."""
        batch = self.input_shape[0]
        return batch if isinstance(batch, int) and batch > 0 else None

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Run one float32 NCHW batch; splits it when the model has a fixed batch size."""
        t0 = time.perf_counter()
        try:
            return self._run(batch)
        finally:
            self.busy_s += time.perf_counter() - t0

    def _run(self, batch: np.ndarray) -> list[np.ndarray]:
        fixed = self.fixed_batch
        if fixed is None or fixed == len(batch):
            return (
                self._run_bound(batch)
                if self.io_binding
                else self.session.run(None, {self.input_name: batch})
            )
        if fixed != 1:
            raise UserError(
                f"{self.path.name} has a fixed batch of {fixed}; export it with batch 1 or dynamic"
            )
        parts = [self._run(batch[i : i + 1]) for i in range(len(batch))]
        return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]

    def _run_bound(self, batch: np.ndarray) -> list[np.ndarray]:
        """One run through an I/O binding: the input copied to the device once, outputs left on the device
        by onnxruntime and copied back together (NMS runs on the CPU)."""
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, np.ascontiguousarray(batch))
        for name in self._output_names:
            binding.bind_output(name, self._output_device)
        self.session.run_with_iobinding(binding)
        return binding.copy_outputs_to_cpu()
