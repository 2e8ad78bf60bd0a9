"""Measure the complaint classifier: cross-validated on its training data, and on a labelled evaluation file.

`minqing classify-eval [--file PATH] [--folds N] [--json]` prints two reports, each with accuracy,
macro-F1, per-category precision / recall / F1, the most frequent confusions and the calibration
(expected calibration error of the top probability, and its bins):

1. stratified N-fold cross-validation over the real training messages (minqing/analytics/classifier_training.py:
   folds split before anything is fitted, vectorisers and calibration included);
2. the shipped classifier on the evaluation file: tab-separated with a header naming at least the columns
   `category` (the gold code) and `text`; by default `$MINQING_EVAL_FILE`, else
   `../shared/eval/real_messages.tsv` relative to the project root. The evaluation file is for measuring
   only: neither the keyword seed nor the model is built from it (training drops any text equal to one of it).

Macro-F1 is the unweighted mean of the per-category F1 over every category that occurs in the gold labels or
in the predictions (a category predicted but never true scores 0 and counts; one neither true nor predicted
is left out, having no F1).
"""

from __future__ import annotations

import csv
import os
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from minqing import config

ENV_VAR = "MINQING_EVAL_FILE"


@dataclass(frozen=True)
class CategoryScore:
    code: str
    support: int  # true texts of this category
    predicted: int  # texts predicted as this category
    correct: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Report:
    n: int
    accuracy: float
    macro_f1: float
    per_category: list[CategoryScore]
    confusions: list[tuple[str, str, int]]  # (gold, predicted, count), most frequent first




def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def score(gold: Sequence[str], predicted: Sequence[str]) -> Report:
    """Accuracy, macro-F1, per-category precision/recall/F1 and the confusion pairs of two label lists."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    n = len(gold)
    pairs = Counter(zip(gold, predicted))
    support = Counter(gold)
    predicted_count = Counter(predicted)
    per_category = []
    for code in sorted(set(gold) | set(predicted)):
        correct = pairs[(code, code)]
        precision = _ratio(correct, predicted_count[code])
        recall = _ratio(correct, support[code])
        f1 = _ratio(2 * precision * recall, precision + recall) if precision + recall else 0.0
        per_category.append(CategoryScore(code, support[code], predicted_count[code], correct, precision, recall, f1))
    confusions = sorted(((g, p, c) for (g, p), c in pairs.items() if g != p), key=lambda t: (-t[2], t[0], t[1]))
    return Report(
        n=n,
        accuracy=_ratio(sum(c for (g, p), c in pairs.items() if g == p), n),
        macro_f1=_ratio(sum(c.f1 for c in per_category), len(per_category)),
        per_category=per_category,
        confusions=confusions,
    )


def load_labelled(path: Path) -> list[tuple[str, str]]:
    """(gold code, text) for every row of a tab-separated file with `category` and `text` columns."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not reader.fieldnames or not {"category", "text"} <= set(reader.fieldnames):
            raise RuntimeError(f"{path}: expected a header with the columns category and text")
        return [(row["category"].strip(), row["text"] or "") for row in reader if (row["category"] or "").strip()]


def evaluate(path: Path | None = None) -> tuple[Report, dict]:
    """Classify every text of a labelled file; the score against its labels, and the calibration."""
    import numpy as np

    from minqing.analytics.classifier import classify_many, rules
    from minqing.analytics.classifier_training import calibration

    rows = load_labelled(Path(path) if path else config.eval_file())
    results = classify_many([text for _, text in rows])
    gold = [g for g, _ in rows]
    categories = rules().categories
    probabilities = np.zeros((len(rows), len(categories)))
    for i, result in enumerate(results):  # the top three candidates carry the probabilities that matter
        for code, p in result.candidates:
            probabilities[i, categories.index(code)] = p
    truth = np.array([categories.index(g) if g in categories else -1 for g in gold])
    return score(gold, [r.category_code for r in results]), calibration(probabilities, truth)


def cross_validated(folds: int = 5) -> tuple[Report, dict, dict]:
    """The cross-validation report, its calibration and the training-set counts."""
    import numpy as np

    from minqing.analytics.classifier_training import calibration, cross_validate

    cv = cross_validate(folds)
    truth = np.array([cv["categories"].index(g) for g in cv["gold"]])
    return score(cv["gold"], cv["predicted"]), calibration(cv["probabilities"], truth), cv["texts"]


def as_json(report: Report, calibration: dict, confusions: int = 10) -> dict:
    return {"texts": report.n, "accuracy": round(report.accuracy, 4), "macro_f1": round(report.macro_f1, 4),
            "per_category": [{"category": c.code, "support": c.support, "predicted": c.predicted,
                              "correct": c.correct, "precision": round(c.precision, 4),
                              "recall": round(c.recall, 4), "f1": round(c.f1, 4)} for c in report.per_category],
            "confusions": [{"gold": g, "predicted": p, "count": n} for g, p, n in report.confusions[:confusions]],
            "calibration": calibration}


def format_calibration(calibration: dict) -> str:
    lines = [f"calibration: expected calibration error {calibration['ece']:.3f}",
             f"  {'confidence':<11} {'texts':>5} {'mean':>6} {'accuracy':>8}"]
    lines += [f"  {b['from']:.1f}-{b['to']:.1f}     {b['texts']:>5} {b['mean_confidence']:>6.3f} {b['accuracy']:>8.3f}"
              for b in calibration["bins"]]
    return "\n".join(lines)


def format_report(report: Report, source: str = "", confusions: int | None = None) -> str:
    lines = []
    if source:
        lines.append(f"file:      {source}")
    lines += [
        f"texts:     {report.n}",
        f"accuracy:  {report.accuracy:.3f}",
        f"macro-F1:  {report.macro_f1:.3f}",
        "",
        f"{'category':<18} {'support':>7} {'predicted':>9} {'correct':>7} {'precision':>9} {'recall':>6} {'F1':>6}",
    ]
    for c in report.per_category:
        lines.append(f"{c.code:<18} {c.support:>7} {c.predicted:>9} {c.correct:>7} "
                     f"{c.precision:>9.3f} {c.recall:>6.3f} {c.f1:>6.3f}")
    lines.append("")
    if report.confusions:
        lines.append("confusions (gold -> predicted):")
        lines += [f"  {gold} -> {pred}: {count}" for gold, pred, count in report.confusions[:confusions]]
    else:
        lines.append("confusions: none")
    return "\n".join(lines)


def main(path: str | os.PathLike | None = None, folds: int = 5, json_output: bool = False) -> int:
    """`minqing classify-eval`: the cross-validated report and the evaluation file's (see the module docstring)."""
    import json

    target = Path(path) if path else config.eval_file()
    if not target.exists():
        raise FileNotFoundError(f"no evaluation file at {target} (use --file or {ENV_VAR})")
    cv_report, cv_calibration, texts = cross_validated(folds)
    eval_report, eval_calibration = evaluate(target)
    if json_output:
        print(json.dumps({"cross_validation": {"folds": folds, "training_texts": texts,
                                               **as_json(cv_report, cv_calibration)},
                          "evaluation": {"file": str(target), **as_json(eval_report, eval_calibration)}},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"== cross-validation: {folds} stratified folds over the real training messages "
          f"(each fold also trained on {texts['project']} project and {texts['review']} reviewed texts) ==")
    print(format_report(cv_report, "minqing/analytics/classifier_data/real_messages_train.tsv", confusions=10))
    print(format_calibration(cv_calibration))
    print()
    print("== evaluation file (the shipped classifier) ==")
    print(format_report(eval_report, str(target)))
    print(format_calibration(eval_calibration))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
