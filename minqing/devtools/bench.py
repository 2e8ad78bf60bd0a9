"""`minqing bench`: what the pipeline costs at city scale, measured on this machine.

It makes its own data and its own database (`<warehouse>_bench`, dropped afterwards unless
`keep=True`) on the embedded warehouse or `WAREHOUSE_URL`, and measures:

0. `street_day`: a street's morning, the run its users have every day: a generated street month
   (`minqing generate`, about a hundred new records a day over three channels) in a database of its
   own, its first `street_history_days` in one run, then each of the next `street_days` days through
   `minqing run` in a fresh process (wall clock, what the user waits: `street_day_seconds`), and the
   day after them through the daily DAG with `dag.test()` (`street_day_dag_seconds`).

1. `ingest`: a large hotline export (`rows`, realistic Chinese text from the synthetic generator's
   phrase tables, every row a unique work order) through the real loader, against `copy`: psql's
   `\\copy` of the same rows, already normalised, into the same table (`ingest_vs_copy`);
2. `validate`: the GX suite of the hotline channel on those rows (`validate_vs_load`);
3. `reload`: the same file ingested again (a duplicate: no rows change) (`reload_vs_load`);
4. `daily`: one city-day of `daily_rows` new work orders through the whole pipeline in one process
   (`pipeline.run`: ingest, validation, classification, dbt build, forecast, the models after it) on top of
   each history size in `histories` (hotline rows in raw before the day: the export's, earlier
   measured days' and generated history) (`daily_large_vs_small`, reported as `daily_10m_vs_1m` when the
   sizes are 1M and 10M); history rows are written by SQL from the export's rows, dates shifted back
   one city-day per `daily_rows`;
5. `full_refresh`: `dbt build --full-refresh` at the largest history;
6. `cosmos` against `dbt_cli`: the dbt stage as Airflow tasks rendered by cosmos (`dag.test()` of a
   DAG with the project's task group) against one `dbt build` from the command line, same threads
   (`cosmos_vs_cli`).

Each timing is the median of `repeats` runs (the history steps: `history_repeats`). Nothing here
asserts a speed: `tests/e2e/test_bench.py` runs the same code on tiny sizes for correctness only.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ingestion.contracts import CONTRACTS
from ingestion.contracts.hotline import CONTRACT as HOTLINE_CONTRACT
from minqing import config, warehouse

HOTLINE_HEADER = list(HOTLINE_CONTRACT.header)
# The export's first day; history lies before it, the measured city-day after the export.
BENCH_DAY = dt.date(2026, 9, 1)
# issue 17's targets (the ratios at most; the ingest's peak memory in MiB, for the 200,000-row export)
TARGETS = {"street_day_seconds": 15.0, "street_day_dag_seconds": 60.0, "ingest_vs_copy": 2.0,
           "ingest_peak_pss_mib": 500, "validate_vs_load": 0.5, "daily_10m_vs_1m": 1.3, "cosmos_vs_cli": 1.3,
           "reload_vs_load": 0.05, "daily_10m_s": 60.0}


@dataclass
class BenchResult:
    settings: dict
    seconds: dict[str, float] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    progress: object = field(default=print, repr=False)

    def as_json(self) -> dict:
        return {"settings": self.settings, "seconds": self.seconds, "samples": self.samples,
                **self.figures, "targets": TARGETS, "notes": self.notes}


def _median(result: BenchResult, name: str, samples: list[float]) -> float:
    result.samples[name] = [round(s, 3) for s in samples]
    result.seconds[name] = round(statistics.median(samples), 3)
    result.progress(f"bench: {name} = {result.seconds[name]} s (median of {len(samples)})")
    return result.seconds[name]


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - started, value


# --- data -------------------------------------------------------------------------------------------

def _base_rows(seed: int) -> list[dict]:
    """Realistic hotline rows: two months of the synthetic street's 12345 / 400 exports."""
    from minqing.devtools.generate import generate

    from ingestion.common import decode

    with tempfile.TemporaryDirectory(prefix="minqing-bench-") as tmp:
        generate(Path(tmp), days=60, seed=seed, per_day=60)
        rows = []
        for path in sorted((Path(tmp) / "hotline").glob("*.csv")):
            text, _ = decode(path.read_bytes())
            rows += [r for r in csv.DictReader(io.StringIO(text, newline=""))
                     if r.get("诉求内容") and r.get("工单编号")]
    if not rows:
        raise RuntimeError("the generator wrote no hotline rows")
    return rows


