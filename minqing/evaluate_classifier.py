"""Measure the complaint classifier on a labelled file: accuracy, macro-F1, a per-category table, confusions.

`minqing classify-eval [--file PATH]`. The file is tab-separated with a header naming at least the columns
`category` (the gold code) and `text`; by default `$MINQING_EVAL_FILE`, else `../shared/eval/real_messages.tsv`
relative to the project root. The evaluation file is for measuring only: the keyword seed is not built from it.

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
DEFAULT_EVAL_FILE = config.PROJECT_ROOT.parent / "shared" / "eval" / "real_messages.tsv"


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


def default_eval_file() -> Path:
    return Path(os.environ.get(ENV_VAR) or DEFAULT_EVAL_FILE)


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


def evaluate(path: Path | None = None) -> Report:
    """Classify every text of a labelled file and score the result against its labels."""
    from minqing.classifier import classify

    rows = load_labelled(Path(path) if path else default_eval_file())
    return score([gold for gold, _ in rows], [classify(text).category_code for _, text in rows])


def format_report(report: Report, source: str = "") -> str:
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
        lines += [f"  {gold} -> {pred}: {count}" for gold, pred, count in report.confusions]
    else:
        lines.append("confusions: none")
    return "\n".join(lines)


def main(path: str | os.PathLike | None = None) -> int:
    """`minqing classify-eval`: print the report for the given or default evaluation file."""
    target = Path(path) if path else default_eval_file()
    if not target.exists():
        raise FileNotFoundError(f"no evaluation file at {target} (use --file or {ENV_VAR})")
    print(format_report(evaluate(target), str(target)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else None))
