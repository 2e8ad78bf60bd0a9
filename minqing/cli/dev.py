"""Development tools (minqing.devtools, imported inside the handlers): synthetic data, the demo, the bench."""

from __future__ import annotations

import sys
from pathlib import Path

from minqing import warehouse
from minqing.cli._common import _date


def _cmd_generate(args) -> int:
    from minqing.devtools.generate import Effect, generate, write_training_texts

    if args.training_texts:
        count = write_training_texts(Path(args.training_texts), **({"seed": args.seed} if args.seed is not None else {}))
        print(f"generate: {count} labelled texts of the phrase tables in {args.training_texts}")
        return 0
    if args.days is None or args.out is None:
        raise RuntimeError("generate needs --days and --out (or --training-texts FILE)")
    # seed, per_day and start default to generate()'s own
    given = {"seed": args.seed, "per_day": args.per_day, "start": args.start,
             "effects": tuple(Effect.parse(e) for e in args.effect) or None}
    given = {k: v for k, v in given.items() if v is not None}
    if args.streets > 1:
        from minqing.devtools import district

        manifests = district.generate_district(Path(args.out), days=args.days, streets=args.streets, **given)
        reference = district.write_reference(Path(args.reference_out or Path(args.out) / ".reference"), args.streets)
        for street_id, manifest in manifests.items():
            print(f"generate: {street_id}: {len(manifest.get('files', {}))} files, "
                  f"{manifest.get('totals', {}).get('records')} records")
        print(f"generate: the district's reference folder is {reference.resolve()}: run with "
              f"MINQING_REFERENCE_DIR={reference.resolve()}")
        return 0
    manifest = generate(Path(args.out), days=args.days, **given)
    totals = manifest.get("totals", {})
    print(f"generate: {len(manifest.get('files', {}))} files under {args.out} "
          f"({', '.join(f'{k} {v}' for k, v in totals.items() if not isinstance(v, dict))})")
    return 0


def _cmd_demo(args) -> int:
    from minqing.devtools import demo

    return demo.run(args)


def _cmd_bench(args) -> int:
    from minqing.devtools import bench

    warehouse.migrate()
    return bench.main(args)


def _cmd_link_eval(args) -> int:
    import json

    from minqing.devtools import link_eval

    warehouse.migrate()
    given = {"days": args.days, "seed": args.seed, "per_day": args.per_day}
    if args.tune:
        if args.landing:
            raise SystemExit("--tune generates its own months: it takes no --landing")
        months = {"days": args.days, "per_day": args.per_day, "seeds": None if args.seed is None else (args.seed,)}
        tuned = link_eval.tune(**{k: v for k, v in months.items() if v is not None},
                               progress=lambda m: print(m, file=sys.stderr))
        print(json.dumps(tuned, ensure_ascii=False, indent=2) if args.json else "\n".join(link_eval.tune_lines(tuned)))
        return 0
    if args.landing:
        figures = link_eval.evaluate(Path(args.landing))
    else:
        figures = link_eval.run(**{k: v for k, v in given.items() if v is not None},
                                progress=lambda m: print(m, file=sys.stderr))
    print(json.dumps(figures, ensure_ascii=False, indent=2, default=str) if args.json
          else "\n".join(link_eval.lines(figures)))
    return 0


def _cmd_effect_eval(args) -> int:
    import json

    from minqing.devtools import effect_eval

    given = {"seeds": args.seeds, "size": args.size, "weeks": args.weeks}
    measure, lines = ((effect_eval.point_estimates, effect_eval.point_lines) if args.point_only
                      else (effect_eval.run, effect_eval.lines))
    figures = measure(**{k: v for k, v in given.items() if v is not None}, progress=lambda m: print(m, file=sys.stderr))
    if args.json:
        print(json.dumps(figures, ensure_ascii=False, indent=2))
    else:
        print("\n".join(lines(figures)))
    return 0


