"""The learned stage of the complaint classifier: a linear model over what a text says and what the rules found.

A text is four blocks of features, each weighted by the training settings (`classifier.model` in
minqing/settings.yml, stored in the artefact):

- `text`: TF-IDF of the character 1–3-grams of the whole (normalised, capped) text;
- `subject`: the same of its subject — the words before the first full stop, question or exclamation
  mark, at most SUBJECT_CHARS characters — where a citizen usually states the main demand, weighed
  above a side remark in the body;
- `words`: TF-IDF of the jieba words (the segmentation the keyword rules use);
- `rules`: the keyword rules' score per category (`log1p` of the positive part), so the analyst's
  keyword seed (`dbt_project/seeds/category_keywords.csv`) still steers the model.

A linear support-vector machine (scikit-learn `LinearSVC`, one-vs-rest) scores the categories; its
scores become probabilities through a softmax with one temperature, fitted on out-of-fold scores
(stratified folds), so that a probability of 0.8 is right about eight times in ten.

This module knows nothing of keywords or the warehouse: the classifier (`minqing/analytics/classifier.py`) prepares
the `Inputs`, training (`minqing/analytics/classifier_training.py`) calls `fit`. The artefact is a zip of plain arrays
and JSON written byte for byte the same for the same model (no pickles, no timestamps), so its SHA-256 is
a fair part of the classifier version.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse

ARTEFACT_FORMAT = 1
SUBJECT_CHARS = 60
_SENTENCE_END = re.compile(r"[。！？!?\n]")
BLOCKS = ("text", "subject", "words", "rules")
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Inputs:
    """One text as the model reads it (prepared by the classifier)."""
    text: str  # normalised (NFKC, lower case) and capped
    words: Sequence[str]  # jieba's segmentation of `text`
    rule_scores: Sequence[float]  # the rules' score per category, in the model's category order

    @property
    def subject(self) -> str:
        return subject_of(self.text)


def subject_of(text: str) -> str:
    """The text's subject: up to its first sentence end, at most SUBJECT_CHARS characters."""
    return _SENTENCE_END.split(text, maxsplit=1)[0][:SUBJECT_CHARS]


def _words(words):
    return list(words)


