"""Who may read what: each role connects over a real connection to a warehouse built from the
hand-written contract folder, and the tests prove both what it can and what it cannot read —
including that no phone number, name or openid of the source files appears in any column bi_reader
can select, and that community staff see their own community's rows only (row-level security)."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ingestion.loader import ingest
from minqing import cli, transform
from minqing.publishing import access

from conftest import FIXTURES, migrated_database

EXPECTED = json.loads((FIXTURES / "contract_landing_expected.json").read_text(encoding="utf-8"))
RESTRICTED = ("raw.quarantine", "ops.ingested_files", "ops.text_classifications", "reference.communities",
              "meta.schema_migrations")


@pytest.fixture(scope="module")
def built(server_url):
    """The contract folder loaded and every mart built, once for the module."""
    with migrated_database(server_url) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_URL", url)
        patch.setenv("MINQING_HASH_KEY", "test-key-not-secret")
        ingest(FIXTURES / "contract_landing", progress=False)
        outcome = transform.build()
        assert outcome.success, outcome.failures
        yield url


@pytest.fixture()
def on_built(built, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", built)
    return built


def as_role(url: str, role: str) -> psycopg.Connection:
    params = conninfo_to_dict(url)
    params["user"] = role
    return psycopg.connect(make_conninfo(**params), autocommit=True)


def _cannot(conn, statement: str) -> None:
    with pytest.raises((errors.InsufficientPrivilege, errors.ReadOnlySqlTransaction)):
        conn.execute(statement)


def _marts_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1")]


def _personal_values() -> list[str]:
    values = set()
    for items in EXPECTED["facts"]["personal_data"].values():
        if isinstance(items, list):
            values.update(v for v in items if isinstance(v, str) and len(v) >= 2 and "*" not in v)
    assert values
    return sorted(values)


def test_bi_reader_reads_the_published_marts_and_nothing_else(built):
    tables = _marts_tables(built)
    assert "fct_complaints" in tables and "mart_sentiment_code" in tables
    with as_role(built, "bi_reader") as conn:
        for table in tables:
            conn.execute(f'select * from marts."{table}" limit 1')
        assert conn.execute("select count(*) from marts.fct_complaints").fetchone()[0] > 0
        for table in RESTRICTED + ("access.community_members", "staging.stg_hotline__work_orders", "intermediate.int_complaints__latest"):
            _cannot(conn, f"select * from {table} limit 1")
        for table in ("raw.hotline_work_orders", "raw.miniprogram_tickets", "raw.reception_entries"):
            _cannot(conn, f"select * from {table} limit 1")
        _cannot(conn, "insert into marts.dim_issue_category (category_code) values ('x')")
        _cannot(conn, "create table marts.mine (x int)")
        # everything it can select at all lies in the marts schema
        readable = conn.execute(
            """select distinct table_schema from information_schema.tables
               where table_schema not in ('pg_catalog', 'information_schema')
                 and has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'select')"""
        ).fetchall()
        assert {r[0] for r in readable} <= {"marts"}


def test_no_personal_data_of_the_source_files_in_any_column_bi_reader_can_select(built):
    values = _personal_values()
    with as_role(built, "bi_reader") as conn:
        columns = conn.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where table_schema not in ('pg_catalog', 'information_schema')
                 and has_column_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name),
                                          column_name, 'select')""").fetchall()
        assert len(columns) > 100
        for schema, table, column in columns:
            found = conn.execute(
                f'select v from unnest(%s::text[]) v where exists (select 1 from "{schema}"."{table}" '
                f'where strpos("{column}"::text, v) > 0)', (values,)).fetchall()
            assert not found, f"{[f[0] for f in found]} readable by bi_reader in {schema}.{table}.{column}"


