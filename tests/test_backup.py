"""backup: an online, private, verified single-file copy; and the restore drill."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from edge.cli import main
from edge.ops.backup import BackupError, backup
from edge.ops.verify import verify_path
from tests.ops_support import NOW, access, edit, fill, make_store, raw_db, write_config


@pytest.fixture
def gate_db(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "gate.db"
    path.parent.mkdir(mode=0o700)
    store = make_store(path)
    fill(store, 5)
    store.close()
    return path


def events_of(path: Path) -> list[str]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in db.execute("SELECT body FROM events ORDER BY seq")]
    finally:
        db.close()


def test_a_backup_is_private_single_and_verified(gate_db: Path, tmp_path: Path) -> None:
    old = os.umask(0)  # the file must be private whatever the caller's umask
    try:
        result = backup(gate_db, tmp_path / "copy.db")
    finally:
        os.umask(old)
    assert result.path == tmp_path / "copy.db"
    assert stat.S_IMODE(result.path.stat().st_mode) == 0o600
    assert result.report.ok and result.report.events == 5
    assert events_of(result.path) == events_of(gate_db)
    db = sqlite3.connect(str(result.path))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    db.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("copy")) == ["copy.db"]


def test_a_directory_gets_a_dated_file(gate_db: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    folder.mkdir()
    result = backup(gate_db, folder)
    assert result.path.parent == folder
    assert result.path.name.startswith("gate-") and result.path.suffix == ".db"


def test_a_backup_never_overwrites(gate_db: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    target.write_bytes(b"precious")
    with pytest.raises(BackupError, match="never overwrites"):
        backup(gate_db, target)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_backup_runs_beside_an_open_write(gate_db: Path, tmp_path: Path) -> None:
    """The daemon may be in the middle of a transaction: the copy takes the last commit."""
    writer = raw_db(gate_db)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("DELETE FROM outbox")
    writer.execute("DELETE FROM events WHERE seq = 5")
    try:
        result = backup(gate_db, tmp_path / "copy.db")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert result.report.ok and result.report.events == 5


def test_a_tampered_store_is_copied_and_reported(gate_db: Path, tmp_path: Path) -> None:
    edit(gate_db, 2, reason="staff")
    result = backup(gate_db, tmp_path / "copy.db")
    assert [p.seq for p in result.report.problems] == [2]


def test_restore_drill(gate_db: Path, tmp_path: Path) -> None:
    """docs/operations.md 'Restore a backup': stop, move aside, copy in, verify, start."""
    copy = backup(gate_db, tmp_path / "copy.db").path
    store = make_store(gate_db)
    fill(store, 3, start=NOW.replace(hour=17))  # written after the backup: lost on the gate
    store.close()
    aside = tmp_path / "aside"
    aside.mkdir()
    for p in gate_db.parent.glob("gate.db*"):
        shutil.move(p, aside / p.name)
    shutil.copy2(copy, gate_db)
    os.chmod(gate_db, 0o600)
    assert verify_path(gate_db).ok
    store = make_store(gate_db)
    after = store.record([access(NOW.replace(hour=18))])
    store.close()
    assert after[0].seq == 6  # the chain goes on from the backup's last event
    assert verify_path(gate_db).ok


def test_cli(gate_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = write_config(tmp_path, store=gate_db)
    target = tmp_path / "out"
    target.mkdir()
    assert main(["backup", "-c", str(cfg), "--to", str(target)]) == 0
    out = capsys.readouterr().out
    made = list(target.iterdir())
    assert len(made) == 1 and str(made[0]) in out and "chain intact" in out
    assert main(["backup", "-c", str(cfg), "--to", str(made[0])]) == 1
    assert "never overwrites" in capsys.readouterr().err
    assert main(["backup", "-c", str(cfg), "--to", str(tmp_path / "nowhere" / "x.db")]) == 1
    assert "no such directory" in capsys.readouterr().err
