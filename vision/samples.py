"""Real sample media, fetched into the cache dir by the project itself (never committed).

`vtest.avi` (pedestrians crossing an asphalt area, 795 frames, 768×576) ships in Debian's `opencv-doc`
package and in OpenCV's GitHub repository. `fetch_sample` tries Debian first (works offline behind a package
mirror), then GitHub, and checks the file decodes as expected before handing it out.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import cv2

from autofine.errors import UserError

log = logging.getLogger("autofine.samples")


@dataclass(frozen=True)
class Sample:
    name: str
    description: str
    deb_package: str  # Debian package that contains it
    deb_member: str  # path inside the package
    url: str  # upstream download for machines without apt
    frames: int
    width: int
    height: int


SAMPLES: dict[str, Sample] = {
    "vtest.avi": Sample(
        name="vtest.avi",
        description="Pedestrians crossing an asphalt area between lawns (OpenCV sample, 10 fps).",
        deb_package="opencv-doc",
        deb_member="usr/share/doc/opencv-doc/examples/data/vtest.avi",
        url="https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/vtest.avi",
        frames=795,
        width=768,
        height=576,
    ),
}


def cache_dir() -> Path:
    """Where downloads, models and samples live: `AUTOFINE_CACHE_DIR` or `~/.cache/autofine`."""
    return Path(os.environ.get("AUTOFINE_CACHE_DIR") or Path.home() / ".cache" / "autofine").expanduser()


def sample_path(name: str) -> Path:
    return cache_dir() / "samples" / name


def fetch_sample(name: str = "vtest.avi") -> Path:
    """Return the cached path of sample `name`, fetching and verifying it first if needed."""
    sample = SAMPLES.get(name)
    if sample is None:
        raise UserError(f"unknown sample {name!r}; known samples: {', '.join(sorted(SAMPLES))}")
    target = sample_path(name)
    if target.is_file() and _problem(target, sample) is None:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for fetch in (_fetch_from_debian, _fetch_from_url):
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:
            fetch(sample, partial)
            problem = _problem(partial, sample)
            if problem is not None:
                raise RuntimeError(problem)
        except Exception as exc:  # each way may fail for its own reason; try the next one
            failures.append(f"{fetch.__name__.removeprefix('_fetch_from_')}: {exc}")
            partial.unlink(missing_ok=True)
            continue
        os.replace(partial, target)  # atomic: concurrent fetchers never see a half-written file
        log.info("fetched sample %s into %s", name, target)
        return target
    raise UserError(
        f"could not fetch sample {name!r} ({'; '.join(failures)}); install it with "
        f"'apt-get download {sample.deb_package}' or download {sample.url} to {target}"
    )


def probe_video(path: Path) -> tuple[int, int, int]:
    """(decodable frame count, width, height) by decoding every frame."""
    capture = cv2.VideoCapture(str(path))
    try:
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        frames = 0
        while capture.grab():
            frames += 1
        return frames, width, height
    finally:
        capture.release()


def _problem(path: Path, sample: Sample) -> str | None:
    frames, width, height = probe_video(path)
    if (frames, width, height) != (sample.frames, sample.width, sample.height):
        return (
            f"{path.name} decodes to {frames} frames of {width}x{height}, "
            f"expected {sample.frames} frames of {sample.width}x{sample.height}"
        )
    return None


def _fetch_from_debian(sample: Sample, destination: Path) -> None:
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        raise RuntimeError("apt-get/dpkg not found (not a Debian-like system)")
    with tempfile.TemporaryDirectory(prefix="autofine-deb-") as tmp:
        download = ["apt-get", "download", sample.deb_package]
        result = subprocess.run(download, cwd=tmp, capture_output=True, text=True, timeout=900)
        if result.returncode != 0 and _is_root() and _apt_lists_empty():
            log.info("apt lists are empty; running apt-get update")
            subprocess.run(["apt-get", "update"], capture_output=True, text=True, timeout=600, check=False)
            result = subprocess.run(download, cwd=tmp, capture_output=True, text=True, timeout=900)
        debs = sorted(Path(tmp).glob(f"{sample.deb_package}_*.deb"))
        if result.returncode != 0 or not debs:
            last = (result.stderr.strip().splitlines() or ["no .deb produced"])[-1]
            raise RuntimeError(f"'apt-get download {sample.deb_package}' failed: {last}")
        extracted = Path(tmp) / "x"
        subprocess.run(["dpkg", "-x", str(debs[0]), str(extracted)], check=True, capture_output=True)
        member = extracted / sample.deb_member
        if not member.is_file():
            raise RuntimeError(f"{sample.deb_member} not in {debs[0].name}")
        shutil.copyfile(member, destination)


def _fetch_from_url(sample: Sample, destination: Path) -> None:
    with urllib.request.urlopen(sample.url, timeout=20) as response, destination.open("wb") as out:
        shutil.copyfileobj(response, out)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _apt_lists_empty() -> bool:
    lists = Path("/var/lib/apt/lists")
    return not any(lists.glob("*_Packages*"))
