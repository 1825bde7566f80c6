"""Make ultralytics work without internet: no settings sync, no font or asset downloads."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path


def prepare_offline_ultralytics() -> Path:
    """Set the environment ultralytics reads at import; call before the first `import ultralytics`.

    Ultralytics downloads Arial.ttf for its plots and pings its hub unless told otherwise; here the font is
    matplotlib's DejaVuSans copied under the name it looks for.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    config_dir = Path(
        os.environ.get("YOLO_CONFIG_DIR") or Path(tempfile.gettempdir()) / "autofine-yolo-config"
    )
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    font_dir = config_dir / "Ultralytics"
    font_dir.mkdir(parents=True, exist_ok=True)
    import matplotlib

    dejavu = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        if not (font_dir / name).exists():
            shutil.copyfile(dejavu, font_dir / name)
    return config_dir
