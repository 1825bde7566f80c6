"""Audit anchors: the exported chain head catches a chain an attacker rewrote and re-hashed in the DB."""

from __future__ import annotations

import json

from sqlalchemy import update
from sqlmodel import select

from api import audit
from api.anchors import AnchorTask, read_anchors, verify_against_anchors, write_anchor
from api.models import AuditEntry, AuditHead


def _rewrite_from(session, seq: int, **changes) -> None:
    """What an attacker with DB access does: change entry `seq`, then recompute every hash after it."""
    session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(**changes))
    session.commit()
    prev = (
        session.exec(select(AuditEntry).where(AuditEntry.seq == seq - 1)).one().hash
        if seq > 1
        else audit.GENESIS
    )
    for entry in session.exec(
        select(AuditEntry)
        .where(AuditEntry.seq >= seq)
        .order_by(AuditEntry.seq)
        .execution_options(populate_existing=True)
    ).all():
        entry.prev_hash = prev
        entry.hash = audit.entry_hash(
            prev_hash=prev,
            seq=entry.seq,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            target=entry.target,
            data=entry.data,
        )
        prev = entry.hash
        session.add(entry)
    head = session.get(AuditHead, 1)
    head.hash = prev
    session.add(head)
    session.commit()


def test_recomputed_chain_is_caught_against_the_anchors(client, actors, new_case, session, tmp_path):
    anchors_dir = tmp_path / "anchors"
    first_case = new_case()
    first = write_anchor(session, anchor_dir=anchors_dir)
    assert write_anchor(session, anchor_dir=anchors_dir) is None  # nothing new: no duplicate line
    new_case()
    second = write_anchor(session, anchor_dir=anchors_dir)
    new_case()
    third = write_anchor(session, anchor_dir=anchors_dir)
    assert [a.seq for a in read_anchors(anchors_dir)] == [first.seq, second.seq, third.seq]
    assert first.seq < second.seq < third.seq
    ok = verify_against_anchors(session, anchor_dir=anchors_dir)
    assert ok.ok and ok.anchors == 3 and ok.last_good_anchor == third

    # rewrite the intake entry of the second case (between the first and second anchors) and re-hash the chain
    target = session.exec(
        select(AuditEntry)
        .where(AuditEntry.seq > first.seq, AuditEntry.action == "intake")
        .order_by(AuditEntry.seq)
    ).first()
    assert target is not None and target.seq <= second.seq
    data = json.loads(target.data)
    data["route"] = "auto"
    _rewrite_from(session, target.seq, data=audit.canonical_json(data))
    assert audit.verify(session).ok  # the chain alone no longer shows anything

    result = verify_against_anchors(session, anchor_dir=anchors_dir)
    assert not result.ok
    assert result.last_good_anchor == first
    assert result.first_bad_anchor == second
    assert result.first_broken_seq == first.seq + 1
    assert f"entries {first.seq + 1}..{second.seq}" in result.reason
    assert first_case  # the first case's entries are still provable (before the last good anchor)


def test_plain_edit_reports_the_broken_link_and_the_last_good_anchor(
    client, actors, new_case, session, tmp_path
):
    anchors_dir = tmp_path / "anchors"
    new_case()
    first = write_anchor(session, anchor_dir=anchors_dir)
    new_case()
    write_anchor(session, anchor_dir=anchors_dir)
    victim = first.seq + 1
    session.execute(update(AuditEntry).where(AuditEntry.seq == victim).values(actor="camera:other"))
    session.commit()
    result = verify_against_anchors(session, anchor_dir=anchors_dir)
    assert not result.ok
    assert result.first_broken_seq == victim
    assert result.last_good_anchor == first


def test_cli_anchor_and_verify_anchors(client, actors, new_case, settings, session):
    from typer.testing import CliRunner

    from autofine.cli.admin import app as admin_app

    new_case()
    runner = CliRunner()
    db = settings.resolved_database_url
    env = {"AUTOFINE_DATA_DIR": str(settings.data_dir)}
    written = runner.invoke(admin_app, ["anchor", "--db", db], env=env)
    assert written.exit_code == 0, written.output
    assert "anchored entry" in written.output
    good = runner.invoke(admin_app, ["verify-anchors", "--db", db], env=env)
    assert good.exit_code == 0 and "1 anchor(s) hold" in good.output
    _rewrite_from(session, 1, actor="system:forged")
    bad = runner.invoke(admin_app, ["verify-anchors", "--db", db], env=env)
    assert bad.exit_code == 1
    assert "BROKEN at entry 1" in bad.output and "no anchor holds" in bad.output


def test_the_app_writes_anchors_on_a_schedule(app, actors, new_case, tmp_path):
    task = AnchorTask(app.state.engine, tmp_path / "scheduled", interval=0.05)
    new_case()
    task.start()
    try:
        import time

        deadline = time.monotonic() + 20
        while not read_anchors(tmp_path / "scheduled") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        task.stop()
    anchors = read_anchors(tmp_path / "scheduled")
    assert len(anchors) == 1  # one line: the head did not move after it
    assert app.state.anchor_task.interval == app.state.settings.anchor_interval_seconds == 3600