def write_export(path: Path, rows: int, day: dt.date, base: list[dict], seed: int, serial: int = 0,
                 places: list[tuple[str, str]] | None = None) -> int:
    """A hotline export of `rows` work orders received on `day`: text, address, community, people
    and outcome from the generator's rows; ids, times and a building-and-room prefix made unique,
    so that no two texts are alike (each is classified, as in a real city-day). `places`: (street,
    community) names the rows are spread over in turn, one district-wide export whose 所属街道 decides
    (default: the generator's street, as its rows have it)."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    start = dt.datetime.combine(day, dt.time(0))
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(HOTLINE_HEADER)
        for i in range(rows):
            src = base[i % len(base)]
            received = start + dt.timedelta(seconds=rng.randrange(86_400))
            closed = received + dt.timedelta(hours=rng.randrange(2, 72))
            is_400 = src["工单编号"].startswith("400")
            order_id = (f"400-{day:%Y%m%d}-{(serial + i) % 10_000:04d}" if is_400 and i < 10_000 else
                        f"GD{day:%y%m%d}{serial + i:07d}")  # GD + 13 digits, up to 10 million a day
            line = "400" if order_id.startswith("400") else "12345"
            building = rng.randrange(1, 40)
            text = f"{building}号楼{rng.randrange(1, 7)}单元{rng.randrange(101, 2602)}：{src['诉求内容']}"
            address, street, community = src.get("诉求地址", ""), src.get("所属街道", ""), src.get("所属社区", "")
            if places:
                street, community = places[i % len(places)]
                address = f"{street}{community}{building}号楼"
            fmt = "%Y-%m-%d %H:%M:%S"
            writer.writerow([
                order_id, line, received.strftime(fmt), src.get("诉求人", ""), src.get("联系电话", ""),
                src.get("诉求类型", ""), text, address, street, community, src.get("问题分类", ""), src.get("承办单位", ""),
                (received + dt.timedelta(minutes=20)).strftime(fmt),
                (received + dt.timedelta(minutes=50)).strftime(fmt),
                (received + dt.timedelta(hours=3)).strftime(fmt),
                closed.strftime(fmt), "已办结", src.get("是否解决") if src.get("是否解决") in ("是", "否") else "是",
                src.get("满意度") if src.get("满意度") in ("满意", "基本满意", "不满意") else "满意",
                (closed + dt.timedelta(hours=1)).strftime(fmt),
            ])
    return rows


# --- the bench database ----------------------------------------------------------------------------

@contextlib.contextmanager
def bench_database(keep: bool = False, suffix: str = "bench"):
    """A new database beside the warehouse's (`<name>_<suffix>`), migrated; WAREHOUSE_URL points at it
    meanwhile."""
    server = warehouse.url()
    params = conninfo_to_dict(server)
    name = f"{params.get('dbname') or 'minqing'}_{suffix}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    params["dbname"] = name
    url = make_conninfo(**params)
    try:
        with config.overridden(WAREHOUSE_URL=url):
            warehouse.migrate()
            yield url
    finally:
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _reset_raw(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("truncate raw.hotline_work_orders, raw.miniprogram_tickets, raw.reception_entries, "
                     "raw.quarantine, ops.file_sightings, ops.ingested_files restart identity cascade")
        conn.execute("delete from ops.validation_runs")


def _psql() -> str:
    found = shutil.which("psql")
    if found:
        return found
    if warehouse.is_embedded():
        import pgserver

        candidate = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
        if candidate.exists():
            return str(candidate)
    raise FileNotFoundError("psql is needed for the COPY baseline (Debian: postgresql-client)")


def _copy_baseline(url: str, repeats: int, work: Path) -> list[float]:
    """psql's \\copy of the loaded rows, already normalised, back into the same (emptied) table."""
    dump = work / "normalised.csv"
    with psycopg.connect(url) as conn, dump.open("wb") as out:
        with conn.cursor().copy("copy (select * from raw.hotline_work_orders) to stdout (format csv)") as copy:
            for block in copy:
                out.write(block)
    samples = []
    for _ in range(repeats):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("truncate raw.hotline_work_orders")
        started = time.perf_counter()
        subprocess.run([_psql(), url, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                        f"\\copy raw.hotline_work_orders from '{dump}' (format csv)"], check=True)
        samples.append(time.perf_counter() - started)
    return samples


# --- history ---------------------------------------------------------------------------------------

