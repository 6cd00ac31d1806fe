"""doctor, verify-log, backup, purge: keeping an installed gate healthy and its records sound.

Run as root (``sudo kindergate ...``), these commands first become the owner of the
state directory: what they create (a backup, a store) then belongs to the service, and
"readable by the service" is checked as the service sees it, not as root does.
"""

from __future__ import annotations

import argparse
import logging
import os
import pwd
import sys
from pathlib import Path
from typing import Any

from edge.commands.common import CliError, config_or_exit
from edge.config import Config

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check an installed gate: files, key, clock, broker, readers")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=doctor)

    p = sub.add_parser("verify-log", help="walk the event log's hash chain; exit 1 if changed")
    p.add_argument("-c", "--config", required=True)
    p.set_defaults(func=verify_log)

    p = sub.add_parser("backup", help="copy the gate's store (online, consistent, 0600)")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--to", required=True, help="a new file, or a directory to put one in")
    p.set_defaults(func=backup)

    p = sub.add_parser("purge", help="apply [retention]: anonymise, delete, record a purge event")
    p.add_argument("-c", "--config", required=True)
    p.add_argument("--dry-run", action="store_true", help="say what would go; change nothing")
    p.add_argument(
        "--force", action="store_true", help="purge even when the clock is not synchronised"
    )
    p.set_defaults(func=purge)


def become_store_owner(cfg: Config) -> None:
    """When root, switch for good to the user who owns the state directory."""
    folder = cfg.store.path.parent
    if os.geteuid() != 0 or not folder.is_dir():
        return
    uid = folder.stat().st_uid
    if uid == 0:
        return
    entry = pwd.getpwuid(uid)
    os.initgroups(entry.pw_name, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(uid)
    log.debug("running as %s, the owner of %s", entry.pw_name, folder)


# --- doctor ---------------------------------------------------------------------------------


def doctor(args: argparse.Namespace) -> int:
    from edge import doctor as doc
    from edge import timesync

    path = Path(args.config)
    cfg, _ = doc.load(path)
    if cfg is not None:
        become_store_owner(cfg)
    probes = doc.Probes(
        clock=timesync.check, connect=doc.tcp_connect, load_key=_load_key, gpiochip=doc.GPIOCHIP
    )
    checks = doc.run_checks(path, probes)
    for check in checks:
        print(check.line())
    return 1 if doc.worst(checks) is doc.Level.FAIL else 0


def _load_key(path: Path) -> bytes:
    from mqtt.signing import load_key  # the one reading of a key file, shared with the link

    return load_key(path)


# --- verify-log and backup --------------------------------------------------------------------


def verify_log(args: argparse.Namespace) -> int:
    from edge.verify import verify_path

    cfg = config_or_exit(args.config)
    become_store_owner(cfg)
    if not cfg.store.path.is_file():
        raise CliError(f"no store at {cfg.store.path}", 1)
    report = verify_path(cfg.store.path)
    print(f"{cfg.store.path}: {report.summary()}")
    for problem in report.problems:
        print(str(problem))
    return 0 if report.ok else 1


def backup(args: argparse.Namespace) -> int:
    from edge.backup import BackupError
    from edge.backup import backup as run_backup

    cfg = config_or_exit(args.config)
    become_store_owner(cfg)
    try:
        result = run_backup(cfg.store.path, Path(args.to))
    except (BackupError, OSError) as err:
        raise CliError(f"backup failed: {err}", 1) from None
    print(f"{result.path}: {result.size} bytes; {result.report.summary()}")
    for problem in result.report.problems:
        print(str(problem))
    return 0 if result.report.ok else 1


# --- purge ----------------------------------------------------------------------------------


def purge(args: argparse.Namespace) -> int:
    from edge.clock import SystemClock
    from edge.retention import purge as run_purge
    from edge.retention import snapshot_directory
    from edge.store import Store
    from edge.timesync import check

    cfg = config_or_exit(args.config)
    become_store_owner(cfg)
    if not cfg.store.path.is_file():
        print(f"no store at {cfg.store.path} yet: nothing to purge")
        return 0
    clock = check()
    if not (clock.trusted or args.force or args.dry_run):
        # A clock a year ahead would delete a year of records that must still be kept.
        raise CliError(
            f"clock not trusted, not purging (--force to purge anyway): {clock.describe()}", 1
        )
    store = Store(cfg.store.path, site=cfg.site.id, gate=cfg.gate.id)
    try:
        result = run_purge(
            store,
            cfg.retention,
            SystemClock(cfg.site.tz).now(),
            snapshots=snapshot_directory(cfg),
            dry_run=args.dry_run,
        )
    finally:
        store.close()
    print(result.summary())
    if result.events:
        print(f"recorded {len(result.events)} purge event(s), last {result.events[-1]['id']}")
    sys.stdout.flush()
    return 0
