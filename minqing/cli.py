"""The `minqing` command."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shlex
import sys
from pathlib import Path

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


def _summary_line(reports) -> str:
    by_status = {s: sum(1 for r in reports if r.status == s)
                 for s in ("loaded", "duplicate", "quarantined", "unreadable")}
    rows_in = sum(r.rows_in for r in reports)
    loaded = sum(r.rows_loaded for r in reports)
    quarantined = sum(r.rows_quarantined for r in reports)
    unreadable = f", {by_status['unreadable']} UNREADABLE" if by_status["unreadable"] else ""
    return (f"ingest: {len(reports)} files ({by_status['loaded']} loaded, {by_status['duplicate']} duplicate, "
            f"{by_status['quarantined']} quarantined{unreadable}); "
            f"rows: {rows_in} in = {loaded} loaded + {quarantined} quarantined")


def _print_reports(reports) -> None:
    width = max((len(r.file) for r in reports), default=10)
    for r in reports:
        note = f"  — {r.reason}" if r.reason else (f"  (same bytes as {r.duplicate_of})" if r.duplicate_of else "")
        print(f"{r.file:<{width}}  {r.channel:<11} {r.status:<11} in {r.rows_in:>6}  loaded {r.rows_loaded:>6}  "
              f"quarantined {r.rows_quarantined:>5}{note}")


def _cmd_ingest(args) -> int:
    from ingestion.loader import ingest

    warehouse.migrate()
    landing = config.landing_dir(args.landing)
    reports = ingest(landing, progress=False if args.json else None)
    if args.json:
        json.dump([r.as_json() for r in reports], sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        if args.verbose:
            _print_reports(reports)
        print(_summary_line(reports))
        for r in reports:
            if r.status == "unreadable" and not args.verbose:
                print(f"{r.file}: {r.reason}", file=sys.stderr)
    # An unreadable file is not lost (the next run reads it again) but someone must look: exit 1.
    return 1 if any(r.status == "unreadable" for r in reports) else 0


def _cmd_generate(args) -> int:
    from minqing.devtools.generate import generate, write_training_texts

    if args.training_texts:
        count = write_training_texts(Path(args.training_texts), seed=args.seed)
        print(f"generate: {count} labelled texts of the phrase tables in {args.training_texts}")
        return 0
    if args.days is None or args.out is None:
        raise RuntimeError("generate needs --days and --out (or --training-texts FILE)")
    manifest = generate(Path(args.out), days=args.days, seed=args.seed, per_day=args.per_day, start=args.start)
    totals = manifest.get("totals", {})
    print(f"generate: {len(manifest.get('files', {}))} files under {args.out} "
          f"({', '.join(f'{k} {v}' for k, v in totals.items() if not isinstance(v, dict))})")
    return 0


def _cmd_demo(args) -> int:
    from minqing.devtools import demo

    return demo.run(args)


def _cmd_dbt_manifest(args) -> int:
    from minqing import orchestration

    print(orchestration.ensure_manifest())
    return 0


def _cmd_rebuild(args) -> int:
    from minqing import pipeline, transform

    with pipeline.exclusive_run():  # never beside a run's incremental build
        outcome = transform.run_dbt("build", "--full-refresh", as_of=args.as_of)
    for failure in outcome.failures:
        print(f"{failure['node']}: {failure['status']}: {failure['message']}", file=sys.stderr)
    print(f"dbt build --full-refresh: {'ok' if outcome.success else 'FAILED'}, {len(outcome.results)} nodes")
    return 0 if outcome.success else 1


def _cmd_dbt_docs(args) -> int:
    from minqing import transform

    print(transform.docs())
    return 0


def _cmd_airflow(args) -> int:
    from minqing import orchestration

    if args.action == "env":
        for key, value in orchestration.airflow_env().items():
            print(f"export {key}={shlex.quote(value)}")
        return 0
    day = args.date or dt.datetime.now(config.BEIJING).date() - dt.timedelta(days=1)
    run_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(6), config.BEIJING)
    done = orchestration.run_dag_test(args.dag, run_at)
    print(done.stdout[-4000:])
    if done.returncode != 0:
        print(done.stderr[-8000:], file=sys.stderr)
    return done.returncode


def _cmd_run(args) -> int:
    from minqing.pipeline import run

    summary = run(args.landing, day=args.date, as_of=args.as_of)
    print("\n".join(summary.lines()))
    return 1 if summary.failed_channels else 0


def _cmd_classify(args) -> int:
    from minqing.analytics.classifier import main_stdin

    return main_stdin(explain=args.explain)


def _cmd_classify_eval(args) -> int:
    from minqing.devtools.evaluate_classifier import main as evaluate_main

    return evaluate_main(args.file, folds=args.folds, json_output=args.json)


def _cmd_classifier_train(args) -> int:
    from minqing.analytics.classifier_training import train

    summary = train(Path(args.out) if args.out else None, with_reviews=not args.no_reviews)
    texts = summary["texts"]
    print(f"classifier train: {texts['real']} real, {texts['project']} project and {texts['review']} reviewed "
          f"texts ({texts['dropped_as_evaluation_texts']} dropped as evaluation texts); "
          f"{summary['features']:,} features, temperature {summary['temperature']:.3f}")
    print(f"  wrote {summary['artefact']} ({summary['bytes']:,} bytes, sha256 {summary['sha256'][:12]})")
    return 0


def _cmd_forecast(args) -> int:
    from minqing.analytics.forecast import forecast_lines, write_forecasts

    print("\n".join(forecast_lines(write_forecasts(args.as_of))))
    return 0


def _cmd_backtest(args) -> int:
    from minqing.analytics.forecast import backtest, backtest_lines

    result = backtest(origins=args.origins)
    if args.json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print("\n".join(backtest_lines(result)))
    return 0


def _cmd_briefing(args) -> int:
    from minqing.publishing import briefing

    try:
        written = briefing.write(args.date, Path(args.out), pdf=args.pdf)
    except briefing.BriefingNotFound as exc:
        print(f"minqing briefing: {exc}", file=sys.stderr)
        return 2
    print(f"briefing: {written['html']}")
    print(f"tables:   {written['csv']}/*.csv")
    if written["pdf"]:
        print(f"pdf:      {written['pdf']}")
    elif args.pdf is None:
        print("pdf:      not written (no Chromium found: apt-get install chromium, or set MINQING_CHROMIUM); "
              "the HTML page prints on A4 from any browser")
    return 0


def _cmd_bench(args) -> int:
    from minqing.devtools import bench

    warehouse.migrate()
    return bench.main(args)


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
            access.street_user(args.name, args.password_env)
            print(f"{args.name}: street center, reads every row of the published marts")
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


def _cmd_review(args) -> int:
    from minqing.analytics import review

    warehouse.migrate()
    with warehouse.connect() as conn:
        if args.action == "export":
            count = review.export(conn, Path(args.out))
            print(f"review export: {count} complaints awaiting review in {args.out}; fill in the "
                  f"{review.CATEGORY_COLUMN} column and run `minqing review import {args.out}`")
            return 0
        try:
            result = review.import_file(conn, Path(args.file), by=args.by)
        except review.FileRefused as exc:
            for line in exc.problems + exc.notes:
                print(f"{args.file}: {line}", file=sys.stderr)
            print(f"review import: {args.file} refused, nothing applied ({len(exc.problems)} "
                  f"problem{'s' if len(exc.problems) != 1 else ''}); correct the file and import it again",
                  file=sys.stderr)
            return 1
    print(result.summary())
    return 0


def _cmd_held(args) -> int:
    from quality import held

    warehouse.migrate()
    if args.action == "list":
        files = held.held_files()
        if not files:
            print("held: no file is held back")
            return 0
        for f in files:
            print(f"{f.file_id:>6}  {f.channel:<11} {f.path}  {f.rows_loaded} rows held since "
                  f"{f.held_at.astimezone(config.BEIJING):%Y-%m-%d %H:%M} (run {f.run_name or '-'})")
            print(f"        reason: {f.reason}")
        print(f"held: {len(files)} file{'s' if len(files) != 1 else ''}; after checking, "
              f"`minqing held release FILE_ID --reason TEXT` or `minqing held reject FILE_ID --reason TEXT`")
        return 0
    try:
        if args.action == "release":
            rows = held.release(args.file_id, args.reason, args.by)
            print(f"held: file {args.file_id} released ({rows} rows); the next run builds them into the marts")
        else:
            rows = held.reject(args.file_id, args.reason, args.by)
            print(f"held: file {args.file_id} rejected; its {rows} rows are in raw.quarantine (stage review)")
    except held.DecisionRefused as exc:
        print(f"minqing held: {exc}", file=sys.stderr)
        return 2
    return 0


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minqing", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more detail: the libraries' logging at INFO (GX, dbt, Airflow, ...) and their "
                             "warnings, the project's at DEBUG, per-file lines; -vv: DEBUG everywhere")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("warehouse", help="start, stop or locate the warehouse")
    p.add_argument("action", choices=["start", "stop", "status", "url"])
    p.set_defaults(func=_cmd_warehouse)

    p = sub.add_parser("ingest", help="load every new file of the landing folder")
    p.add_argument("--landing", help="landing folder (default: $LANDING_DIR or data/landing)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file seen")
    p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="a line per file before the summary (and the global -v's logging)")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("run", help="ingest -> validate -> classify -> dbt build -> validate marts")
    p.add_argument("--landing", help="landing folder (default: $LANDING_DIR or data/landing)")
    p.add_argument("--date", type=_date,
                   help="the run's day D (YYYY-MM-DD): it takes the landing files due by D and builds the marts "
                        "as of the end of D (the briefing for D + 1); default: the newest day a daily delivery "
                        "covers, never later than yesterday in Beijing")
    p.add_argument("--as-of", help="pin another moment for the overdue and backlog figures (ISO 8601); "
                                   "default: the end of the run's day. The marts of the current state never "
                                   "move back before the newest run's moment")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("generate", help="write a synthetic landing folder that follows the source contract")
    p.add_argument("--days", type=int)
    p.add_argument("--out")
    p.add_argument("--training-texts", metavar="FILE",
                   help="instead: write the phrase tables' labelled texts (the classifier's project_texts.tsv)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--per-day", type=int, default=40, help="mean new resident demands per day")
    p.add_argument("--start", type=_date, default=dt.date(2026, 7, 1), help="first day (YYYY-MM-DD)")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("demo", help="generate a month of data and run it through the real Airflow DAG")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", default="2026-07-01", help="first generated day (YYYY-MM-DD)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--per-day", type=int, default=40)
    p.add_argument("--history-days", type=int, default=760,
                   help="days of history generated for the forecast's backtest (0: no backtest)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("dbt-manifest", help="build dbt_project/target/manifest.json (dbt parse, no database)")
    p.set_defaults(func=_cmd_dbt_manifest)

    p = sub.add_parser("rebuild", help="rebuild every dbt model from raw (dbt build --full-refresh); "
                                       "published briefings are kept")
    p.add_argument("--as-of", help="pin the as-of moment (default: the end of the newest run's day)")
    p.set_defaults(func=_cmd_rebuild)

    p = sub.add_parser("dbt-docs", help="generate the dbt docs site under $MINQING_HOME/dbt/docs")
    p.set_defaults(func=_cmd_dbt_docs)

    p = sub.add_parser("airflow", help="run a DAG locally with dag.test(), or print the local Airflow environment")
    p.add_argument("action", choices=["test", "env"])
    p.add_argument("--dag", default="minqing_daily")
    p.add_argument("--date", type=_date, help="the day the run works on (default: yesterday)")
    p.set_defaults(func=_cmd_airflow)

    p = sub.add_parser("forecast", help="forecast the next 7 days per community × category into ops.forecasts; "
                                         "print the top expected surges")
    p.add_argument("--as-of", type=_date, help="last day of history to forecast from (YYYY-MM-DD); "
                                               "default: the last complete day")
    p.set_defaults(func=_cmd_forecast)

    p = sub.add_parser("backtest", help="rolling-origin backtest of the forecast against seasonal-naive forecasts")
    p.add_argument("--origins", type=int,
                   help="how many weekly origins (default: settings.yml forecast.backtest.origins)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_backtest)

    p = sub.add_parser("access", help="warehouse logins: passwords from the environment, street and community users")
    p.add_argument("action", choices=["list", "password", "street-user", "community-user"])
    p.add_argument("name", nargs="?", help="the login (role) name")
    p.add_argument("--community", help="community_id, for community-user")
    p.add_argument("--password-env", help="name of the environment variable holding the password")
    p.set_defaults(func=_cmd_access)

    p = sub.add_parser("bench", help="measure ingest, validation, the daily run and dbt through cosmos at city scale")
    p.add_argument("--json", action="store_true", help="one JSON object with every figure")
    p.add_argument("--rows", type=int, default=200_000, help="rows of the large hotline export (default 200000)")
    p.add_argument("--daily-rows", type=int, default=60_000, help="new rows of the measured city-day (default 60000)")
    p.add_argument("--histories", default="100000,300000",
                   help="history sizes the daily run is measured on, comma-separated: hotline rows in raw "
                        "before the day (default 100000,300000, sized for 15 minutes on 2 cores; the issue's "
                        "sizes: 1000000,10000000)")
    p.add_argument("--repeats", type=int, default=3, help="runs per timing of the ingest steps (median)")
    p.add_argument("--history-repeats", type=int, default=1, help="daily runs per history size (median; default 1)")
    p.add_argument("--cosmos-repeats", type=int, default=1, help="runs of the dbt stage each way (median; default 1)")
    p.add_argument("--threads", type=int, default=2, help="dbt threads, the same for both ways")
    p.add_argument("--keep", action="store_true", help="keep the bench database afterwards")
    p.add_argument("--dbt-select", help="limit the cosmos-vs-command-line step to these dbt nodes (tests use it)")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("rotate-hash-key", help="re-hash the personal-data keys in raw with a new MINQING_HASH_KEY")
    p.add_argument("--new-key-env", required=True, help="name of the environment variable holding the new key")
    p.set_defaults(func=_cmd_rotate_hash_key)

    p = sub.add_parser("briefing", help="render the daily dispatch briefing (HTML, CSV tables, PDF) from the marts")
    p.add_argument("--date", type=_date, help="the meeting day, YYYY-MM-DD (default: the newest briefing)")
    p.add_argument("--out", default="briefing", help="output folder (default: ./briefing)")
    pdf = p.add_mutually_exclusive_group()
    pdf.add_argument("--pdf", dest="pdf", action="store_true", default=None, help="require a PDF (needs Chromium)")
    pdf.add_argument("--no-pdf", dest="pdf", action="store_false", help="no PDF")
    p.set_defaults(func=_cmd_briefing)

    p = sub.add_parser("classify", help="categorise complaint texts: one per line on stdin, one code per line out")
    p.add_argument("--explain", action="store_true", help="print code<TAB>confidence<TAB>evidence instead")
    p.set_defaults(func=_cmd_classify)

    p = sub.add_parser("review", help="people label the complaints the classifier was unsure of: export a CSV "
                                       "to fill in, import it back")
    review_actions = p.add_subparsers(dest="action", required=True)
    action = review_actions.add_parser("export", help="write marts.mart_classification_review as a CSV with an "
                                                      "empty category column")
    action.add_argument("--out", required=True, help="the CSV file to write")
    action = review_actions.add_parser("import", help="store the labels of a filled-in export (all or nothing)")
    action.add_argument("file", help="the filled-in CSV (UTF-8 or GB18030, as Excel or WPS saved it)")
    action.add_argument("--by", help="who labelled it (default: the operating-system user)")
    p.set_defaults(func=_cmd_review)

    p = sub.add_parser("held", help="files held back because their batch failed validation: list, release, reject")
    held_actions = p.add_subparsers(dest="action", required=True)
    held_actions.add_parser("list", help="every held file, its rows and why it is held")
    for name, what in (("release", "a person has checked the file: its rows go on at the next run"),
                       ("reject", "every row of the file moves to raw.quarantine with the reason")):
        action = held_actions.add_parser(name, help=what)
        action.add_argument("file_id", type=int, help="the file's id (ops.ingested_files, `minqing held list`)")
        action.add_argument("--reason", required=True, help="what was checked or why it is refused, for the record")
        action.add_argument("--by", help="who decided (default: the operating-system user)")
    p.set_defaults(func=_cmd_held)

    p = sub.add_parser("classify-eval", help="accuracy and macro-F1 of the classifier on a labelled TSV")
    p.add_argument("--file", help="labelled file (default: $MINQING_EVAL_FILE or ../shared/eval/real_messages.tsv)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds over the training messages")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=_cmd_classify_eval)

    p = sub.add_parser("classifier", help="the classifier's learned stage: train it")
    csub = p.add_subparsers(dest="classifier_command", required=True)
    q = csub.add_parser("train", help="fit the learned stage on the repository's labelled texts and the "
                                      "warehouse's reviewed ones; write the artefact")
    q.add_argument("--out", help="artefact path (default: minqing/analytics/classifier_data/category_model.zip)")
    q.add_argument("--no-reviews", action="store_true", help="leave out the warehouse's reviewed texts")
    q.set_defaults(func=_cmd_classifier_train)
    # -v and -q after the subcommand too (`minqing demo -v`); SUPPRESS keeps a subcommand from resetting
    # the value given before it
    for command in sub.choices.values():
        if "-v" not in command._option_string_actions:
            command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                 help="more detail (see minqing --help)")
        if "-q" not in command._option_string_actions:
            command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                 help="only warnings and errors on stderr")
    return parser


# The project's own loggers: the only ones at INFO by default (progress lines); every library
# (great_expectations, airflow, cosmos, dbt, sqlalchemy, alembic, jieba, asyncio, ...) at WARNING.
OWN_LOGGERS = ("minqing", "ingestion", "quality")


def _own_record(record: logging.LogRecord) -> bool:
    return record.name.partition(".")[0] in OWN_LOGGERS


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Logging and warnings of the `minqing` command.

    Default: the root logger at WARNING, the project's loggers at INFO. The handler also drops INFO
    from any other logger, for libraries that set their own loggers' level (GX sets some to INFO,
    and names others by file path, outside `great_expectations`). Python warnings attributed to a
    library are ignored; the project's own are shown. `verbose` 1: everything at INFO, the project
    at DEBUG, library warnings shown; 2: DEBUG everywhere. `quiet`: WARNING everywhere."""
    import warnings

    if quiet:
        root_level, own_level = logging.WARNING, logging.WARNING
    elif verbose >= 2:
        root_level, own_level = logging.DEBUG, logging.DEBUG
    elif verbose == 1:
        root_level, own_level = logging.INFO, logging.DEBUG
    else:
        root_level, own_level = logging.WARNING, logging.INFO
    terse = quiet or not verbose
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_minqing_cli", False)]:
        root.removeHandler(old)  # configured before in this process
    if not root.handlers:  # as logging.basicConfig: an embedding process (pytest) keeps its own
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._minqing_cli = True
        if terse:
            handler.addFilter(lambda record: record.levelno >= logging.WARNING or _own_record(record))
        root.addHandler(handler)
    root.setLevel(root_level)
    # library noise (FutureWarning, UserWarning, DeprecationWarning raised inside GX, airflow, dbt,
    # statsmodels, ...): off unless -v; a warning attributed to the project's code stays
    library_warnings = r"(?!(%s)(\.|$))" % "|".join(OWN_LOGGERS)
    if terse:
        warnings.filterwarnings("ignore", module=library_warnings)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(own_level)
    if root_level > logging.INFO:
        for noisy in ("jieba", "great_expectations", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    else:
        for noisy in ("great_expectations", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.NOTSET)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        return args.func(args) or 0
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"minqing: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
