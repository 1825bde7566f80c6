import shutil

import pytest

from autofine.errors import UserError
from vision import samples


def test_the_fetched_sample_is_the_expected_video(vtest_path):
    assert vtest_path.name == "vtest.avi" and vtest_path.parent.name == "samples"
    assert samples.probe_video(vtest_path) == (795, 768, 576)


def test_a_cached_sample_is_served_from_the_cache(tmp_path, monkeypatch, vtest_path):
    monkeypatch.setenv("AUTOFINE_CACHE_DIR", str(tmp_path))
    (tmp_path / "samples").mkdir()
    shutil.copyfile(vtest_path, tmp_path / "samples" / "vtest.avi")
    assert samples.fetch_sample() == tmp_path / "samples" / "vtest.avi"


def test_a_truncated_file_is_not_accepted(tmp_path, vtest_path):
    truncated = tmp_path / "vtest.avi"
    truncated.write_bytes(vtest_path.read_bytes()[:300_000])
    problem = samples._problem(truncated, samples.SAMPLES["vtest.avi"])
    assert problem is not None and "expected 795 frames" in problem


def test_unknown_sample_names_the_known_ones():
    with pytest.raises(UserError, match="known samples: vtest.avi"):
        samples.fetch_sample("nope.avi")
