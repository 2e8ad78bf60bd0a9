"""Logins of the warehouse (migration 0004_roles_and_access.sql): passwords from the environment,
street-center and community logins, and what each may read.

Passwords never appear on a command line or in a file of the project: they are read from the
environment variable the caller names (`--password-env BI_READER_PASSWORD`), and setting one again
rotates it. Without a password a login can only connect where the server trusts local connections
(the embedded warehouse's Unix socket)."""

from __future__ import annotations

import re

from psycopg import sql

from minqing import config, warehouse

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SERVICE_ROLES = ("minqing_pipeline", "bi_reader", "open311")


def _role(name: str) -> sql.Identifier:
    if not ROLE_NAME.match(name):
        raise ValueError(f"role name {name!r}: lower-case letters, digits and _ only, at most 63, not starting with a digit")
    return sql.Identifier(name)


def _password(env_var: str | None) -> str | None:
    if not env_var:
        return None
    value = config.secret_from(env_var)
    if not value:
        raise ValueError(f"the environment variable {env_var} is empty or unset")
    return value


def _ensure_login(conn, name: str, password: str | None) -> None:
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    verb = sql.SQL("alter") if exists else sql.SQL("create")
    statement = sql.SQL("{} role {} login nosuperuser nocreaterole nocreatedb").format(verb, _role(name))
    if password is not None:
        statement += sql.SQL(" password {}").format(sql.Literal(password))
    conn.execute(statement)


def set_password(role: str, password_env: str) -> None:
    """Set (or rotate) the password of a login from an environment variable."""
    password = _password(password_env)
    with warehouse.connect(autocommit=True) as conn:
        if not conn.execute("select 1 from pg_roles where rolname = %s and rolcanlogin", (role,)).fetchone():
            raise ValueError(f"no login role {role!r} (service roles: {', '.join(SERVICE_ROLES)}; "
                             f"people: minqing access street-user / community-user)")
        conn.execute(sql.SQL("alter role {} password {}").format(_role(role), sql.Literal(password)))


def _known(conn, seed: str, column: str, value: str) -> bool:
    """Whether the seed table reference.<seed> holds `value` in `column`; True before the seeds are loaded
    (nothing to check against yet)."""
    if not conn.execute("select to_regclass(%s)", (f"reference.{seed}",)).fetchone()[0]:
        return True
    return conn.execute(sql.SQL("select 1 from reference.{} where {} = %s").format(
        sql.Identifier(seed), sql.Identifier(column)), (value,)).fetchone() is not None


def street_user(name: str, password_env: str | None = None, street_id: str | None = None) -> None:
    """A login of a street complaint center. Without `street_id`: every row of the published marts (a street's
    own install, or the district's). With it: the rows of that street only (row-level security on street_id;
    the marts without one stay closed)."""
    with warehouse.connect() as conn:
        if street_id is not None and not _known(conn, "streets", "street_id", street_id):
            raise ValueError(f"unknown street {street_id!r} (see reference.streets)")
        _ensure_login(conn, name, _password(password_env))
        conn.execute("delete from access.community_members where role_name = %s", (name,))
        conn.execute(sql.SQL("revoke community_staff from {}").format(_role(name)))
        if street_id is None:
            conn.execute(sql.SQL("revoke street_staff from {}").format(_role(name)))
            conn.execute("delete from access.street_members where role_name = %s", (name,))
            conn.execute(sql.SQL("grant street_center to {}").format(_role(name)))
        else:
            conn.execute(sql.SQL("revoke street_center from {}").format(_role(name)))
            conn.execute(sql.SQL("grant street_staff to {}").format(_role(name)))
            conn.execute("""insert into access.street_members (role_name, street_id) values (%s, %s)
                            on conflict (role_name) do update set street_id = excluded.street_id, granted_at = now()""",
                         (name, street_id))
        conn.commit()


def community_user(name: str, community_id: str, password_env: str | None = None) -> None:
    """A login of one community's staff: reads the rows of that community only (row-level security)."""
    with warehouse.connect() as conn:
        if not _known(conn, "communities", "community_id", community_id):
            raise ValueError(f"unknown community {community_id!r} (see reference.communities)")
        _ensure_login(conn, name, _password(password_env))
        conn.execute(sql.SQL("revoke street_center from {}").format(_role(name)))
        conn.execute(sql.SQL("revoke street_staff from {}").format(_role(name)))
        conn.execute("delete from access.street_members where role_name = %s", (name,))
        conn.execute(sql.SQL("grant community_staff to {}").format(_role(name)))
        conn.execute("""insert into access.community_members (role_name, community_id) values (%s, %s)
                        on conflict (role_name) do update set community_id = excluded.community_id, granted_at = now()""",
                     (name, community_id))
        conn.commit()


def members() -> list[tuple[str, str]]:
    """Every login and what it reads."""
    with warehouse.connect() as conn:
        rows = conn.execute(
            """select r.rolname,
                      case when r.rolname = 'bi_reader' then 'published marts, all rows (BI)'
                           when r.rolname = 'minqing_pipeline' then 'pipeline: reads and writes every project schema'
                           when pg_has_role(r.oid, 'street_center', 'member') then 'street center: published marts, all rows'
                           when m.community_id is not null then 'community ' || m.community_id || ': its own rows'
                           when s.street_id is not null then 'street ' || s.street_id || ': its own rows'
                       end
               from pg_roles r
               left join access.community_members m on m.role_name = r.rolname
               left join access.street_members s on s.role_name = r.rolname
               where r.rolcanlogin and not r.rolsuper
                 and (r.rolname in ('bi_reader', 'minqing_pipeline') or m.role_name is not null
                      or s.role_name is not null or pg_has_role(r.oid, 'street_center', 'member'))
               order by 1""").fetchall()
    return [(r[0], r[1]) for r in rows]