def test_community_staff_read_their_own_community_only(on_built):
    access.community_user("test_staff_wangyuan", "wangyuan")
    with psycopg.connect(on_built) as owner:
        per_community = dict(owner.execute("select community_id, count(*) from marts.fct_complaints group by 1"))
        rates_rows = owner.execute("select count(*) from marts.mart_three_rates where community_id = 'wangyuan'"
                                   ).fetchone()[0]
        # the briefing lists a community's items on its street's rows and again on the district's (street_id null)
        street_items, district_items = owner.execute(
            "select count(*) filter (where street_id is not null), count(*) filter (where street_id is null) "
            "from marts.rpt_dispatch_briefing where community_id = 'wangyuan'").fetchone()
    assert street_items > 0 and district_items > 0
    assert per_community.get("wangyuan", 0) > 0 and len(per_community) > 1
    with as_role(on_built, "test_staff_wangyuan") as conn:
        seen = dict(conn.execute("select community_id, count(*) from marts.fct_complaints group by 1"))
        assert seen == {"wangyuan": per_community["wangyuan"]}
        assert conn.execute("select array_agg(distinct community_id) from marts.mart_three_rates").fetchone()[0] \
            == ["wangyuan"]
        assert conn.execute("select count(*) from marts.mart_three_rates").fetchone()[0] == rates_rows
        assert conn.execute("select count(*), count(*) filter (where street_id is null) "
                            "from marts.rpt_dispatch_briefing").fetchone() == (street_items, 0)  # each item once
        assert conn.execute("select array_agg(community_id) from marts.dim_community").fetchone()[0] == ["wangyuan"]
        _cannot(conn, "select * from marts.dim_issue_category")  # street-wide tables stay closed
        assert conn.execute("select role_name, community_id from access.community_members").fetchall() \
            == [("test_staff_wangyuan", "wangyuan")]  # its own membership, no one else's
        for table in RESTRICTED:
            _cannot(conn, f"select * from {table} limit 1")
        _cannot(conn, "update marts.fct_complaints set status = 'closed'")

    # moved to another community: the same login now sees that one
    access.community_user("test_staff_wangyuan", "jiner")
    with as_role(on_built, "test_staff_wangyuan") as conn:
        assert {r[0] for r in conn.execute("select distinct community_id from marts.fct_complaints")} <= {"jiner"}


def test_the_street_center_reads_every_row(on_built):
    access.street_user("test_street_officer")
    with psycopg.connect(on_built) as owner:
        total = owner.execute("select count(*) from marts.fct_complaints").fetchone()[0]
    with as_role(on_built, "test_street_officer") as conn:
        assert conn.execute("select count(*) from marts.fct_complaints").fetchone()[0] == total
        conn.execute("select * from marts.dim_issue_category")
        _cannot(conn, "select * from raw.quarantine")


def test_rebuilt_marts_keep_their_grants_and_policies(on_built):
    access.community_user("test_staff_wangyuan", "wangyuan")
    assert transform.build(select="fct_complaints dim_community").success
    with as_role(on_built, "bi_reader") as conn:
        assert conn.execute("select count(*) from marts.fct_complaints").fetchone()[0] > 0
    with as_role(on_built, "test_staff_wangyuan") as conn:
        assert {r[0] for r in conn.execute("select distinct community_id from marts.fct_complaints")} == {"wangyuan"}


def test_the_pipeline_role_writes_the_project_schemas_but_is_no_superuser(on_built):
    with as_role(on_built, "minqing_pipeline") as conn:
        conn.execute("select count(*) from raw.quarantine")
        conn.execute("create table marts.pipeline_probe (x int)")
        conn.execute("insert into marts.pipeline_probe values (1)")
        conn.execute("drop table marts.pipeline_probe")
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("create role someone_else")
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()[0] is False


def test_passwords_come_from_the_environment_and_rotate(on_built, monkeypatch, capsys):
    monkeypatch.setenv("TEST_BI_PASSWORD", "first-secret")
    assert cli.main(["access", "password", "bi_reader", "--password-env", "TEST_BI_PASSWORD"]) == 0
    with psycopg.connect(on_built) as owner:
        first = owner.execute("select rolpassword from pg_authid where rolname = 'bi_reader'").fetchone()[0]
    monkeypatch.setenv("TEST_BI_PASSWORD", "second-secret")
    assert cli.main(["access", "password", "bi_reader", "--password-env", "TEST_BI_PASSWORD"]) == 0
    with psycopg.connect(on_built) as owner:
        second = owner.execute("select rolpassword from pg_authid where rolname = 'bi_reader'").fetchone()[0]
    assert first and second and first != second and "secret" not in first + second  # stored hashed
    capsys.readouterr()
    monkeypatch.delenv("TEST_BI_PASSWORD")
    assert cli.main(["access", "password", "bi_reader", "--password-env", "TEST_BI_PASSWORD"]) == 2
    assert "TEST_BI_PASSWORD" in capsys.readouterr().err
    assert cli.main(["access", "community-user", "bad name;", "--community", "wangyuan"]) == 2
