"""Command signing (HMAC-SHA256 over the payload bytes), key files and the nonce table."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.store import Store
from mqtt.nonces import Nonces, NonceStoreError, valid_nonce
from mqtt.signing import (
    MIN_KEY_BYTES,
    KeyFileError,
    load_key,
    make_command,
    new_key_hex,
    parse_key,
    sign,
    verify,
)

KEY = bytes(range(32))


def test_sign_matches_rfc4231_vector() -> None:
    # RFC 4231, test case 1
    key = b"\x0b" * 20
    assert sign(key, b"Hi There") == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    )


def test_verify_accepts_the_signature_in_either_case() -> None:
    sig = sign(KEY, b"{}")
    assert verify(KEY, b"{}", sig)
    assert verify(KEY, b"{}", sig.upper())


@pytest.mark.parametrize(
    "sig",
    [
        None,
        "",
        b"00" * 32,
        "0" * 64,
        "zz" * 32,
        "é" * 64,
        "ab" * 31,
        "ab" * 33,
        12345,
    ],
)
def test_verify_refuses_what_is_not_the_signature(sig: object) -> None:
    assert not verify(KEY, b"{}", sig)


def test_verify_refuses_a_signature_under_another_key() -> None:
    assert not verify(KEY, b"{}", sign(b"another key of 32 bytes........", b"{}"))


@given(st.binary(max_size=200), st.integers(min_value=0, max_value=199), st.integers(1, 255))
def test_any_changed_byte_breaks_the_signature(payload: bytes, where: int, flip: int) -> None:
    sig = sign(KEY, payload)
    assert verify(KEY, payload, sig)
    if payload:
        i = where % len(payload)
        changed = payload[:i] + bytes([payload[i] ^ flip]) + payload[i + 1 :]
        assert not verify(KEY, changed, sig)
    assert not verify(KEY, payload + b" ", sig)


def test_make_command_signs_the_exact_bytes_it_returns() -> None:
    payload, sig = make_command("open", {"reason": "delivery"}, KEY, 1_800_000_000.7)
    body = json.loads(payload)
    assert body["ts"] == 1_800_000_000
    assert body["cmd"] == "open"
    assert body["reason"] == "delivery"
    assert valid_nonce(body["nonce"])
    assert verify(KEY, payload, sig)


def test_make_command_gives_a_new_nonce_each_time() -> None:
    nonces = {json.loads(make_command("ping", {}, KEY, 0)[0])["nonce"] for _ in range(50)}
    assert len(nonces) == 50


@pytest.mark.parametrize("args", [{"ts": 1}, {"nonce": "x"}, {"cmd": "other"}])
def test_make_command_refuses_envelope_names_as_arguments(args: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="reserved"):
        make_command("open", args, KEY, 0)


@pytest.mark.parametrize("name", ["", "a/b", "a+", "#"])
def test_make_command_refuses_names_that_are_not_one_topic_level(name: str) -> None:
    with pytest.raises(ValueError):
        make_command(name, {}, KEY, 0)


# --- key files ------------------------------------------------------------------------


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "site.key"
    path.write_bytes(data)
    return path


def test_a_hex_key_file_is_read_as_hex(tmp_path: Path) -> None:
    text = new_key_hex()
    assert load_key(write(tmp_path, text.encode() + b"\n")) == bytes.fromhex(text)


def test_a_raw_key_file_is_used_byte_for_byte(tmp_path: Path) -> None:
    raw = os.urandom(32) + b"\xff"  # not hex text
    assert load_key(write(tmp_path, raw)) == raw


def test_a_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match=r"no such key file.*keygen"):
        load_key(tmp_path / "nope.key")


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="directory"):
        load_key(tmp_path)


@pytest.mark.parametrize("data", [b"", b"\n", b"  \n"])
def test_an_empty_key_file_is_refused(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(KeyFileError, match="empty"):
        load_key(write(tmp_path, data))


def test_a_short_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    secret = "a1b2c3d4e5f6a7b8"  # 8 bytes as hex
    with pytest.raises(KeyFileError) as err:
        load_key(write(tmp_path, secret.encode()))
    assert "too short (8 bytes" in str(err.value)
    assert secret not in str(err.value)


def test_the_shortest_key_allowed_is_128_bits() -> None:
    assert parse_key(b"k" * MIN_KEY_BYTES) == b"k" * MIN_KEY_BYTES
    with pytest.raises(KeyFileError):
        parse_key(b"k" * (MIN_KEY_BYTES - 1))


def test_a_huge_file_is_not_a_key(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="too large"):
        load_key(write(tmp_path, b"x" * 10_000))


# --- nonces ---------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "gate.db", site="sunflower", gate="main")


def test_a_nonce_is_accepted_once(store: Store) -> None:
    nonces = Nonces(store, 30)
    assert nonces.use("nonce-0001", 1000, 1000.0)
    assert not nonces.use("nonce-0001", 1000, 1001.0)
    assert nonces.use("nonce-0002", 1000, 1001.0)


def test_nonces_are_remembered_across_a_restart(tmp_path: Path, store: Store) -> None:
    assert Nonces(store, 30).use("nonce-0001", 1000, 1000.0)
    store.close()
    again = Store(tmp_path / "gate.db", site="sunflower", gate="main")
    assert not Nonces(again, 30).use("nonce-0001", 1000, 1010.0)


def test_nonces_too_old_to_matter_are_pruned(store: Store) -> None:
    nonces = Nonces(store, 30)
    for i in range(10):
        assert nonces.use(f"nonce-{i:04d}", 1000, 1000.0)
    assert nonces.count() == 10
    # Sixty seconds on, a command with ts=1000 is stale whatever its nonce.
    assert nonces.use("nonce-late", 1061, 1061.0)
    assert nonces.count() == 1


def test_nonces_still_inside_the_window_are_kept(store: Store) -> None:
    nonces = Nonces(store, 30)
    assert nonces.use("nonce-0001", 1029, 1000.0)  # from a clock 29 s ahead
    assert not nonces.use("nonce-0001", 1029, 1058.0)


def test_a_nonce_table_that_cannot_be_read_is_an_error_not_a_reset(store: Store) -> None:
    store.db.execute("DROP TABLE nonces")
    with pytest.raises(NonceStoreError, match="cannot be read"):
        Nonces(store, 30)


def test_a_nonce_table_that_breaks_later_refuses_instead_of_accepting(store: Store) -> None:
    nonces = Nonces(store, 30)
    store.db.execute("DROP TABLE nonces")
    with pytest.raises(NonceStoreError):
        nonces.use("nonce-0001", 1000, 1000.0)


@pytest.mark.parametrize(
    ("nonce", "ok"),
    [
        ("abcdefgh", True),
        ("a" * 128, True),
        ("short", False),
        ("a" * 129, False),
        (None, False),
        (12345678, False),
        ("tab\there!", False),
        ("ünïcödé-nonce", False),
    ],
)
def test_valid_nonce(nonce: object, ok: bool) -> None:
    assert valid_nonce(nonce) is ok


# --- keygen ---------------------------------------------------------------------------


def keygen(capsys: pytest.CaptureFixture[str], config: Path, *extra: str) -> tuple[int, str]:
    from edge.cli import main

    code = main(["keygen", "-c", str(config), *extra])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture
def keyless_config(tmp_path: Path) -> Path:
    from tests.mqtt_helpers import write_config

    path = write_config(tmp_path, port=1883)
    (tmp_path / "site.key").unlink()
    return path


def test_keygen_writes_a_private_hex_key_and_does_not_show_it(
    keyless_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = keygen(capsys, keyless_config)
    assert code == 0
    path = keyless_config.parent / "site.key"
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text()
    assert len(text.strip()) == 64
    assert len(load_key(path)) == 32
    assert text.strip() not in output


def test_keygen_never_overwrites_without_force(
    keyless_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = keyless_config.parent / "site.key"
    assert keygen(capsys, keyless_config)[0] == 0
    first = path.read_bytes()
    code, output = keygen(capsys, keyless_config)
    assert code == 2
    assert "--force" in output
    assert path.read_bytes() == first
    assert keygen(capsys, keyless_config, "--force")[0] == 0
    assert path.read_bytes() != first
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".site.key")] == []