def add_history(url: str, rows: int, per_day: int) -> None:
    """`rows` work orders of history before BENCH_DAY, made by SQL from the rows loaded so far: each
    copy gets a new id and is moved back one day per `per_day` rows. Their texts repeat the loaded
    ones, which are classified already, as a street's history would be, and validated already (a
    file without `validated_at` is validated by the next run)."""
    with psycopg.connect(url) as conn:
        base = conn.execute("select count(*) from raw.hotline_work_orders").fetchone()[0]
        if base == 0:
            raise RuntimeError("history is made from loaded rows: ingest first")
        # ids after those of earlier additions: a repeated id would be a second, identical version of
        # an order (the 10M run of issue 17 had 180,000 of them, and the status events read them daily)
        first_id = conn.execute("select coalesce(max(substring(work_order_id from 3)::bigint) + 1, 0) "
                                "from raw.hotline_work_orders where work_order_id like 'GH%'").fetchone()[0]
        # a file per day, as a real history comes (the planner's estimates of a day's scope read the
        # spread of file ids); the oldest day gets the lowest id
        days = 1 + (rows - 1) // per_day
        conn.execute("create temporary table history_files (day int primary key, file_id bigint not null)")
        conn.execute(
            "with added as (insert into ops.ingested_files (sha256, channel, path, size_bytes, status, rows_in, "
            "rows_loaded, rows_quarantined, detail, validated_at) "
            "select md5(random()::text) || 'bench-history', 'hotline', 'bench/history-' || d || '.csv', 0, 'loaded', "
            "n, n, 0, '{\"bench\": true}', now() "
            "from generate_series(%(days)s - 1, 0, -1) as d, "
            "lateral (select least(%(per_day)s, %(rows)s - d * %(per_day)s) as n) as counts order by d desc "
            "returning file_id, path) "
            "insert into history_files select substring(path from 'history-(\\d+)')::int, file_id from added",
            {"days": days, "per_day": per_day, "rows": rows})
        # the months the history reaches back to get their partitions first (migration 0015), so that its
        # rows go straight into them rather than into the default partition
        first, last = conn.execute(
            "select (min(received_at) at time zone 'Asia/Shanghai')::date - %s, "
            "(max(received_at) at time zone 'Asia/Shanghai')::date from raw.hotline_work_orders",
            (days,)).fetchone()
        months = (last.year - first.year) * 12 + last.month - first.month
        conn.execute("select ops.ensure_raw_partitions(%s, %s)", (first, months))
        conn.execute("""
            with base as (
                select row_number() over (order by file_id, row_number) - 1 as i, h.*
                from raw.hotline_work_orders h
            )
            insert into raw.hotline_work_orders
            select f.file_id, (1 + g %% %(per_day)s)::int, 'GH' || lpad((%(first_id)s + g)::text, 13, '0'), b.intake_line,
                   b.received_at - shift, b.complainant_name, b.complainant_phone, b.complainant_key,
                   b.complainant_name_masked, b.complainant_phone_masked, b.demand_type, b.content,
                   b.address, b.street, b.community, b.hotline_category, b.handling_unit,
                   b.dispatched_at - shift, b.accepted_at - shift, b.first_contact_at - shift,
                   b.closed_at - shift, b.status, b.resolved, b.satisfaction, b.updated_at - shift, b.extra
            from generate_series(0, %(rows)s - 1) as g
            cross join lateral (select make_interval(days => 1 + g / %(per_day)s) as shift) s
            join history_files f on f.day = g / %(per_day)s
            join base b on b.i = g %% %(base)s""", {"rows": rows, "per_day": per_day, "base": base, "first_id": first_id})
        conn.commit()
        conn.execute("analyze raw.hotline_work_orders")


def _trim_raw(url: str, total: int) -> None:
    """Keep the first `total` hotline rows (a history smaller than the export), their file's counts
    made to agree."""
    with psycopg.connect(url) as conn:
        conn.execute("""delete from raw.hotline_work_orders where (tableoid, ctid) in (
                            select tableoid, ctid from raw.hotline_work_orders order by file_id, row_number offset %s)""",
                     (total,))
        conn.execute("""update ops.ingested_files f set rows_in = c.n, rows_loaded = c.n, rows_quarantined = 0
                        from (select file_id, count(*) as n from raw.hotline_work_orders group by file_id) c
                        where c.file_id = f.file_id""")


def _disk(url: str) -> tuple[int, int] | None:
    """(the database's size, the free space of its disk) in bytes; None when the data directory is not
    local or not readable (a server of its own: not checked)."""
    with psycopg.connect(url) as conn:
        size = conn.execute("select pg_database_size(current_database())").fetchone()[0]
        try:
            data = Path(conn.execute("show data_directory").fetchone()[0])
        except psycopg.Error:
            return None
    return (size, shutil.disk_usage(data).free) if data.exists() else None


def _room_for_full_refresh(url: str) -> str | None:
    """Why a full refresh would not fit on the warehouse's disk, or None. It writes a second copy of
    the tables it rebuilds before dropping the first: about the database's size again (the 10M run of
    issue 17 stopped on a full disk and lost every figure)."""
    disk = _disk(url)
    if disk is None or disk[1] > disk[0] * 1.1:
        return None
    return f"it needs about {disk[0] / 2**30:.0f} GiB free beside the database, the disk has {disk[1] / 2**30:.0f} GiB"


