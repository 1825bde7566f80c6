"""`autofine admin` and `autofine serve` wiring, run through the real Typer app."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from autofine.cli import _register, app


@pytest.fixture(scope="module")
def cli():
    _register()
    return app


def test_admin_commands_end_to_end(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOFINE_DATA_DIR", str(tmp_path))
    db = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, ["admin", *args, "--db", db])

    assert run("migrate").exit_code == 0
    created = run("create-admin", "root", "--password", "root-pass-1")
    assert created.exit_code == 0 and "admin 'root' created" in created.output
    again = run("create-admin", "root", "--password", "root-pass-1")
    assert again.exit_code != 0
    assert run("create-user", "rita", "--role", "reviewer", "--password", "short").exit_code != 0
    assert run("create-user", "rita", "--role", "auditor", "--password", "long-enough").exit_code != 0
    assert run("create-user", "rita", "--role", "reviewer", "--password", "long-enough").exit_code == 0
    token = run("register-camera", "gate-3").output.strip()
    assert token.startswith("afc_") and len(token) > 30
    policy = run("set-auto-issue", "littering", "--threshold", "0.97")
    assert policy.exit_code == 0 and "auto-issue on" in policy.output
    assert "audit chain OK (4 entries)" in run("verify-audit").output
    assert "exported 0 fine(s)" in run("export").output
    assert "deleted 0 evidence" in run("retention").output

    from api.db import make_engine

    engine = make_engine(db)
    with engine.begin() as conn:
        conn.execute(text("UPDATE auditentry SET actor = 'someone-else' WHERE seq = 3"))
    engine.dispose()
    broken = run("verify-audit")
    assert broken.exit_code == 1 and "BROKEN at entry 3" in broken.output


def test_serve_and_admin_are_registered(cli):
    result = CliRunner().invoke(cli, ["--help"])
    assert "serve" in result.output and "admin" in result.output
