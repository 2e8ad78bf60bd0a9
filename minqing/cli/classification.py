"""The classifier: classify texts, train its learned stage, measure it, people's reviews."""

from __future__ import annotations

import sys
from pathlib import Path

from minqing import warehouse


def _cmd_classify(args) -> int:
    from minqing.analytics.classifier import main_stdin

    return main_stdin(explain=args.explain)


def _cmd_classifier_train(args) -> int:
    from minqing.analytics.classifier_training import train

    summary = train(Path(args.out) if args.out else None, with_reviews=not args.no_reviews)
    texts = summary["texts"]
    print(f"classifier train: {texts['real']} real, {texts['project']} project and {texts['review']} reviewed "
          f"texts ({texts['dropped_as_evaluation_texts']} dropped as evaluation texts); "
          f"{summary['features']:,} features, temperature {summary['temperature']:.3f}")
    print(f"  wrote {summary['artefact']} ({summary['bytes']:,} bytes, sha256 {summary['sha256'][:12]})")
    return 0


def _cmd_classify_eval(args) -> int:
    from minqing.devtools.evaluate_classifier import main as evaluate_main

    return evaluate_main(args.file, folds=args.folds, json_output=args.json)


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


def register(sub) -> None:
    p = sub.add_parser("classify", help="categorise complaint texts: one per line on stdin, one code per line out")
    p.add_argument("--explain", action="store_true", help="print code<TAB>confidence<TAB>evidence instead")
    p.set_defaults(func=_cmd_classify)

    p = sub.add_parser("classifier", help="the classifier's learned stage: train it")
    csub = p.add_subparsers(dest="classifier_command", required=True)
    q = csub.add_parser("train", help="fit the learned stage on the repository's labelled texts and the "
                                      "warehouse's reviewed ones; write the artefact")
    q.add_argument("--out", help="artefact path (default: minqing/analytics/classifier_data/category_model.zip)")
    q.add_argument("--no-reviews", action="store_true", help="leave out the warehouse's reviewed texts")
    q.set_defaults(func=_cmd_classifier_train)

    p = sub.add_parser("classify-eval", help="accuracy and macro-F1 of the classifier on a labelled TSV")
    p.add_argument("--file", help="labelled file (default: $MINQING_EVAL_FILE or ../shared/eval/real_messages.tsv)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds over the training messages")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=_cmd_classify_eval)

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
