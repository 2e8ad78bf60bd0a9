"""Suites on the published marts: keys unique and not null, categories within the 15 codes, rates
within [0, 1], every community known. The code lists come from the dbt seeds, so they cannot drift
from what dbt builds.

A mart that fails its suite is not published (the caller decides); results are stored in
ops.validation_runs / ops.validation_results like the channels'.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass

import psycopg

from minqing import config, warehouse
from quality.context import TableValidation, update_data_docs, validate_table

log = logging.getLogger(__name__)


def _seed_column(seed: str, column: str) -> list[str]:
    with open(config.SEEDS_DIR / f"{seed}.csv", encoding="utf-8", newline="") as fh:
        return [row[column] for row in csv.DictReader(fh)]


def category_codes() -> list[str]:
    return _seed_column("issue_categories", "category_code")


def community_ids() -> list[str]:
    return _seed_column("communities", "community_id") + ["unresolved"]


def _unique(*columns: str) -> dict:
    if len(columns) == 1:
        return {"type": "expect_column_values_to_be_unique", "kwargs": {"column": columns[0]}}
    return {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": list(columns)}}


def _not_null(column: str) -> dict:
    return {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": column}}


def _in_set(column: str, values: list[str]) -> dict:
    return {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": column, "value_set": values}}


def _rate(column: str) -> dict:
    return {"type": "expect_column_values_to_be_between",
            "kwargs": {"column": column, "min_value": 0, "max_value": 1}}


@dataclass(frozen=True)
class MartSuite:
    table: str
    keys: tuple[str, ...]
    category_column: str | None = None
    community_column: str | None = None
    rate_columns: tuple[str, ...] = ()
    also_categories: tuple[str, ...] = ()  # e.g. 'all' on a community's overall grade
    also_communities: tuple[str, ...] = ()  # e.g. 'street' on street-wide rows
    nullable_keys: tuple[str, ...] = ()  # key columns a row may leave empty (a long table's dimensions)
    # a large incremental fact table: validate the rows of files newer than those already validated
    # (its keys' uniqueness over the whole table is dbt's unique test and the table's unique key)
    file_column: str | None = None

    def expectations(self, columns: set[str]) -> list[dict]:
        rules = [_unique(*self.keys), *(_not_null(k) for k in self.keys if k not in self.nullable_keys)]
        if self.category_column:
            rules.append(_in_set(self.category_column, category_codes() + list(self.also_categories)))
        if self.community_column:
            rules.append(_in_set(self.community_column, community_ids() + list(self.also_communities)))
        rules += [_rate(c) for c in self.rate_columns if c in columns]
        return rules


# The published marts and what each promises. Tables not built yet are skipped with a warning.
MART_SUITES = (
    MartSuite("fct_complaints", ("complaint_id",), "category_code", "community_id", ("category_confidence",),
              file_column="source_file_id"),
    MartSuite("fct_complaint_status_events", ("event_id",), file_column="source_file_id"),
    MartSuite("dim_community", ("community_id",), community_column="community_id"),
    MartSuite("dim_issue_category", ("category_code",), category_column="category_code"),
    MartSuite("fct_community_category_daily", ("date_day", "community_id", "category_code"), "category_code",
              "community_id"),
    MartSuite("fct_community_daily", ("date_day", "community_id"), community_column="community_id"),
    MartSuite("mart_issue_category_monthly", ("month_start", "area_level", "community_id", "category_code"),
              "category_code", "community_id", also_communities=("street",)),
    MartSuite("mart_three_rates", ("period_grain", "period_start", "area_level", "community_id", "channel_scope"),
              community_column="community_id", rate_columns=("composite_score",), also_communities=("street",)),
    MartSuite("mart_sentiment_code", ("period_grain", "period_start", "grade_level", "community_id", "category_code"),
              "category_code", "community_id", also_categories=("all",)),
    MartSuite("mart_complaint_grades", ("complaint_id",), "category_code", "community_id"),
    MartSuite("mart_high_frequency_problems", ("window_days", "problem_id"), "category_code", "community_id"),
    MartSuite("mart_monthly_theme_candidates", ("month_start", "candidate_level", "community_id", "category_code"),
              "category_code", "community_id", also_communities=("street",)),
    MartSuite("mart_early_warnings", ("community_id", "category_code"), "category_code", "community_id"),
    MartSuite("mart_dispatch_briefing",
              ("briefing_date", "section", "item_rank", "series_date", "source_channel", "community_id", "category_code"),
              "category_code", "community_id",
              nullable_keys=("series_date", "source_channel", "community_id", "category_code")),
    MartSuite("mart_delivery_status", ("delivery_id", "covers_day"), community_column="community_id"),
    MartSuite("mart_hotline_category_agreement", ("month_start", "hotline_category_code", "category_code"),
              "category_code"),
    MartSuite("mart_classification_review", ("complaint_id",), "category_code", "community_id",
              ("category_confidence", "candidate_1_probability", "candidate_2_probability", "candidate_3_probability")),
)


def _columns(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute("select column_name from information_schema.columns "
                        "where table_schema = 'marts' and table_name = %s", (table,)).fetchall()
    return {r[0] for r in rows}


def rate_columns(columns: set[str]) -> tuple[str, ...]:
    """Columns that hold a rate or share by name (…_rate, …_share): they must lie in [0, 1]."""
    return tuple(sorted(c for c in columns if c.endswith(("_rate", "_share"))))


def validate_marts(run_name: str, suites: tuple[MartSuite, ...] = MART_SUITES,
                   whole: bool = False) -> dict[str, TableValidation]:
    """Each mart against its suite. A suite with a `file_column` checks the rows of files newer than
    its last successful run (ops.file_watermarks, 'mart_suite:<table>'), unless `whole`."""
    results = {}
    with warehouse.connect() as conn:
        present = {s.table: _columns(conn, s.table) for s in suites}
        newest = warehouse.newest_file_id(conn)
        after = {s.table: warehouse.file_watermark(conn, f"mart_suite:{s.table}") for s in suites if s.file_column}
    try:
        for suite in suites:
            columns = present[suite.table]
            if not columns:
                log.warning("mart %s does not exist; not validated", suite.table)
                continue
            rules = suite.expectations(columns) + [_rate(c) for c in rate_columns(columns)
                                                   if c not in suite.rate_columns]
            by_file = suite.file_column if suite.file_column in columns and not whole else None
            result = validate_table("marts", suite.table, f"marts_{suite.table}", rules, run_name,
                                    file_column=by_file, after_file_id=after.get(suite.table) if by_file else None,
                                    update_docs=False)
            if suite.file_column and result.success:
                with warehouse.connect() as conn:
                    warehouse.set_file_watermark(conn, f"mart_suite:{suite.table}", newest)
                    conn.commit()
            results[suite.table] = result
    finally:  # one Data Docs update for the whole run (each rebuilds the index of every stored result)
        update_data_docs(resource for r in results.values() for resource in r.docs_resources)
    return results
