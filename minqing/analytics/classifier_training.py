"""Training and measuring the classifier's learned stage (`minqing classifier train`, `minqing classify-eval`).

Training data, all in the repository or the warehouse, never `../shared/eval/`:

- `minqing/analytics/classifier_data/real_messages_train.tsv`: 454 real citizen messages relabelled to our 15 codes
  (a copy of `shared/train/`; its README is `REAL_MESSAGES.md`, the labelling rubric `RUBRIC.md`);
- `minqing/analytics/classifier_data/project_texts.tsv`: the project's own labelled texts, one per phrase of the
  synthetic generator's tables (`minqing generate --training-texts`), which cover heating, waterlogging and
  the other codes a southern city's message board barely has;
- the labels people gave unsure complaints (`minqing review import`, ops.classification_reviews), when a
  warehouse is reachable.

A training text that equals (after normalisation) a text of the evaluation file is dropped and counted,
so that nothing of the measuring stick reaches the model, whatever a reviewer labelled.

Cross-validation (`cross_validate`) splits the real messages into stratified folds before anything is
fitted: each fold's model — vectorisers, linear model and calibration temperature — is fitted on the
other folds' real messages plus every project and reviewed text, and scored on the fold's real messages
only. The figures are those of texts the model never saw.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from minqing import config
from minqing.analytics import category_model, classifier

log = logging.getLogger(__name__)

DATA_DIR = Path(classifier.__file__).with_name("classifier_data")
REAL_FILE = DATA_DIR / "real_messages_train.tsv"
PROJECT_FILE = DATA_DIR / "project_texts.tsv"
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Labelled:
    category_code: str
    text: str
    source: str  # real | project | review


def load_tsv(path: Path, source: str) -> list[Labelled]:
    """Every (category, text) row of a tab-separated file with those columns."""
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        if not reader.fieldnames or not {"category", "text"} <= set(reader.fieldnames):
            raise RuntimeError(f"{path}: expected a header with the columns category and text")
        return [Labelled(row["category"].strip(), row["text"] or "", source)
                for row in reader if (row["category"] or "").strip()]


def _key(text: str) -> str:
    return hashlib.sha256(" ".join(classifier.normalise(text).split()).encode("utf-8")).hexdigest()


def _eval_keys() -> set[str]:
    path = config.eval_file()
    return {_key(row.text) for row in load_tsv(path, "eval")} if path.exists() else set()


def reviewed_texts() -> list[Labelled]:
    """The newest human label of each distinct text in the warehouse (none when it is unreachable)."""
    from minqing import warehouse
    from minqing.analytics import review

    try:
        with warehouse.connect() as conn:
            return [Labelled(code, text, "review") for code, text in review.labelled_texts(conn)]
    except Exception as exc:  # no warehouse, or one without the review table: train on the files alone
        log.warning("no reviewed texts from the warehouse (%s): training on the repository's files alone", exc)
        return []


def training_set(with_reviews: bool = True) -> tuple[list[Labelled], dict]:
    """The texts to train on, and their counts per source (and how many evaluation texts were dropped)."""
    rows = load_tsv(REAL_FILE, "real") + load_tsv(PROJECT_FILE, "project")
    if with_reviews:
        rows += reviewed_texts()
    codes = set(classifier.rules().categories)
    unknown = sorted({row.category_code for row in rows} - codes)
    if unknown:
        raise RuntimeError(f"training texts labelled with unknown codes {unknown} (seeds/issue_categories.csv)")
    held_out = _eval_keys()
    kept = [row for row in rows if _key(row.text) not in held_out]
    counts = {source: sum(row.source == source for row in kept) for source in ("real", "project", "review")}
    counts["dropped_as_evaluation_texts"] = len(rows) - len(kept)
    return kept, counts


def params() -> dict:
    """The training settings: `classifier.model` of minqing/settings.yml."""
    settings = dict((config.settings().get("classifier") or {}).get("model") or {})
    missing = {"block_weights", "ngram_max", "min_df", "C"} - set(settings)
    if missing:
        raise RuntimeError(f"settings.yml: classifier.model lacks {sorted(missing)}")
    return settings


def inputs_of(texts: list[str]) -> list[category_model.Inputs]:
    r = classifier.rules()
    return [classifier.read(text, r)[0] for text in texts]


def fit(rows: list[Labelled], inputs: list[category_model.Inputs] | None = None) -> category_model.Model:
    """The model for `rows`; its probabilities are calibrated on the real and reviewed texts (the project's
    phrase-table texts are easier than what residents write, and would make it overconfident)."""
    inputs = inputs if inputs is not None else inputs_of([row.text for row in rows])
    return category_model.fit(inputs, [row.category_code for row in rows], classifier.rules().categories, params(),
                              calibrate_on=[row.source != "project" for row in rows])


def train(out: Path | None = None, with_reviews: bool = True) -> dict:
    """Fit on the training set and write the artefact (default: the package's); returns a summary."""
    rows, counts = training_set(with_reviews)
    model = fit(rows)
    path = Path(out) if out else classifier.MODEL_FILE
    sha = category_model.save(model, path)
    return {"artefact": str(path), "sha256": sha, "bytes": path.stat().st_size, "texts": counts,
            "temperature": model.temperature, "features": int(model.coef.shape[1])}


# --- measuring ----------------------------------------------------------------------------------------------

def calibration(probabilities: np.ndarray, truth: np.ndarray, bins: int = CALIBRATION_BINS) -> dict:
    """Expected calibration error of the top probability (equal-width bins), with the bins themselves."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == truth
    table, error = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        inside = (confidence > low) & (confidence <= high) if b else (confidence >= low) & (confidence <= high)
        if inside.any():
            gap = abs(float(correct[inside].mean()) - float(confidence[inside].mean()))
            error += inside.mean() * gap
            table.append({"from": low, "to": high, "texts": int(inside.sum()),
                          "mean_confidence": round(float(confidence[inside].mean()), 3),
                          "accuracy": round(float(correct[inside].mean()), 3)})
    return {"ece": round(float(error), 4), "bins": table}


def cross_validate(folds: int = 5, with_reviews: bool = True, rows: list[Labelled] | None = None,
                   seed: int = 0) -> dict:
    """Stratified `folds`-fold cross-validation over the real messages (see the module docstring): the
    out-of-fold predicted codes and probabilities of every real message, in file order. `rows`: another
    training set than `training_set`'s (tests); `seed`: of the folds' shuffle."""
    from sklearn.model_selection import StratifiedKFold

    if rows is None:
        rows, counts = training_set(with_reviews)
    else:
        counts = {source: sum(row.source == source for row in rows) for source in ("real", "project", "review")}
    inputs = inputs_of([row.text for row in rows])
    real = np.array([i for i, row in enumerate(rows) if row.source == "real"])
    extra = [i for i, row in enumerate(rows) if row.source != "real"]
    labels = np.array([rows[i].category_code for i in real])
    categories = classifier.rules().categories
    probabilities = np.zeros((len(real), len(categories)))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        for train_part, test_part in splitter.split(np.zeros(len(real)), labels):
            chosen = [int(i) for i in real[train_part]] + extra
            model = fit([rows[i] for i in chosen], [inputs[i] for i in chosen])
            probabilities[test_part] = model.probabilities([inputs[int(i)] for i in real[test_part]])[0]
    predicted = [categories[k] for k in probabilities.argmax(axis=1)]
    return {"gold": list(labels), "predicted": predicted, "probabilities": probabilities,
            "categories": categories, "texts": counts, "folds": folds}
