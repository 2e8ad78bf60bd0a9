"""`minqing demo`: a generated month through the real DAGs, and where to look afterwards.

A development tool: it generates synthetic data (minqing.devtools.generate), backtests the forecast on
a generated history in a database of its own, and runs the two Airflow DAGs with dag.test().
"""

from __future__ import annotations

import datetime as dt
import sys

from minqing import config, warehouse


def first_day(args) -> dt.date:
    """The demo's first generated day: --start, else the generator's default."""
    from minqing.devtools.generate import DEFAULT_START

    return args.start or DEFAULT_START


def run(args) -> int:
    """`minqing demo`: generate, backtest (with --history-days), run both DAGs with dag.test(), show where to look."""
    from minqing import orchestration
    from minqing.devtools.generate import generate

    verbose = getattr(args, "verbose", 0)
    demo_dir = config.home() / "demo"
    landing = demo_dir / "landing"
    start = first_day(args)
    last_day = start + dt.timedelta(days=args.days - 1)
    steps = 4 if args.history_days else 3
    streets = getattr(args, "streets", 1)
    print(f"1/{steps} generating {args.days} days ({start} .. {last_day}) of synthetic complaints into {landing}"
          + (f": a district of {streets} streets, its reference folder in {demo_dir / 'reference'}" if streets > 1 else ""))
    reference_dir = None
    if streets > 1:
        from minqing.devtools import district

        district.generate_district(landing, days=args.days, seed=args.seed, per_day=args.per_day, start=start,
                                   streets=streets)
        reference_dir = district.write_reference(demo_dir / "reference", streets)
    else:
        generate(landing, days=args.days, seed=args.seed, per_day=args.per_day, start=start)
    url = warehouse.start()
    backtest_lines = []
    if args.history_days:
        print(f"2/{steps} the forecast's backtest and the interventions' effects: {args.history_days} days of "
              f"generated history (the seed's interventions injected) through the pipeline in the database "
              f"{HISTORY_DATABASE}, then a rolling-origin backtest and `minqing effect` for each intervention")
        backtest_lines = _demo_history(url, args)  # 六里桥街道's history, under the package's reference folder
    extra = {"LANDING_DIR": str(landing)}  # the DAGs read the demo's landing
    if reference_dir is not None:  # and the district's reference folder, as this process from here on
        extra["MINQING_REFERENCE_DIR"] = str(reference_dir)
        config.set_for_process("MINQING_REFERENCE_DIR", str(reference_dir))
    print(f"{steps - 1}/{steps} running the Airflow DAGs with dag.test() for {last_day} (a few minutes): "
          f"{orchestration.DAILY_DAG_ID} (ingest, validate, classify, dbt through cosmos, forecast, the models "
          f"after it, publish), then {orchestration.BRIEFING_DAG_ID} (scheduled on the published briefing mart)")
    run_at = orchestration.logical_date_for(last_day)
    run_lines = []
    env = orchestration.dag_test_env(extra=extra)
    for dag_id in (orchestration.DAILY_DAG_ID, orchestration.BRIEFING_DAG_ID):
        done = orchestration.run_dag_test(dag_id, run_at, env=env)
        output = demo_dir / f"{dag_id}.log"  # the run's whole output (task logs), kept for a look
        output.write_text(f"{done.stdout}\n--- stderr ---\n{done.stderr}", encoding="utf-8")
        run_lines.append(done.line(day=dag_id == orchestration.DAILY_DAG_ID))
        if verbose:
            run_lines.append(f"  task states: {(done.summary or {}).get('task_states')}; output: {output}")
        if done.returncode != 0:
            # the end of the output, without dag.test()'s repeated "No tasks to run" lines
            tail = [line for line in f"{done.stdout}\n{done.stderr}".splitlines() if "No tasks to run" not in line]
            print("\n".join(tail[-80:])[-8000:], file=sys.stderr)
            failed = (done.summary or {}).get("failed_tasks") or []
            print(f"minqing demo: {run_lines[-1]}" + (f"; failed: {', '.join(failed)}" if failed else ""),
                  file=sys.stderr)
            print(f"minqing demo: the DAG run of {dag_id} failed; the end of its output is above, "
                  f"all of it in {output}", file=sys.stderr)
            return 1
    from minqing import transform

    transform.docs()
    print(f"{steps}/{steps} done. The DAG runs:")
    for line in run_lines:
        print("    " + line)
    print("Where to look:")
    for line in backtest_lines + _where_to_look(url, verbose=verbose):
        print("    " + line)
    if reference_dir is not None:
        from minqing.publishing import district_page

        print(f"    district page (各街道排名, opens offline): {district_page.write(config.briefing_dir())}")
    return 0


