"""Snapshots: private atomic JPEGs, ids that cannot escape, purge by modification time."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.snapshot import SnapshotStore
from tests import frames

NOW = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)
EVENT = "01JD8Z3QK5V6W7X8Y9Z0ABCDEF"  # a ULID-shaped id


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def age(path: Path, when: dt.datetime) -> None:
    os.utime(path, (when.timestamp(), when.timestamp()))


@pytest.fixture
def store(tmp_path: Path) -> SnapshotStore:
    return SnapshotStore(tmp_path / "snapshots")


def test_save_writes_a_private_jpeg_of_the_frame(store: SnapshotStore) -> None:
    frame = frames.qr_frame("KG1.example")
    path = store.save(EVENT, frame)
    assert path == store.directory / f"{EVENT}.jpg"
    assert path == store.path_for(EVENT)
    image = cv2.imread(str(path))
    assert image.shape == frame.shape
    assert np.abs(image.astype(int) - frame.astype(int)).mean() < 3  # JPEG, not exact
    assert mode(path) == 0o600
    assert mode(store.directory) == 0o700


def test_an_existing_open_directory_is_closed_to_others(tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o755)
    os.chmod(directory, 0o755)
    SnapshotStore(directory)
    assert mode(directory) == 0o700


def test_a_second_save_replaces_the_first(store: SnapshotStore) -> None:
    store.save(EVENT, frames.blank_frame(0))
    store.save(EVENT, frames.blank_frame(255))
    assert cv2.imread(str(store.path_for(EVENT))).min() > 250
    assert sorted(p.name for p in store.directory.iterdir()) == [f"{EVENT}.jpg"]


@pytest.mark.parametrize(
    "event_id",
    [
        "",
        "../escape",
        "a/b",
        "/etc/passwd",
        ".hidden",
        "..",
        "a b",
        "a\x00b",
        "é",
        "a.jpg",
        "x" * 101,
    ],
)
def test_ids_that_are_not_plain_names_are_refused(store: SnapshotStore, event_id: str) -> None:
    with pytest.raises(ValueError, match="event id"):
        store.save(event_id, frames.blank_frame())
    with pytest.raises(ValueError, match="event id"):
        store.path_for(event_id)
    assert list(store.directory.iterdir()) == []


def test_an_id_that_is_not_text_is_refused(store: SnapshotStore) -> None:
    with pytest.raises(ValueError):
        store.path_for(42)  # type: ignore[arg-type]


@given(event_id=st.text(max_size=120))
def test_no_id_names_a_path_outside_the_directory(
    tmp_path_factory: pytest.TempPathFactory, event_id: str
) -> None:
    store = SnapshotStore(tmp_path_factory.getbasetemp() / "prop")
    try:
        path = store.path_for(event_id)
    except ValueError:
        return
    assert path.parent == store.directory
    assert path.name == event_id + ".jpg"


def test_a_frame_that_cannot_be_encoded_writes_nothing(store: SnapshotStore) -> None:
    with pytest.raises(ValueError, match="JPEG"):
        store.save(EVENT, np.zeros((0, 0, 3), dtype=np.uint8))
    assert list(store.directory.iterdir()) == []


def test_a_failed_write_keeps_the_old_snapshot_and_leaves_no_temp_file(
    store: SnapshotStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save(EVENT, frames.blank_frame(0))
    before = store.path_for(EVENT).read_bytes()

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        store.save(EVENT, frames.blank_frame(255))
    assert store.path_for(EVENT).read_bytes() == before
    assert sorted(p.name for p in store.directory.iterdir()) == [f"{EVENT}.jpg"]


def test_list_gives_snapshot_ids_only(store: SnapshotStore) -> None:
    for event_id in ["b-2", "a-1", "c_3"]:
        store.save(event_id, frames.blank_frame())
    (store.directory / "notes.txt").write_text("not a snapshot")
    (store.directory / ".a-1xyz.tmp").write_bytes(b"half a jpeg")
    assert store.list() == ["a-1", "b-2", "c_3"]


def test_purge_deletes_by_modification_time(store: SnapshotStore) -> None:
    ages = {"old-1": 40, "old-2": 31, "fresh": 29, "today": 0}
    for event_id, days in ages.items():
        age(store.save(event_id, frames.blank_frame()), NOW - dt.timedelta(days=days))
    assert store.purge(NOW - dt.timedelta(days=30)) == 2
    assert store.list() == ["fresh", "today"]
    assert store.purge(NOW - dt.timedelta(days=30)) == 0


def test_purge_takes_old_temp_files_and_leaves_other_files(
    store: SnapshotStore, tmp_path: Path
) -> None:
    old = NOW - dt.timedelta(days=60)
    leftover = store.directory / ".evtabc123.tmp"
    leftover.write_bytes(b"half a jpeg from a crash")
    foreign = store.directory / "README"
    foreign.write_text("keep me")
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(b"not ours")
    link = store.directory / "link.jpg"
    link.symlink_to(outside)
    for path in (leftover, foreign, outside):
        age(path, old)
    assert store.purge(NOW) == 0  # a temp file is not counted as a snapshot
    assert not leftover.exists()
    assert foreign.exists() and outside.exists() and link.is_symlink()


def test_purge_needs_an_aware_time(store: SnapshotStore) -> None:
    with pytest.raises(ValueError, match="time zone"):
        store.purge(dt.datetime(2026, 11, 24))


def test_quality_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="quality"):
        SnapshotStore(tmp_path, quality=0)
    low = SnapshotStore(tmp_path / "low", quality=10).save(
        "e1", frames.noise(frames.blank_frame(), 40)
    )
    high = SnapshotStore(tmp_path / "high", quality=95).save(
        "e1", frames.noise(frames.blank_frame(), 40)
    )
    assert low.stat().st_size < high.stat().st_size
