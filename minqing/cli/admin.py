"""The warehouse and who may read it: start and locate it, logins, the hashing key."""

from __future__ import annotations

import sys

from minqing import config, warehouse


def _cmd_warehouse(args) -> int:
    if args.action == "start":
        print(warehouse.start())
    elif args.action == "stop":
        print("stopped" if warehouse.stop() else "not running (or external: WAREHOUSE_URL is set)")
    elif args.action == "url":
        print(warehouse.url())
    elif args.action == "status":
        state = warehouse.status()
        kind = "embedded" if state.embedded else "external (WAREHOUSE_URL)"
        print(f"warehouse: {kind}, {'running' if state.running else 'stopped'}")
        if state.data_dir:
            print(f"data dir:  {state.data_dir}")
        if state.url:
            print(f"url:       {state.url}")
        print(f"migrations: {', '.join(state.migrations) or 'none applied'}")
        return 0 if state.running else 3
    return 0


def _cmd_access(args) -> int:
    from minqing.publishing import access

    warehouse.migrate()
    if args.action != "list" and not args.name:
        print(f"minqing access {args.action}: name the login", file=sys.stderr)
        return 2
    try:
        if args.action == "password":
            if not args.password_env:
                raise ValueError("password needs --password-env VAR (the password is never an argument)")
            access.set_password(args.name, args.password_env)
            print(f"password of {args.name} set from ${args.password_env}")
        elif args.action == "street-user":
            access.street_user(args.name, args.password_env, args.street)
            print(f"{args.name}: street {args.street}, reads its own rows of the marts that carry a street"
                  if args.street else f"{args.name}: street center, reads every row of the published marts")
        elif args.action == "community-user":
            if not args.community:
                raise ValueError("community-user needs --community ID")
            access.community_user(args.name, args.community, args.password_env)
            print(f"{args.name}: community {args.community}, reads its own rows of the published marts")
        else:
            for name, what in access.members():
                print(f"{name:<24} {what}")
    except ValueError as exc:
        print(f"minqing access: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_rotate_hash_key(args) -> int:
    from ingestion.contracts import CONTRACTS
    from minqing import privacy

    new_key = config.secret_from(args.new_key_env).encode("utf-8")
    if not new_key:
        print(f"minqing rotate-hash-key: the environment variable {args.new_key_env} is empty or unset",
              file=sys.stderr)
        return 2
    warehouse.migrate()
    try:
        updated = privacy.rotate(new_key, CONTRACTS.values())
    except (privacy.HashKeyMismatch, ValueError) as exc:
        print(f"minqing rotate-hash-key: {exc}", file=sys.stderr)
        return 2
    stored = privacy.store_new_key_file(new_key)
    privacy._key.cache_clear()
    for table, count in updated.items():
        print(f"{table}: {count} keys recomputed")
    if stored:
        print(f"new key stored in {stored}")
    else:
        print("now set MINQING_HASH_KEY to the new key everywhere the pipeline runs (.env, Airflow workers)")
    print("the next run rebuilds the marts from raw: repeat-complainant counts stay whole")
    return 0


def _cmd_reference(args) -> int:
    from pathlib import Path

    from minqing import reference

    if args.action == "init":
        if not args.dir:
            print("minqing reference init: name the folder to create", file=sys.stderr)
            return 2
        try:
            written = reference.init(Path(args.dir), force=args.force)
        except FileExistsError as exc:
            print(f"minqing reference init: {exc}", file=sys.stderr)
            return 1
        print(f"{len(written)} files copied to {Path(args.dir).resolve()}: edit them, then set "
              f"MINQING_REFERENCE_DIR={Path(args.dir).resolve()} for every minqing command, the DAGs and dbt")
        return 0
    try:
        folder = Path(args.dir) if args.dir else config.reference_dir()
    except FileNotFoundError as exc:
        print(f"minqing reference check: {exc}", file=sys.stderr)
        return 1
    problems = reference.check(folder)
    for line in problems:
        print(f"{folder}: {line}", file=sys.stderr)
    if not problems:
        print(f"{folder}: {len(config.REFERENCE_SEEDS)} reference files, nothing wrong")
    return 1 if problems else 0


def register(sub) -> None:
    p = sub.add_parser("warehouse", help="start, stop or locate the warehouse")
    p.add_argument("action", choices=["start", "stop", "status", "url"])
    p.set_defaults(func=_cmd_warehouse)

    p = sub.add_parser("access", help="warehouse logins: passwords from the environment, street and community users")
    p.add_argument("action", choices=["list", "password", "street-user", "community-user"])
    p.add_argument("name", nargs="?", help="the login (role) name")
    p.add_argument("--community", help="community_id, for community-user")
    p.add_argument("--street", help="street_id, for street-user: its own street's rows only (a district's warehouse); "
                                    "without it, every row")
    p.add_argument("--password-env", help="name of the environment variable holding the password")
    p.set_defaults(func=_cmd_access)

    p = sub.add_parser("reference", help="a district's reference folder (streets, communities, deliveries, "
                                         "interventions): start one from the package's, or check one")
    p.add_argument("action", choices=["init", "check"])
    p.add_argument("dir", nargs="?", help="the folder (check: default the one in force, MINQING_REFERENCE_DIR)")
    p.add_argument("--force", action="store_true", help="init: overwrite the folder's reference files")
    p.set_defaults(func=_cmd_reference)

    p = sub.add_parser("rotate-hash-key", help="re-hash the personal-data keys in raw with a new MINQING_HASH_KEY")
    p.add_argument("--new-key-env", required=True, help="name of the environment variable holding the new key")
    p.set_defaults(func=_cmd_rotate_hash_key)