def _room_for_history(url: str, rows_now: int, rows_wanted: int) -> str | None:
    """Why growing the history to `rows_wanted` would not fit on the disk, or None: the database grows about
    in proportion to its rows, with half as much again as a margin for the write-ahead log and the copies
    the build of the grown marts writes (on 2026-12-06 a 1M-row bench warehouse did not grow to 10M rows in
    the 69 GiB free, and the run stopped without a figure)."""
    disk = _disk(url)
    if disk is None or rows_now <= 0:
        return None
    needed = disk[0] * (rows_wanted / rows_now - 1) * 1.5
    if disk[1] > needed:
        return None
    return (f"it needs about {needed / 2**30:.0f} GiB free ({disk[0] / 2**30:.1f} GiB at {rows_now:,} rows, "
            f"grown in proportion, and half as much again for the build), the disk has {disk[1] / 2**30:.0f} GiB")


def _grow_history(url: str, total: int, per_day: int, first: bool = False) -> int:
    """Add history until raw holds `total` hotline rows (the export's and earlier measured days'
    count), and bring every file-driven step up to it (not timed): the history is what earlier days
    classified, built and validated, so the measured day finds it done, as a real morning would
    (`first`: the first build, which creates every table). Returns the rows there are."""
    from minqing import pipeline

    with psycopg.connect(url) as conn:
        have = conn.execute("select count(*) from raw.hotline_work_orders").fetchone()[0]
    if total > have:
        add_history(url, total - have, per_day)
    if total > have or first:
        # as of the end of the bench's export day, as the morning before the first measured day: built
        # as of its newest record instead (some close weeks later), the measured day's moment was earlier
        # than the last build's and every daily-scoped mart was rebuilt whole as for a backfill (the
        # grades: 1,060,000 rows in the first day at 1M)
        as_of = pipeline.as_of_for(BENCH_DAY)
        pipeline.classify()
        pipeline.build_marts(as_of)
        pipeline.forecast()
        pipeline.link()
        pipeline.effects()
        pipeline.build_after_forecast(as_of)
    return max(total, have)


# --- the steps -------------------------------------------------------------------------------------

def _ingest(landing: Path):
    from ingestion.loader import ingest

    return ingest(landing, progress=False)


def _validate(file_ids: list[int]):
    from quality.channels import validate_channel

    return validate_channel("hotline", file_ids, f"bench_{time.time_ns()}")


def _dbt_cli_build(url: str, threads: int, select: str | None) -> float:
    from minqing import pipeline, transform

    env = {**os.environ, **transform.dbt_env(url)}
    command = [str(Path(sys.executable).parent / "dbt"),
               *transform.dbt_arguments("build", "--threads", str(threads),
                                        *(["--select", select] if select else ["--selector", pipeline.BEFORE_FORECAST]),
                                        target_dir=config.home() / "dbt" / "bench-target")]
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - started


COSMOS_DAG = '''
"""The dbt stage alone, as the daily DAG renders it (written by `minqing bench`)."""
import json
import os

import sys

import pendulum
from airflow.sdk import DAG
from minqing import config, pipeline

sys.path.insert(0, str(config.DAGS_DIR))  # the DAGs' glue, dags/_minqing
import _minqing as glue  # noqa: E402

SELECT = json.loads(os.environ.get("MINQING_BENCH_SELECT", "[]"))  # all of the stage when empty

with DAG("minqing_bench_dbt", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
         catchup=False, max_active_runs=1):
    glue.dbt_task_group("dbt_build", selector=None if SELECT else pipeline.BEFORE_FORECAST, select=SELECT)
'''


