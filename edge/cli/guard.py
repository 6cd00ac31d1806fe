"""`kindergate guard ACTION ... -c FILE`: guard actions through the running daemon.

The daemon's console listens on a unix socket in the store's directory (mode 0600): only
the service's own user can use it. Actions go to the daemon, never to the store, because
one loop owns the gate. ``add-user`` is the exception: it writes an account to the store
(SQLite serialises it with the daemon) so the first admin can exist before any sign-in.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import UTC, datetime
from typing import Any

from edge.cli.common import CliError, config_or_exit

ACTIONS: dict[str, str] = {
    "approve": "approve a waiting early pickup (--credential)",
    "refuse": "refuse a waiting early pickup (--credential)",
    "open": "open the gate by hand (--reason required)",
    "lockdown": "lock the gate down",
    "evacuate": "evacuate: hold the door open",
    "normal": "back to normal",
    "visitor-in": "register a visitor and open (--name --id-number --host --purpose)",
    "visitor-out": "sign a visitor out (--visitor-id or --name)",
    "status": "print the gate's status as JSON",
}
TIMEOUT_SECONDS = 10.0


def register(sub: Any) -> None:
    p = sub.add_parser("guard", help="guard actions through the running gate daemon")
    gsub = p.add_subparsers(dest="guard_action", required=True, metavar="ACTION")
    for name, text in ACTIONS.items():
        a = gsub.add_parser(name, help=text)
        a.add_argument("-c", "--config", required=True)
        a.add_argument("--by", help="who does this (default: cli:<login name>)")
        _action_options(name, a)
        a.set_defaults(func=guard_action)
    u = gsub.add_parser("add-user", help="create a console account or set its PIN/password")
    u.add_argument("name")
    u.add_argument("--role", choices=("guard", "admin"), required=True)
    u.add_argument("-c", "--config", required=True)
    u.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the PIN/password from the first line of standard input",
    )
    u.set_defaults(func=add_user)


def _action_options(name: str, p: argparse.ArgumentParser) -> None:
    if name in ("approve", "refuse"):
        p.add_argument("--credential", required=True, help="e.g. card:0004567890")
    elif name == "open":
        p.add_argument("--reason", required=True)
    elif name == "visitor-in":
        for flag in ("--name", "--id-number", "--host", "--purpose"):
            p.add_argument(flag, required=True)
        p.add_argument("--phone")
        p.add_argument("--minutes", type=int, help="expected stay (default 60)")
    elif name == "visitor-out":
        p.add_argument("--visitor-id")
        p.add_argument("--name")


def _request(args: argparse.Namespace) -> dict[str, Any]:
    action = args.guard_action.replace("-", "_")
    body: dict[str, Any] = {"action": action, "by": args.by or f"cli:{getpass.getuser()}"}
    for key in ("credential", "reason", "name", "id_number", "host", "purpose", "phone"):
        value = getattr(args, key, None)
        if value is not None:
            body[key] = value
    if getattr(args, "minutes", None) is not None:
        body["minutes"] = str(args.minutes)
    if getattr(args, "visitor_id", None):
        body["visitor_id"] = args.visitor_id
    return body


def guard_action(args: argparse.Namespace) -> int:
    cfg = config_or_exit(args.config)
    if args.guard_action == "visitor-out" and not (args.visitor_id or args.name):
        raise CliError("visitor-out needs --visitor-id or --name")
    answer = _call(cfg, args.guard_action, _request(args))
    if args.guard_action == "status":
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 0
    for event in answer.get("events", []):
        sys.stdout.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
    if not answer.get("ok"):
        raise CliError(f"refused: {answer.get('error')}", code=2 if answer.get("bad_input") else 1)
    return 0


def _call(cfg: Any, action: str, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    from edge.console.server import socket_path

    path = socket_path(cfg.store.path)
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise CliError(f"{path}: permission denied; run this as the gate's service user", 1)
    transport = httpx.HTTPTransport(uds=str(path))
    try:
        with httpx.Client(
            transport=transport, base_url="http://gate", timeout=TIMEOUT_SECONDS
        ) as client:
            if action == "status":
                response = client.get("/local/status")
            else:
                response = client.post("/local/guard", json=body)
    except httpx.TransportError as err:
        raise CliError(
            f"cannot reach the gate daemon at {path} ({err}); is it running with "
            "[console] enabled = true?",
            code=1,
        ) from None
    try:
        answer = response.json()
    except ValueError:
        raise CliError(
            f"unexpected answer from the daemon: HTTP {response.status_code}", 1
        ) from None
    return answer if isinstance(answer, dict) else {"ok": False, "error": "bad answer"}


def _read_secret(args: argparse.Namespace) -> str:
    if args.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("PIN or password: ")
    if getpass.getpass("Again: ") != first:
        raise CliError("the two entries differ; nothing was changed")
    return first


def add_user(args: argparse.Namespace) -> int:
    from edge.cli.common import become_store_owner
    from edge.console.auth import AuthError, Users, validate_new_account
    from edge.store import Store

    cfg = config_or_exit(args.config)
    secret = _read_secret(args)
    # root writes as the service, so a store it creates here stays the daemon's to open
    become_store_owner(cfg)
    try:
        validate_new_account(args.name, args.role, secret)
    except AuthError as err:
        raise CliError(f"{args.name}: {err}; nothing was changed") from None
    store = Store(cfg.store.path, site=cfg.site.id, gate=cfg.gate.id)
    try:
        Users(store, lambda: datetime.now(UTC)).add(args.name, args.role, secret)
    finally:
        store.close()
    print(f"account {args.name} ({args.role}) saved")
    return 0
