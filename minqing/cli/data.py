"""The day's data: ingest, the whole run, held batches, rebuilds, the forecast and its backtest, the briefing."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from minqing import config, warehouse
from minqing.cli._common import _date, _print_reports, _summary_line


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


def _cmd_run(args) -> int:
    from minqing.pipeline import run

    summary = run(args.landing, day=args.date, as_of=args.as_of)
    print("\n".join(summary.lines()))
    return 1 if summary.failed_channels else 0


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


def _cmd_rebuild(args) -> int:
    from minqing import pipeline, transform

    with pipeline.exclusive_run():  # never beside a run's incremental build
        outcome = transform.run_dbt("build", "--full-refresh", as_of=args.as_of)
        if outcome.success:  # complaints the stage has not seen yet get their problems, and the marts them
            pipeline.link()
            outcome = transform.build(as_of=args.as_of, selector=pipeline.AFTER_FORECAST)
    for failure in outcome.failures:
        print(f"{failure['node']}: {failure['status']}: {failure['message']}", file=sys.stderr)
    print(f"dbt build --full-refresh: {'ok' if outcome.success else 'FAILED'}, {len(outcome.results)} nodes")
    return 0 if outcome.success else 1


def _cmd_forecast(args) -> int:
    from minqing.analytics.forecast import forecast_lines, write_forecasts

    print("\n".join(forecast_lines(write_forecasts(args.as_of))))
    return 0


def _cmd_effect(args) -> int:
    from minqing.analytics import effects

    with warehouse.connect() as conn:
        if args.intervention:
            known = effects.interventions(conn)
            if args.intervention not in known:
                raise SystemExit(f"effect: no intervention {args.intervention!r} in reference/interventions.csv "
                                 f"(known: {', '.join(known) or 'none'})")
            intervention = known[args.intervention]
        elif args.community and args.start:
            categories = tuple(c for c in (args.categories or "").split(",") if c)
            intervention = effects.ad_hoc(conn, args.community, args.start, categories, args.end)
        else:
            raise SystemExit("effect: give --intervention ID, or --community NAME --start YYYY-MM-DD")
        result = effects.estimate_intervention(conn, intervention)
        out = effects.result_dict(intervention, result, effects.category_names(conn))
    if args.out:
        from minqing.publishing import effect_page

        path = effect_page.write(out, Path(args.out))
        print(f"effect: page {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2, default=str))
    else:
        print(out["reading"])
    return 0


def _cmd_link(args) -> int:
    from minqing import pipeline

    with pipeline.exclusive_run():
        result = pipeline.link(rebuild=args.rebuild)
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        print(f"link: {result['reports']} reports linked ({result['compared']} pairs scored, {result['links']} linked): "
              f"{result['founded']} new problems, {result['joined']} joined one, {result['merged']} merged, "
              f"{result['split']} split, {result['removed']} gone from fct_complaints")
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
        written = briefing.write(args.date, Path(args.out), pdf=args.pdf, street_id=args.street)
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


def _cmd_district_page(args) -> int:
    import datetime as dt

    from minqing.publishing import district_page

    month = dt.date.fromisoformat(f"{args.month}-01") if args.month else None
    try:
        path = district_page.write(Path(args.out), month)
    except ValueError as exc:
        print(f"minqing district-page: {exc}", file=sys.stderr)
        return 2
    print(f"district page: {path}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("ingest", help="load every new file of the landing folder")
    p.add_argument("--landing", help="landing folder (default: $LANDING_DIR or data/landing)")
    p.add_argument("--json", action="store_true", help="print one JSON object per file seen")
    p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                   help="a line per file before the summary (and the global -v's logging)")
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("run", help="ingest -> validate -> classify -> dbt build -> forecast -> the models after it")
    p.add_argument("--landing", help="landing folder (default: $LANDING_DIR or data/landing)")
    p.add_argument("--date", type=_date,
                   help="the run's day D (YYYY-MM-DD): it takes the landing files due by D and builds the marts "
                        "as of the end of D (the briefing for D + 1); default: the newest day a daily delivery "
                        "covers, never later than yesterday in Beijing")
    p.add_argument("--as-of", help="pin another moment for the overdue and backlog figures (ISO 8601); "
                                   "default: the end of the run's day. The marts of the current state never "
                                   "move back before the newest run's moment")
    p.set_defaults(func=_cmd_run)

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

    p = sub.add_parser("rebuild", help="rebuild every dbt model from raw (dbt build --full-refresh); "
                                       "published briefings are kept")
    p.add_argument("--as-of", help="pin the as-of moment (default: the end of the newest run's day)")
    p.set_defaults(func=_cmd_rebuild)

    p = sub.add_parser("forecast", help="forecast the next 7 days per community × category into ops.forecasts; "
                                         "print the top expected surges")
    p.add_argument("--as-of", type=_date, help="last day of history to forecast from (YYYY-MM-DD); "
                                               "default: the last complete day")
    p.set_defaults(func=_cmd_forecast)

    p = sub.add_parser("effect", help="did it work? an intervention's effect on complaints against the street's "
                                      "other communities (difference-in-differences, synthetic control, placebos)")
    p.add_argument("--intervention", help="an intervention_id of reference/interventions.csv")
    p.add_argument("--community", help="instead: a community (id or name) ...")
    p.add_argument("--start", type=_date, help="... and the day its intervention started (YYYY-MM-DD)")
    p.add_argument("--end", type=_date, help="the day it ended, if it did")
    p.add_argument("--categories", help="the categories it targets, comma-separated (default: all)")
    p.add_argument("--json", action="store_true", help="every figure as JSON")
    p.add_argument("--out", help="also write a self-contained HTML page with its charts into this folder")
    p.set_defaults(func=_cmd_effect)

    p = sub.add_parser("link", help="link the reports of one problem across channels and days (the run does it "
                                    "after dbt build); reads settings.yml linking")
    p.add_argument("--json", action="store_true")
    p.add_argument("--rebuild", action="store_true",
                   help="forget every problem and link all reports again (after changing settings.yml linking); "
                        "build the marts after it (minqing run, or dbt build --selector after_forecast)")
    p.set_defaults(func=_cmd_link)

    p = sub.add_parser("backtest", help="rolling-origin backtest of the forecast against seasonal-naive forecasts")
    p.add_argument("--origins", type=int,
                   help="how many weekly origins (default: settings.yml forecast.backtest.origins)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_cmd_backtest)

    p = sub.add_parser("briefing", help="render the daily dispatch briefing (HTML, CSV tables, PDF) from the marts")
    p.add_argument("--date", type=_date, help="the meeting day, YYYY-MM-DD (default: the newest briefing)")
    p.add_argument("--out", default="briefing", help="output folder (default: ./briefing)")
    p.add_argument("--street", metavar="ID",
                   help="a street's own briefing (its meeting; marts.dim_street's street_id), written into "
                        "OUT/ID/ (default: the district's, every street together, into OUT)")
    pdf = p.add_mutually_exclusive_group()
    pdf.add_argument("--pdf", dest="pdf", action="store_true", default=None, help="require a PDF (needs Chromium)")
    pdf.add_argument("--no-pdf", dest="pdf", action="store_false", help="no PDF")
    p.set_defaults(func=_cmd_briefing)

    p = sub.add_parser("district-page", help="the district's page: the month's ranking of its streets, each street's "
                                             "trend, the categories that pulled 整改类 and 治理类 streets down (HTML)")
    p.add_argument("--month", help="YYYY-MM (default: the newest month ranked)")
    p.add_argument("--out", default="briefing", help="output folder (default: ./briefing)")
    p.set_defaults(func=_cmd_district_page)