def _cosmos_build(url: str, work: Path, select: str | None) -> float:
    """`dag.test()` of a DAG holding only the project's cosmos task group, in a fresh process."""
    from minqing import orchestration

    dags = work / "bench_dags"
    dags.mkdir(exist_ok=True)
    (dags / "minqing_bench_dbt.py").write_text(textwrap.dedent(COSMOS_DAG), encoding="utf-8")
    env = orchestration.dag_test_env(url, {"AIRFLOW__CORE__DAGS_FOLDER": str(dags),
                                           "MINQING_BENCH_SELECT": json.dumps([select] if select else [])})
    started = time.perf_counter()
    done = orchestration.run_dag_test("minqing_bench_dbt", dt.datetime(2026, 9, 2, 6, tzinfo=config.BEIJING),
                                      env=env, timeout=3600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the cosmos dbt DAG failed: {done.stderr[-2000:]}")
    return elapsed


# The preamble of a measured round in a fresh process: a thread that samples the process tree's
# proportional set size (pages shared between forked workers counted once) and the plain sum of RSS
# (which counts them in every process) every 0.1 s; `peaks()` stops it and gives both in MiB.
_TREE_PEAK = r"""
import json, sys, threading, time
import psutil, psycopg

peak = {"pss": 0, "rss_sum": 0}
stop = threading.Event()

def sample():
    me = psutil.Process()
    while not stop.is_set():
        pss = rss = 0
        for p in [me, *me.children(recursive=True)]:
            try:
                info = p.memory_full_info()
                pss, rss = pss + info.pss, rss + info.rss
            except psutil.Error:
                pass
        peak["pss"], peak["rss_sum"] = max(peak["pss"], pss), max(peak["rss_sum"], rss)
        stop.wait(0.1)

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()

def peaks():
    stop.set()
    sampler.join()
    return {"peak_pss_mib": peak["pss"] / 2**20, "peak_rss_sum_mib": peak["rss_sum"] / 2**20}
"""

CLASSIFY_ROUND = _TREE_PEAK + r"""
from minqing.analytics import classifier

with psycopg.connect(sys.argv[1]) as conn:
    classifier.model()
    started = time.perf_counter()
    with conn.cursor(name="bench_texts") as texts:  # a server-side cursor, as classify_pending reads
        texts.execute("select md5(content), content from (select distinct content from raw.hotline_work_orders "
                      "where content is not null) t order by 1 limit %s", (int(sys.argv[2]),))
        done = sum(size for size, _ in classifier._classified_batches(texts, classifier._workers()))
    seconds = time.perf_counter() - started
print(json.dumps({"texts": done, "seconds": seconds, **peaks()}))
"""

INGEST_ROUND = _TREE_PEAK + r"""
from minqing import config
from ingestion.loader import ingest

with config.overridden(WAREHOUSE_URL=sys.argv[1]):
    started = time.perf_counter()
    reports = ingest(sys.argv[2], progress=False)
    seconds = time.perf_counter() - started
print(json.dumps({"rows": sum(r.rows_loaded for r in reports), "seconds": seconds, **peaks()}))
"""


def _measured_round(script: str, *args: str) -> dict:
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _classify_round(url: str, texts: int) -> dict:
    """One classify round of `texts` distinct texts of raw in a fresh process, through the same server-side
    cursor, batches and worker pool as a run: its seconds and the process tree's peak memory."""
    return _measured_round(CLASSIFY_ROUND, url, str(texts))


def _ingest_round(url: str, landing: Path) -> dict:
    """One ingest of the landing folder in a fresh process (raw emptied first): its seconds and the
    process tree's peak memory, the loader's workers included."""
    _reset_raw(url)
    return _measured_round(INGEST_ROUND, url, str(landing))


# --- the benchmark ---------------------------------------------------------------------------------

STREET_START = dt.date(2026, 7, 1)  # the generated street month's first day


def _street_day(result: BenchResult, seed: int, work: Path, days: int, history_days: int, dag: bool,
                keep: bool) -> None:
    """0: a street's day through `minqing run` (each measured day in a fresh process) and through the DAG."""
    from minqing import orchestration
    from minqing.devtools import generate

    landing = work / "street"
    generate.generate(landing, days=history_days + days + int(dag), seed=seed, start=STREET_START)
    with bench_database(keep, suffix="bench_street") as url:
        env = {**os.environ, "WAREHOUSE_URL": url}
        command = [sys.executable, "-m", "minqing.cli", "run", "--landing", str(landing), "--date"]

        def run_day(day: dt.date) -> float:
            started = time.perf_counter()
            done = subprocess.run([*command, day.isoformat()], env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"minqing run --date {day} failed: {done.stderr[-2000:]}")
            seconds = time.perf_counter() - started
            # where the day's time went, as the run printed it (its stages, dbt's slowest nodes)
            for line in done.stdout.splitlines():
                for label, figure in (("time:", "street_day_stages"), ("slowest:", "street_day_slowest_nodes")):
                    if line.startswith(label):
                        result.figures[figure] = line.removeprefix(label).strip()
            return seconds

        first = STREET_START + dt.timedelta(days=history_days - 1)
        result.progress(f"bench: a street's first {history_days} days in one run ...")
        run_day(first)
        samples, rows = [], []
        for n in range(days):
            day = first + dt.timedelta(days=1 + n)
            result.progress(f"bench: a street-day through minqing run ({day}) ...")
            before = _raw_rows(url)
            samples.append(run_day(day))
            rows.append(_raw_rows(url) - before)
        if samples:
            result.figures["street_day_seconds"] = _median(result, "street_day", samples)
            result.figures["street_day_new_rows"] = round(statistics.median(rows))
        if dag:
            day = first + dt.timedelta(days=1 + days)
            result.progress(f"bench: a street-day through the daily DAG, dag.test() ({day}) ...")
            run_at = orchestration.logical_date_for(day)
            started = time.perf_counter()
            done = orchestration.run_dag_test("minqing_daily", run_at, env=orchestration.dag_test_env(
                url, extra={"LANDING_DIR": str(landing)}))
            seconds = time.perf_counter() - started
            if done.returncode != 0 or not done.summary or done.summary.get("state") != "success":
                raise RuntimeError(f"the DAG's street-day failed: {done.line() if done.summary else done.stderr[-2000:]}")
            result.figures["street_day_dag_seconds"] = _median(result, "street_day_dag", [seconds])
            result.figures["street_day_dag_tasks"] = done.summary["tasks"]


@contextlib.contextmanager
def city_reference(work: Path, streets: int):
    """The city-day's streets (issue 23): with `streets` > 1, a reference folder of that many streets
    (minqing.devtools.district.city_streets; no per-street deliveries, the export is district-wide) served
    through MINQING_REFERENCE_DIR meanwhile; yields the (street, community) names the export's rows are
    spread over, or None for the generator's street as it is."""
    if streets <= 1:
        yield None
        return
    from minqing.devtools import district

    city = district.city_streets(streets)
    folder = district.write_reference(work / "reference", city, deliveries=False)
    # the environment, not config.overridden (this process only): the cosmos step's dag.test() runs in a fresh
    # process, which must build from the same folder
    before = os.environ.get("MINQING_REFERENCE_DIR")
    os.environ["MINQING_REFERENCE_DIR"] = str(folder)
    try:
        yield [(street.name, community.name) for street in city for community in street.communities]
    finally:
        if before is None:
            os.environ.pop("MINQING_REFERENCE_DIR", None)
        else:
            os.environ["MINQING_REFERENCE_DIR"] = before


def _raw_rows(url: str) -> int:
    """Rows in the raw tables of every channel (the contracts name them)."""
    total = " + ".join(f"(select count(*) from {contract.table})" for contract in CONTRACTS.values())
    with psycopg.connect(url) as conn:
        return conn.execute(f"select {total}").fetchone()[0]


def run(rows: int = 200_000, daily_rows: int = 60_000, histories: tuple[int, ...] = (100_000, 300_000),
        repeats: int = 3, history_repeats: int = 1, cosmos_repeats: int = 1, threads: int = 2,
        seed: int = 11, keep: bool = False, dbt_select: str | None = None, street_days: int = 3,
        street_history_days: int = 27, street_dag: bool = True, streets: int = 1, progress=print) -> BenchResult:
    from minqing import pipeline

    histories = tuple(sorted(histories))
    result = BenchResult(settings={
        "rows": rows, "daily_rows": daily_rows, "histories": list(histories), "repeats": repeats,
        "history_repeats": history_repeats, "cosmos_repeats": cosmos_repeats, "threads": threads,
        "cpus": os.cpu_count(), "dbt_select": dbt_select, "street_days": street_days,
        "street_history_days": street_history_days, "street_dag": street_dag, "streets": streets,
        "warehouse": "embedded" if warehouse.is_embedded() else "WAREHOUSE_URL",
        "started_at": dt.datetime.now(config.BEIJING).isoformat(timespec="seconds")}, progress=progress)
    os.environ.setdefault("MINQING_DBT_THREADS", str(threads))
    if street_days or street_dag:
        with tempfile.TemporaryDirectory(prefix="minqing-bench-street-") as tmp:
            _street_day(result, seed, Path(tmp), street_days, street_history_days, street_dag, keep)
    with (tempfile.TemporaryDirectory(prefix="minqing-bench-") as tmp, city_reference(Path(tmp), streets) as places,
          bench_database(keep) as url):
        work = Path(tmp)
        progress(f"bench: data ({rows:,} rows of hotline export"
                 + (f", over {streets} streets' {len(places)} communities" if places else "") + ") ...")
        base = _base_rows(seed)
        export = work / "landing" / "hotline" / f"12345_{BENCH_DAY:%Y%m%d}.csv"
        write_export(export, rows, BENCH_DAY, base, seed, places=places)
        size_mb = export.stat().st_size / 1e6

        # 1-3: ingest, validate, re-ingest; COPY baseline
        ingest_s, validate_s, reload_s = [], [], []
        for i in range(repeats):
            _reset_raw(url)
            progress(f"bench: ingest {i + 1}/{repeats} ...")
            seconds, reports = _timed(_ingest, work / "landing")
            loaded = sum(r.rows_loaded for r in reports)
            if loaded != rows:  # the bench's rows are clean: a quarantined one is a bug of the bench
                reasons = [r.reason for r in reports if r.reason]
                raise RuntimeError(f"ingest loaded {loaded} of {rows} rows; quarantined: {reasons[:3]}")
            ingest_s.append(seconds)
            seconds, validation = _timed(_validate, [r.file_id for r in reports if r.file_id])
            validate_s.append(seconds)
            seconds, again = _timed(_ingest, work / "landing")
            if any(r.status != "duplicate" for r in again):
                raise RuntimeError("re-ingesting the same file loaded something")
            reload_s.append(seconds)
        result.figures["rows_loaded"] = loaded
        result.figures["rows_quarantined"] = rows - loaded
        result.figures["validation_success"] = bool(validation.success)
        ingest = _median(result, "ingest", ingest_s)
        progress("bench: ingest once more in a fresh process, for its memory ...")
        memory = _ingest_round(url, work / "landing")
        result.figures["ingest_peak_pss_mib"] = round(memory["peak_pss_mib"])
        result.figures["ingest_peak_rss_sum_mib"] = round(memory["peak_rss_sum_mib"])
        progress("bench: psql \\copy baseline ...")
        copy = _median(result, "copy", _copy_baseline(url, repeats, work))
        validate = _median(result, "validate", validate_s)
        reload = _median(result, "reload", reload_s)
        result.figures.update({
            "ingest_rows_per_s": round(rows / ingest), "ingest_mb_per_s": round(size_mb / ingest, 2),
            "copy_rows_per_s": round(rows / copy), "export_mb": round(size_mb, 1),
            "ingest_vs_copy": round(ingest / copy, 2), "validate_vs_load": round(validate / ingest, 2),
            "reload_vs_load": round(reload / ingest, 3)})

        # the history's seed: the export again, its texts back to the generator's few thousand (a
        # history is classified already; the measured days' texts are all new and are classified)
        _reset_raw(url)
        _ingest(work / "landing")
        with psycopg.connect(url) as conn:
            conn.execute(r"update raw.hotline_work_orders set content = regexp_replace(content, '^\d+号楼\d+单元\d+：', '')")
            # the history is validated already, as earlier days would have left it: the measured day's
            # validation checks its own rows only
            conn.execute("update ops.ingested_files set validated_at = now() where validated_at is null")
        pipeline.classify()
        _trim_raw(url, histories[0])
        progress("bench: history and a first build (creates every table: not a daily cost) ...")
        _grow_history(url, histories[0], daily_rows, first=True)

        # 6: cosmos against the command line, on the same data and threads
        cli_s, cosmos_s = [], []
        for i in range(cosmos_repeats):
            progress(f"bench: dbt build from the command line {i + 1}/{cosmos_repeats} ...")
            cli_s.append(_dbt_cli_build(url, threads, dbt_select))
            progress(f"bench: the same through Airflow and cosmos {i + 1}/{cosmos_repeats} ...")
            cosmos_s.append(_cosmos_build(url, work, dbt_select))
        if cosmos_repeats:
            cli = _median(result, "dbt_cli", cli_s)
            cosmos = _median(result, "cosmos", cosmos_s)
            result.figures["cosmos_vs_cli"] = round(cosmos / cli, 2)

        # 4-5: the daily run on top of each history size; a full refresh at the largest
        daily_at = {}
        rows_now = histories[0]
        for h_index, history in enumerate(histories):
            room = _room_for_history(url, rows_now, history) if h_index else None
            if room:
                result.notes.append(f"history of {history:,} rows not measured: {room}")
                progress(f"bench: {result.notes[-1]}")
                break
            progress(f"bench: history to {history:,} rows ...")
            rows_now = history
            result.figures[f"history_rows_at_{history}"] = _grow_history(url, history, daily_rows)
            samples = []
            for i in range(history_repeats):
                n = h_index * history_repeats + i  # every measured day its own texts: all of them new
                day = BENCH_DAY + dt.timedelta(days=1 + n)
                landing = work / f"daily_{h_index}_{i}"
                write_export(landing / "hotline" / f"12345_{day:%Y%m%d}.csv", daily_rows, day, base,
                             seed + 1 + n, serial=50_000, places=places)
                progress(f"bench: daily run on {history:,} rows of history ({i + 1}/{history_repeats}) ...")
                seconds, summary = _timed(pipeline.run, landing, day)
                if summary.failed_channels:
                    raise RuntimeError(f"the daily run failed: {summary.failed_channels}")
                samples.append(seconds)
                # where a daily run's time goes (the last run of each size): seconds per stage
                result.figures[f"daily_stages_at_{history}"] = summary.seconds
                result.figures[f"daily_slowest_nodes_at_{history}"] = summary.slowest_nodes
            daily_at[history] = _median(result, f"daily_at_{history}", samples)
        progress(f"bench: one classify round of {daily_rows:,} texts in a fresh process ...")
        round_ = _classify_round(url, daily_rows)
        workers = int(os.environ.get("MINQING_CLASSIFY_WORKERS") or os.cpu_count() or 1)
        result.seconds["classify_round"] = round(round_["seconds"], 2)
        result.figures.update({
            "classify_round_texts": round_["texts"], "classify_round_workers": workers,
            "classify_round_peak_pss_mib": round(round_["peak_pss_mib"]),
            "classify_round_peak_rss_sum_mib": round(round_["peak_rss_sum_mib"])})
        small, large = histories[0], max(daily_at)
        ratio = round(daily_at[large] / daily_at[small], 2) if large != small else None
        if ratio is not None:
            result.figures["daily_large_vs_small"] = ratio
        if (small, large) == (1_000_000, 10_000_000):
            result.figures["daily_10m_vs_1m"] = ratio
            result.figures["daily_10m_s"] = daily_at[large]
        room = _room_for_full_refresh(url)
        if room:
            result.notes.append(f"full refresh at {large:,} not measured: {room}")
            progress(f"bench: {result.notes[-1]}")
        from minqing import transform

        samples = []
        for _ in range(0 if room else history_repeats):
            progress(f"bench: full refresh at {large:,} rows ...")
            seconds, outcome = _timed(transform.run_dbt, "build", "--full-refresh", "--selector",
                                      pipeline.BEFORE_FORECAST)
            if not outcome.success:
                raise RuntimeError("dbt build --full-refresh failed")
            samples.append(seconds)
        if samples:
            _median(result, "full_refresh", samples)
    for name, target in TARGETS.items():
        value = result.figures.get(name)
        if value is not None and value > target:
            result.notes.append(f"{name} = {value} misses its target of {target}")
    return result


def table(result: BenchResult) -> str:
    """The figures for people."""
    s, f = result.seconds, result.figures
    streets = result.settings.get("streets", 1)
    lines = [f"minqing bench — {result.settings['rows']:,}-row export ({f.get('export_mb')} MB"
             + (f", over {streets} streets" if streets > 1 else "") + "), "
             f"{result.settings['cpus']} CPUs, {result.settings['warehouse']} warehouse; median seconds",
             f"{'step':<44}{'seconds':>10}   figure"]

    def row(label, key, figure=""):
        if key in s:
            lines.append(f"{label:<44}{s[key]:>10.2f}   {figure}")

    row(f"street-day, minqing run ({f.get('street_day_new_rows')} new rows)", "street_day", "a fresh process each")
    row(f"street-day, daily DAG with dag.test() ({f.get('street_day_dag_tasks')} tasks)", "street_day_dag")
    row("ingest (parse, normalise, hash, COPY)", "ingest", f"{f['ingest_rows_per_s']:,} rows/s, {f['ingest_mb_per_s']} MB/s")
    row("psql \\copy of the same rows, normalised", "copy", f"{f['copy_rows_per_s']:,} rows/s")
    if "ingest_peak_pss_mib" in f:
        lines.append(f"{'ingest in a fresh process, peak memory':<44}{'':>10}   {f['ingest_peak_pss_mib']} MiB PSS "
                     f"({f['ingest_peak_rss_sum_mib']} MiB summed RSS, workers included)")
    row("GX validation of those rows", "validate")
    row("re-ingest of the same file", "reload")
    row("one classify round, fresh process", "classify_round",
        f"{f.get('classify_round_texts', 0):,} texts, {f.get('classify_round_workers')} workers, peak "
        f"{f.get('classify_round_peak_pss_mib')} MiB PSS ({f.get('classify_round_peak_rss_sum_mib')} MiB summed RSS)")
    for history in result.settings["histories"]:
        stages = ", ".join(f"{k} {v:.0f}" for k, v in f.get(f"daily_stages_at_{history}", {}).items())
        row(f"daily run, {result.settings['daily_rows']:,} new, {history:,} history", f"daily_at_{history}", stages)
    row(f"dbt build --full-refresh at {max(result.settings['histories']):,}", "full_refresh")
    row(f"dbt build, command line ({result.settings['threads']} threads)", "dbt_cli")
    row("dbt stage through Airflow + cosmos", "cosmos")
    lines.append("")
    for name in ("street_day_seconds", "street_day_dag_seconds", "ingest_vs_copy", "ingest_peak_pss_mib", "validate_vs_load",
                 "reload_vs_load", "daily_large_vs_small", "daily_10m_vs_1m", "cosmos_vs_cli"):
        if name in f:
            target = TARGETS.get(name)
            verdict = "" if target is None else ("  (target ≤ %s: %s)" % (target, "met" if f[name] <= target else "MISSED"))
            lines.append(f"{name:<24}{f[name]:>8}{verdict}")
    lines.extend(f"note: {note}" for note in result.notes)
    return "\n".join(lines)


def main(args) -> int:
    import logging

    if getattr(args, "open311", False):
        from minqing import warehouse
        from minqing.devtools import open311_load

        warehouse.start()
        figures = open311_load.run()
        print(json.dumps(figures, ensure_ascii=False, indent=2) if args.json else "\n".join(open311_load.lines(figures)))
        return 0

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    logging.getLogger("ingestion").setLevel(logging.WARNING)
    # the sizes the command line names; the others are run()'s defaults (the one place they are stated)
    given = {"rows": args.rows, "daily_rows": args.daily_rows, "repeats": args.repeats,
             "history_repeats": args.history_repeats, "cosmos_repeats": args.cosmos_repeats, "threads": args.threads,
             "histories": tuple(int(h) for h in args.histories.split(",")) if args.histories else None}
    given.update(street_days=args.street_days, street_history_days=args.street_history_days, streets=args.streets)
    if args.no_street_dag:
        given["street_dag"] = False
    result = run(**{k: v for k, v in given.items() if v is not None}, keep=args.keep, dbt_select=args.dbt_select,
                 progress=(lambda m: print(m, file=sys.stderr)))
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
    else:
        print(table(result))
    return 0
