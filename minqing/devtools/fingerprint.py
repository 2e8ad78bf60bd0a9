"""A fingerprint of every relation in `marts`: its row count and an md5 of its rows, for checking that
a change of code leaves what the marts hold as it was (issue 16: the same generated month, before and
after). Columns that hold the moment something ran (`*_classified_at`, `forecast_created_at`, `built_at`, `source_built_at`) differ
between any two runs and are left out; run both sides with the same MINQING_HASH_KEY, or the keys of
people differ.

    python -m minqing.devtools.fingerprint "$(minqing warehouse url)" > marts.json
"""

from __future__ import annotations

import json
import sys

import psycopg
from psycopg import sql

RUN_TIME_COLUMNS = ("category_classified_at", "forecast_created_at", "built_at", "source_built_at")


def fingerprint(url: str, skip: tuple[str, ...] = RUN_TIME_COLUMNS) -> dict[str, dict]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        out = {}
        for table in tables:
            columns = [r[0] for r in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'marts' "
                "and table_name = %s order by ordinal_position", (table,)) if r[0] not in skip]
            row = sql.SQL("row({})").format(sql.SQL(", ").join(map(sql.Identifier, columns)))
            count, digest = conn.execute(sql.SQL(
                "select count(*), md5(coalesce(string_agg(r::text, '|' order by r::text), '')) "
                "from (select {} as r from {}) s").format(row, sql.Identifier("marts", table))).fetchone()
            out[table] = {"rows": count, "md5": digest}
    return out


if __name__ == "__main__":
    json.dump(fingerprint(sys.argv[1]), sys.stdout, ensure_ascii=False, indent=1)
    print()