def register(sub) -> None:
    p = sub.add_parser("generate", help="write a synthetic landing folder that follows the source contract")
    p.add_argument("--days", type=int)
    p.add_argument("--out")
    p.add_argument("--training-texts", metavar="FILE",
                   help="instead: write the phrase tables' labelled texts (the classifier's project_texts.tsv)")
    p.add_argument("--seed", type=int, help="the generator's seed (default 7)")
    p.add_argument("--per-day", type=int, help="mean new resident demands per day (default 40)")
    p.add_argument("--start", type=_date, help="first day, YYYY-MM-DD (default 2026-07-01)")
    p.add_argument("--effect", action="append", default=[], metavar="COMMUNITY:START:SIZE[:CATEGORIES]",
                   help="inject an intervention's effect: from START the community's demands (of the categories, "
                        "comma-separated; all when none) are x(1 + SIZE), e.g. 八一厂社区:2026-09-01:-0.4:neighbor_dispute")
    p.add_argument("--streets", type=int, default=1,
                   help="a district of this many streets (2-5): 六里桥街道 and invented streets of 丰台区, each "
                        "street's files under its own folder of each channel's (minqing/devtools/district.py)")
    p.add_argument("--reference-out", metavar="DIR",
                   help="with --streets: where to write the district's reference folder (default OUT/.reference)")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("demo", help="generate a month of data and run it through the real Airflow DAG")
    p.add_argument("--days", type=int, default=30)
    p.add_argument("--start", type=_date, help="first generated day, YYYY-MM-DD (default: the generator's, 2026-07-01)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--per-day", type=int, default=40)
    p.add_argument("--streets", type=int, default=5,
                   help="a district of this many streets (default 5: 六里桥街道 and four invented ones, "
                        "minqing/devtools/district.py) with its reference folder and the district's ranking page; "
                        "1: 六里桥街道 alone")
    p.add_argument("--history-days", type=int, default=760,
                   help="days of history generated for the forecast's backtest (0: no backtest)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("link-eval", help="measure how well reports are linked into problems, against the "
                                         "generator's ground truth (pair precision and recall, cluster purity)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--landing", help="measure the warehouse as it is against this generated landing folder's truth")
    p.add_argument("--days", type=int, help="days generated (default 30)")
    p.add_argument("--seed", type=int, help="the generator's seed (default 11; the weights were chosen on seeds 7 "
                                             "and 13, which --tune generates unless given one)")
    p.add_argument("--per-day", type=int, help="demands a day (default 40)")
    p.add_argument("--tune", action="store_true",
                   help="instead: choose settings.yml linking's category_focus, weights and thresholds on development "
                        "months (default seeds 7 and 13): fitted weights, every trial's figures and the one chosen")
    p.set_defaults(func=_cmd_link_eval)

    p = sub.add_parser("effect-eval", help="does `minqing effect` find an effect the generator injected, and "
                                           "nothing where none was? interval coverage and false alarms over seeds")
    p.add_argument("--seeds", type=int, help="generated streets (default 20)")
    p.add_argument("--size", type=float, help="the injected change (default -0.4)")
    p.add_argument("--weeks", type=int, help="weeks generated (default 78: the start at week 52)")
    p.add_argument("--point-only", action="store_true",
                   help="the main estimate's point alone over many streets (default 80): its mean and standard error")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_effect_eval)

    p = sub.add_parser("bench", help="measure a street's day, and ingest, validation, the daily run and dbt through cosmos at city scale")
    p.add_argument("--json", action="store_true", help="one JSON object with every figure")
    p.add_argument("--rows", type=int, help="rows of the large hotline export (default 200000)")
    p.add_argument("--daily-rows", type=int, help="new rows of the measured city-day (default 60000)")
    p.add_argument("--histories",
                   help="history sizes the daily run is measured on, comma-separated: hotline rows in raw "
                        "before the day (default 100000,300000, sized for 15 minutes on 2 cores; the issue's "
                        "sizes: 1000000,10000000)")
    p.add_argument("--repeats", type=int, help="runs per timing of the ingest steps (median; default 3)")
    p.add_argument("--history-repeats", type=int, help="daily runs per history size (median; default 1)")
    p.add_argument("--cosmos-repeats", type=int, help="runs of the dbt stage each way (median; default 1)")
    p.add_argument("--threads", type=int, help="dbt threads, the same for both ways (default 2)")
    p.add_argument("--street-days", type=int,
                   help="street-days measured through `minqing run`, each in a fresh process (median; default 3; 0: none)")
    p.add_argument("--street-history-days", type=int,
                   help="days of the generated street month run before them, in one run (default 27)")
    p.add_argument("--no-street-dag", action="store_true",
                   help="skip the street-day through the daily DAG (dag.test(), about as long as its tasks' start-up)")
    p.add_argument("--open311", action="store_true",
                   help="only the Open311 API's latency under a bounded concurrent load, on the current warehouse "
                        "(the demo's after make demo)")
    p.add_argument("--streets", type=int,
                   help="spread the city-day's exports (ingest, history, the daily run) over this many streets of "
                        "three communities each, one district-wide export (default 1: the generator's street); "
                        "the street-day is one street's either way")
    p.add_argument("--keep", action="store_true", help="keep the bench databases afterwards")
    p.add_argument("--dbt-select", help="limit the cosmos-vs-command-line step to these dbt nodes (tests use it)")
    p.set_defaults(func=_cmd_bench)
