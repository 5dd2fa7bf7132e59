"""``movereg user``: add and list accounts, link a user to a child."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

HELP = "manage user accounts: add, list, link a therapist or parent to a child"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands ``add``, ``list``, ``link``, ``add-child``, ``verify-audit``."""
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="where the database lives (default: the per-user data dir)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="create a user (password prompted, or --password-stdin)")
    add.add_argument("username")
    add.add_argument("--role", required=True,
                     choices=["admin", "therapist", "parent", "researcher"])
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input")
    sub.add_parser("list", help="list users and their linked children")
    link = sub.add_parser("link", help="put a child on a therapist's caseload / link a parent")
    link.add_argument("username")
    link.add_argument("--child", required=True, metavar="CODE",
                      help="the child's pseudonymous code")
    sub.add_parser("verify-audit", help="re-compute the audit log's hash chain and check its "
                                        "anchors (exit 1 if any fails)")
    child = sub.add_parser("add-child", help="create a child record (prints its code)")
    child.add_argument("--code", default=None, help="pseudonymous code (random by default)")
    child.add_argument("--name", default=None, help="nickname shown on screen")
    for p in (add, link, child):
        p.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)


def _password(args: argparse.Namespace) -> str:
    from movereg.errors import ValidationError

    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise ValidationError("no password on standard input")
        return line
    import getpass

    first = getpass.getpass(f"password for {args.username}: ")
    if getpass.getpass("again: ") != first:
        raise ValidationError("the two passwords differ")
    return first


def _verify_audit(store: Any, out: TextIO) -> int:
    """Print each anchor's result; 0 when all hold, 1 when any failed."""
    v = store.verify_audit()
    for c in v.anchors:
        state = "ok" if c.ok else "FAILED"
        why = c.problem if not c.ok else c.note
        out.write(f"  {c.name}: {state}{' - ' + why if why else ''}\n")
    if not v.ok:
        where = f" at entry {v.first_bad_id}" if v.first_bad_id is not None else ""
        out.write(f"audit log BROKEN{where}: {v.problem} ({v.entries} of {v.rows} entries "
                  "verified in the chain)\n")
        return 1
    out.write(f"audit log intact: {v.entries} entries\n")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the chosen action against the data directory's database."""
    from movereg.config import Settings
    from movereg.dashboard.auth import hash_password
    from movereg.errors import NotFoundError
    from movereg.storage import Store

    settings = Settings() if args.data_dir is None else Settings(data_dir=args.data_dir)
    out = sys.stdout
    with Store(settings.db_path) as store:
        if args.action == "add":
            user = store.create_user(args.username, hash_password(_password(args)), args.role)
            store.audit("cli", "user.create", detail={"username": user.username,
                                                      "role": user.role})
            out.write(f"created {user.role} {user.username}\n")
        elif args.action == "list":
            codes = {c.id: c.code for c in store.list_children()}
            for u in store.list_users():
                kids = ",".join(sorted(codes[i] for i in store.linked_children(u.id)))
                state = " (disabled)" if u.disabled else ""
                out.write(f"{u.username}\t{u.role}{state}\t{kids}\n")
        elif args.action == "link":
            found = store.find_user(args.username)
            if found is None:
                raise NotFoundError(f"no user {args.username!r}")
            child = store.find_child(args.child)
            if child is None:
                raise NotFoundError(f"no child with code {args.child!r}",
                                    advice="create it with: movereg user add-child")
            store.link_user_child(found.id, child.id)
            store.audit("cli", "user.link", child_id=child.id,
                        detail={"username": found.username})
            out.write(f"linked {found.username} to {child.code}\n")
        elif args.action == "verify-audit":
            return _verify_audit(store, out)
        else:
            c = store.create_child(code=args.code, display_name=args.name)
            store.audit("cli", "child.create", child_id=c.id)
            out.write(f"{c.code}\n")
    return 0