HISTORY_DATABASE = "minqing_history"


# The demo's injected effects: how much each intervention of reference/interventions.csv changes its
# communities' complaints in the generated history (invented, as the seed's dates are), so that
# `minqing effect` has something to find in the demo and its reading can be checked against it.
DEMO_EFFECT_SIZES = {"changlao": -0.45, "zongheng": -0.25, "jinguanjia": -0.3}


def demo_effects() -> tuple:
    """The generator's effects for the seed's interventions (DEMO_EFFECT_SIZES; none for an id without one)."""
    import csv

    from minqing.analytics.effects import Intervention
    from minqing.devtools.generate import Effect

    with open(config.seed_path("communities"), encoding="utf-8", newline="") as fh:
        names = {r["community_id"]: r["community_name"] for r in csv.DictReader(fh)}
    with open(config.seed_path("interventions"), encoding="utf-8", newline="") as fh:
        interventions = [Intervention.from_row(row) for row in csv.DictReader(fh)]
    return tuple(Effect(names[community], i.start, DEMO_EFFECT_SIZES[i.intervention_id], i.categories, i.end)
                 for i in interventions if i.intervention_id in DEMO_EFFECT_SIZES for community in i.communities)


def _demo_history(url: str, args) -> list[str]:
    """Generate a multi-year history, the seed's interventions injected (DEMO_EFFECT_SIZES), into its own
    database on the same server, run the pipeline on it, backtest the forecast and estimate each
    intervention's effect there (pages under $MINQING_HOME/demo/effects); the demo's own warehouse is left
    alone."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    from minqing.analytics import effects
    from minqing.analytics.forecast import backtest, backtest_lines
    from minqing.devtools.generate import generate
    from minqing.pipeline import run
    from minqing.publishing import effect_page

    params = conninfo_to_dict(url)
    with warehouse.connect(autocommit=True) as conn:
        conn.execute(f'drop database if exists "{HISTORY_DATABASE}" with (force)')
        conn.execute(f'create database "{HISTORY_DATABASE}"')
    params["dbname"] = HISTORY_DATABASE
    landing = config.home() / "demo" / "history"
    first = first_day(args) - dt.timedelta(days=args.history_days)
    generate(landing, days=args.history_days, seed=args.seed + 1, per_day=25, start=first, effects=demo_effects())
    pages = config.home() / "demo" / "effects"
    effect_lines = []
    with config.overridden(WAREHOUSE_URL=make_conninfo(**params)):
        warehouse.migrate()
        run(landing)
        result = backtest()
        lines = backtest_lines(result)
        with warehouse.connect() as conn:
            # the run's effects stage estimated each intervention into marts.mart_intervention_effects; the
            # page (its charts) comes from the same estimate made again
            published = {row[0]: row[1:] for row in conn.execute(
                "select intervention_id, effect_pct, ci_low_pct, ci_high_pct, p_value from marts.mart_intervention_effects "
                "where category_code = 'all' and method = 'poisson_did'").fetchall()}
            names = effects.category_names(conn)
            for intervention in effects.interventions(conn).values():
                out = effects.result_dict(intervention, effects.estimate_intervention(conn, intervention), names)
                injected = DEMO_EFFECT_SIZES.get(intervention.intervention_id)
                effect, low, high, p = published[intervention.intervention_id]
                effect_lines.append(
                    f"effect of {intervention.name} ({intervention.intervention_id}, injected "
                    f"{'none' if injected is None else f'{100 * injected:+.0f}%'}) in marts.mart_intervention_effects: "
                    + ("not estimated" if effect is None else f"{effect:+.1f}% [{_bound(low)}, {_bound(high)}], p = {p}")
                    + f"; page {effect_page.write(out, pages)}")
    for line in lines + effect_lines:
        print("    " + line)
    overall = result["overall"]
    year = "—" if overall["naive_year_mae"] is None else f"{overall['naive_year_mae']:.3f}"
    return [f"forecast backtest ({args.history_days} days of history, database {HISTORY_DATABASE}): overall MAE "
            f"{overall['model_mae']:.3f} against seasonal-naive {overall['naive_week_mae']:.3f} (last week) and "
            f"{year} (same week last year): {'beats' if overall['beats_naive_week'] else 'does NOT beat'} "
            f"seasonal-naive", *effect_lines,
            f"an intervention's effect again: WAREHOUSE_URL=<the {HISTORY_DATABASE} database> minqing effect "
            f"--intervention changlao"]


def _bound(pct) -> str:
    return "unbounded" if pct is None else f"{pct:+.1f}%"


def _where_to_look(url: str, verbose: bool = False) -> list[str]:
    """A screen's worth: totals of the landing files and rows, the warehouse, the marts in one line,
    the docs, the briefing last. `verbose`: a line per landing file and per mart too."""
    from ingestion.loader import CHANNELS
    from minqing.publishing import validation_report

    with warehouse.connect() as conn:
        per_file = conn.execute(
            """select s.path, f.channel,
                      case when s.path = f.path then f.status else 'duplicate' end,
                      case when s.path = f.path then f.rows_in else 0 end,
                      case when s.path = f.path then f.rows_loaded else 0 end,
                      case when s.path = f.path then f.rows_quarantined else 0 end,
                      case when s.path = f.path then f.reason else 'same bytes as ' || f.path end
               from ops.file_sightings s join ops.ingested_files f using (file_id)
               order by s.path""").fetchall() if verbose else []
        files = conn.execute("select status, count(*), coalesce(sum(rows_in), 0), coalesce(sum(rows_loaded), 0), "
                             "coalesce(sum(rows_quarantined), 0) "
                             "from ops.ingested_files group by status order by status").fetchall()
        duplicates = conn.execute("select count(*) from ops.file_sightings s join ops.ingested_files f "
                                  "using (file_id) where s.path <> f.path").fetchone()[0]
        marts = conn.execute("select table_name from information_schema.tables where table_schema = 'marts' "
                             "order by table_name").fetchall()
        counts = {m[0]: conn.execute(f'select count(*) from marts."{m[0]}"').fetchone()[0] for m in marts}
    lines = []
    if per_file:
        width = max(len(r[0]) for r in per_file)
        lines += [f"{path:<{width}}  {channel:<11} {status:<11} in {rows_in:>5}  loaded {loaded:>5}  "
                  f"quarantined {quarantined:>3}{'  — ' + reason if reason else ''}"
                  for path, channel, status, rows_in, loaded, quarantined, reason in per_file]
    seen = sum(n for _, n, *_ in files) + duplicates
    by_status = " + ".join([f"{n} {status}" for status, n, *_ in files] + [f"{duplicates} duplicate"])
    lines.append(f"landing files ({', '.join(CHANNELS)}): {seen} = {by_status}")
    rows_in, loaded, quarantined = (sum(f[i] for f in files) for i in (2, 3, 4))
    per_status = "; ".join(f"{status} files: {r_in} = {r_loaded} + {r_quarantined}"
                           for status, _, r_in, r_loaded, r_quarantined in files)
    lines.append(f"rows: {rows_in} in = {loaded} loaded + {quarantined} quarantined"
                 + (f" ({per_status})" if len(files) > 1 else ""))
    lines.append(f"warehouse: psql \"{url}\"")
    lines.append(f"quarantined rows and why: psql \"{url}\" -c 'select * from raw.quarantine'")
    lines.append(f"marts: {len(counts)} tables in schema marts, {sum(counts.values())} rows"
                 + ("" if verbose else " (-v: per table)"))
    if verbose:
        lines += [f"  {name:<32} {count:>8} rows" for name, count in counts.items()]
    # every page below opens from disk with no network (README: Documentation pages offline)
    lines.append(f"validation report (数据校验报告, opens offline): {validation_report.write()}")
    docs = config.home() / "dbt" / "docs" / "static_index.html"
    lines.append(f"dbt docs (one page, opens offline): {docs if docs.exists() else 'run `minqing dbt-docs` to build them'}"
                 " — the interactive site: `minqing docs serve`")
    briefings = sorted(config.briefing_dir().glob("briefing_*.html"))
    if briefings:
        newest = briefings[-1]
        pdf = newest.with_suffix(".pdf")
        lines.append(f"dispatch briefing (每日调度简报): {newest}")
        lines.append(f"  PDF: {pdf if pdf.exists() else 'none (no Chromium here); the page prints on A4 from a browser'}"
                     f"; CSV tables beside it")
        streets = sorted(page.parent.name for page in config.briefing_dir().glob(f"*/{newest.name}"))
        if streets:
            lines.append(f"  each street's own (its morning meeting): {config.briefing_dir()}/<street>/{newest.name} "
                         f"for {', '.join(streets)}")
    else:
        lines.append(f"dispatch briefing (每日调度简报): none under {config.briefing_dir()}")
    return lines