def _vectorizer(block: str, min_df: int, ngram_max: int, vocabulary=None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    if block == "words":
        return TfidfVectorizer(analyzer=_words, sublinear_tf=True, min_df=min_df, vocabulary=vocabulary)
    return TfidfVectorizer(analyzer="char", ngram_range=(1, ngram_max), sublinear_tf=True,
                           min_df=1 if block == "subject" else min_df, vocabulary=vocabulary, lowercase=False)


def _documents(block: str, inputs: Sequence[Inputs]):
    if block == "text":
        return [i.text for i in inputs]
    if block == "subject":
        return [i.subject for i in inputs]
    return [list(i.words) for i in inputs]


def _rule_block(inputs: Sequence[Inputs]) -> sparse.csr_matrix:
    scores = np.asarray([list(i.rule_scores) for i in inputs], dtype=float).reshape(len(inputs), -1)
    return sparse.csr_matrix(np.log1p(np.maximum(scores, 0.0)))


@dataclass
class Model:
    categories: tuple[str, ...]
    params: dict  # the training settings it was fitted with (block weights, C, min_df, ngram_max)
    vectorizers: dict  # block -> fitted TfidfVectorizer (text, subject, words)
    coef: np.ndarray  # categories × features
    intercept: np.ndarray
    temperature: float
    sha256: str = ""  # of the artefact's bytes (set by `to_bytes` and `load`)

    def features(self, inputs: Sequence[Inputs]) -> sparse.csr_matrix:
        return _features(inputs, self.vectorizers, self.params)

    def scores(self, X) -> np.ndarray:
        return np.asarray(X @ self.coef.T) + self.intercept

    def probabilities(self, inputs: Sequence[Inputs]) -> tuple[np.ndarray, sparse.csr_matrix]:
        """Calibrated probabilities (texts × categories) and the feature matrix they came from."""
        X = self.features(inputs)
        return softmax(self.scores(X), self.temperature), X

    def feature_names(self) -> list[str]:
        names = []
        for block in BLOCKS[:3]:
            vocabulary = self.vectorizers[block].vocabulary_
            names += [f"{block}:{term}" for term, _ in sorted(vocabulary.items(), key=lambda kv: kv[1])]
        return names + [f"rules:{code}" for code in self.categories]

    def explain(self, X: sparse.csr_matrix, row: int, category_index: int, limit: int = 6) -> list[tuple[str, str, float]]:
        """The features that raised `category_index`'s score most for text `row` of the feature matrix `X`:
        (block, term, contribution), strongest first; single characters only when nothing longer helped,
        never punctuation."""
        span = slice(X.indptr[row], X.indptr[row + 1])
        indices = X.indices[span]
        contributions = X.data[span] * self.coef[category_index, indices]
        names = self._names()
        found = []
        for order in np.argsort(-contributions, kind="stable"):
            value = float(contributions[order])
            if value <= 0:
                break
            block, term = names[indices[order]].split(":", 1)
            found.append((block, term, value))
        # readable terms: words and n-grams of two or more letters or digits (no punctuation, no spaces)
        readable = [f for f in found if f[0] == "rules" or (len(f[1]) >= 2 and f[1].isalnum())]
        return (readable or [f for f in found if f[1].isalnum()])[:limit]

    def _names(self) -> list[str]:
        if not hasattr(self, "_name_cache"):
            self._name_cache = self.feature_names()
        return self._name_cache


def _features(inputs: Sequence[Inputs], vectorizers: dict, params: dict, fit: bool = False) -> sparse.csr_matrix:
    weights = params["block_weights"]
    blocks = []
    for block in BLOCKS[:3]:
        docs = _documents(block, inputs)
        matrix = vectorizers[block].fit_transform(docs) if fit else vectorizers[block].transform(docs)
        blocks.append(weights[block] * matrix)
    blocks.append(weights["rules"] * _rule_block(inputs))
    return sparse.hstack(blocks, format="csr")


def softmax(scores: np.ndarray, temperature: float) -> np.ndarray:
    z = scores * temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _fit_linear(X, y: np.ndarray, categories: tuple[str, ...], C: float):
    """coef and intercept over every category (a category without training texts never wins)."""
    from sklearn.svm import LinearSVC

    present = sorted(set(y))
    svm = LinearSVC(C=C, random_state=0, max_iter=20_000).fit(X, y)
    coef = np.zeros((len(categories), X.shape[1]))
    intercept = np.full(len(categories), -1e3)
    if len(present) == 2:  # a binary LinearSVC has one row: the second class's score
        rows = {present[1]: (svm.coef_[0], svm.intercept_[0]), present[0]: (-svm.coef_[0], -svm.intercept_[0])}
    else:
        rows = {code: (svm.coef_[i], svm.intercept_[i]) for i, code in enumerate(svm.classes_)}
    for code, (c, b) in rows.items():
        coef[categories.index(code)] = c
        intercept[categories.index(code)] = b
    return coef, intercept


def _fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The softmax temperature that minimises the log-loss of the true categories (golden-section search)."""
    def loss(t: float) -> float:
        p = softmax(scores, t)[np.arange(len(truth)), truth]
        return float(-np.log(np.clip(p, 1e-12, None)).mean())

    low, high = 0.05, 50.0
    ratio = (5 ** 0.5 - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    for _ in range(80):
        if loss(a) < loss(b):
            high, b = b, a
            a = high - ratio * (high - low)
        else:
            low, a = a, b
            b = low + ratio * (high - low)
    return round((low + high) / 2, 6)


def _fit_once(inputs: Sequence[Inputs], labels: np.ndarray, categories: tuple[str, ...], params: dict):
    vectorizers = {block: _vectorizer(block, params["min_df"], params["ngram_max"]) for block in BLOCKS[:3]}
    X = _features(inputs, vectorizers, params, fit=True)
    coef, intercept = _fit_linear(X, labels, categories, params["C"])
    return vectorizers, coef, intercept


def fit(inputs: Sequence[Inputs], labels: Sequence[str], categories: Sequence[str], params: dict,
        calibration_folds: int = 5, calibrate_on: Sequence[bool] | None = None) -> Model:
    """Fit the model on labelled texts, deterministically; the temperature from out-of-fold scores of the
    texts `calibrate_on` marks (default: all), so that probabilities are calibrated for texts like those."""
    from sklearn.model_selection import StratifiedKFold

    categories = tuple(categories)
    labels = np.asarray(labels)
    unknown = sorted(set(labels) - set(categories))
    if unknown:
        raise ValueError(f"labels that are not category codes: {unknown}")
    truth = np.array([categories.index(code) for code in labels])
    folds = min(calibration_folds, int(np.bincount(truth).max()))
    out_of_fold = np.zeros((len(labels), len(categories)))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class")
        for train, held in splitter.split(np.zeros(len(labels)), labels):
            vectorizers, coef, intercept = _fit_once([inputs[i] for i in train], labels[train], categories, params)
            X = _features([inputs[i] for i in held], vectorizers, params)
            out_of_fold[held] = np.asarray(X @ coef.T) + intercept
    mask = np.ones(len(labels), bool) if calibrate_on is None else np.asarray(calibrate_on, bool)
    temperature = _fit_temperature(out_of_fold[mask], truth[mask])
    vectorizers, coef, intercept = _fit_once(inputs, labels, categories, params)
    model = Model(categories, dict(params), vectorizers, coef, intercept, temperature)
    model.sha256 = hashlib.sha256(to_bytes(model)).hexdigest()
    return model


# --- the artefact ----------------------------------------------------------------------------------------

def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def to_bytes(model: Model) -> bytes:
    """The artefact: meta.json (categories, settings, temperature, vocabularies) and float32 arrays, in a zip
    whose entries have a fixed date, so the same model is the same bytes."""
    meta = {
        "format": ARTEFACT_FORMAT,
        "categories": list(model.categories),
        "params": model.params,
        "temperature": model.temperature,
        "vocabularies": {block: [term for term, _ in sorted(model.vectorizers[block].vocabulary_.items(),
                                                            key=lambda kv: kv[1])] for block in BLOCKS[:3]},
    }
    arrays = {f"idf_{block}": model.vectorizers[block].idf_.astype(np.float32) for block in BLOCKS[:3]}
    arrays["coef"] = model.coef.astype(np.float32)
    arrays["intercept"] = model.intercept.astype(np.float32)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = {"meta.json": json.dumps(meta, ensure_ascii=False, sort_keys=True).encode("utf-8")}
        entries.update({f"{name}.npy": _array_bytes(value) for name, value in sorted(arrays.items())})
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def save(model: Model, path: Path) -> str:
    """Write the artefact; returns its SHA-256."""
    data = to_bytes(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    model.sha256 = hashlib.sha256(data).hexdigest()
    return model.sha256


def load(path: Path) -> Model:
    """Read an artefact written by `save` (the model is rebuilt from its arrays, not unpickled)."""
    data = Path(path).read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        meta = json.loads(archive.read("meta.json"))
        if meta.get("format") != ARTEFACT_FORMAT:
            raise RuntimeError(f"{path}: classifier artefact format {meta.get('format')!r}, expected "
                               f"{ARTEFACT_FORMAT}: run `minqing classifier train`")
        arrays = {name[:-4]: np.lib.format.read_array(io.BytesIO(archive.read(name)), allow_pickle=False)
                  for name in archive.namelist() if name.endswith(".npy")}
    params = meta["params"]
    vectorizers = {}
    for block in BLOCKS[:3]:
        vocabulary = {term: index for index, term in enumerate(meta["vocabularies"][block])}
        vectorizer = _vectorizer(block, params["min_df"], params["ngram_max"], vocabulary=vocabulary)
        vectorizer.idf_ = arrays[f"idf_{block}"].astype(np.float64)
        vectorizers[block] = vectorizer
    return Model(tuple(meta["categories"]), params, vectorizers, arrays["coef"].astype(np.float64),
                 arrays["intercept"].astype(np.float64), float(meta["temperature"]),
                 hashlib.sha256(data).hexdigest())
