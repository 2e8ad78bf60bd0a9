"""The classifier's learned stage: deterministic training, the shipped artefact, cross-validation without
leakage, calibration, abstention and the worker pool. No warehouse: reviewed texts are covered by
tests/integration/test_review.py."""

from __future__ import annotations

import hashlib
import multiprocessing
import random
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

from minqing.analytics import category_model, classifier, classifier_training as training
from test_classifier import CASES


@pytest.fixture(scope="module")
def training_rows():
    rows, counts = training.training_set(with_reviews=False)
    assert counts["real"] == 454 and counts["project"] > 200
    return rows


def test_training_is_deterministic_and_the_shipped_artefact_is_what_it_makes(training_rows, tmp_path):
    first = training.train(tmp_path / "a.zip", with_reviews=False)
    second = training.train(tmp_path / "b.zip", with_reviews=False)
    assert first["sha256"] == second["sha256"]
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    shipped = classifier.MODEL_FILE.read_bytes()
    assert len(shipped) < 4_000_000
    assert classifier.model().sha256 == hashlib.sha256(shipped).hexdigest()
    if hashlib.sha256(shipped).hexdigest() != first["sha256"]:
        # Not byte-identical (another CPU may round the last bit of a float differently): the same
        # vocabularies, settings and categories, and the same weights to float32 precision, or it is stale.
        made, ours = category_model.load(tmp_path / "a.zip"), category_model.load(classifier.MODEL_FILE)
        stale = "the committed artefact is stale: run `minqing classifier train --no-reviews` and commit it"
        assert made.feature_names() == ours.feature_names() and made.params == ours.params, stale
        assert np.allclose(made.coef, ours.coef, atol=1e-4) and abs(made.temperature - ours.temperature) < 1e-3, stale


def test_a_loaded_artefact_predicts_what_the_fitted_model_does(training_rows, tmp_path):
    inputs = training.inputs_of([row.text for row in training_rows[:60]])
    fitted = training.fit(training_rows, training.inputs_of([row.text for row in training_rows]))
    category_model.save(fitted, tmp_path / "m.zip")
    loaded = category_model.load(tmp_path / "m.zip")
    assert loaded.sha256 == fitted.sha256 and loaded.temperature == fitted.temperature
    p_fitted, _ = fitted.probabilities(inputs)
    p_loaded, _ = loaded.probabilities(inputs)
    assert np.abs(p_fitted - p_loaded).max() < 1e-3  # float32 storage
    assert (p_fitted.argmax(axis=1) == p_loaded.argmax(axis=1)).all()


def test_cross_validation_does_not_leak(training_rows):
    # With the real messages' labels shuffled there is nothing to learn: a model that saw its test fold
    # (vectorisers fitted on everything, or the test texts among the training ones) would still score
    # well; one fitted on the other folds alone scores near chance.
    rng = random.Random(3)
    real = [row for row in training_rows if row.source == "real"]
    labels = [row.category_code for row in real]
    rng.shuffle(labels)
    shuffled = [training.Labelled(code, row.text, "real") for code, row in zip(labels, real)]
    cv = training.cross_validate(5, rows=shuffled)
    accuracy = np.mean([g == p for g, p in zip(cv["gold"], cv["predicted"])])
    assert accuracy < 0.25, accuracy
    honest = training.cross_validate(5, rows=real)
    assert np.mean([g == p for g, p in zip(honest["gold"], honest["predicted"])]) > 0.6


def test_training_drops_texts_of_the_evaluation_file(tmp_path, monkeypatch):
    real = training.load_tsv(training.REAL_FILE, "real")
    fake_eval = tmp_path / "eval.tsv"
    fake_eval.write_text("category\ttext\n" + f"{real[0].category_code}\t {real[0].text.upper()} \n", encoding="utf-8")
    monkeypatch.setenv("MINQING_EVAL_FILE", str(fake_eval))
    rows, counts = training.training_set(with_reviews=False)
    assert counts["dropped_as_evaluation_texts"] == 1 and counts["real"] == len(real) - 1
    assert real[0].text not in {row.text for row in rows}


def test_calibration_error():
    probabilities = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    truth = np.array([0, 0, 0, 1])
    result = training.calibration(probabilities, truth)
    # bin 0.9-1.0: confidence 0.95, accuracy 1.0; bin 0.5-0.6: confidence 0.55, accuracy 0.5
    assert result["ece"] == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    assert [b["texts"] for b in result["bins"]] == [2, 2]


def test_needs_review_below_the_threshold(monkeypatch):
    texts = [text for _, text in CASES] + ["你好", "请问这个怎么办", "12345", "谢谢"]
    results = classifier.classify_many(texts)
    threshold = classifier.review_below()
    for result in results:
        assert result.needs_review == (result.confidence < threshold)
        assert result.candidates[0] == (result.category_code, result.confidence)
        assert [p for _, p in result.candidates] == sorted((p for _, p in result.candidates), reverse=True)
        assert sum(p for _, p in result.candidates) <= 1.001
    assert any(r.needs_review for r in results) and not all(r.needs_review for r in results)
    monkeypatch.setattr(classifier, "review_below", lambda: 1.01)
    assert all(r.needs_review for r in classifier.classify_many(texts))


def test_the_worker_pool_gives_the_codes_of_one_process():
    batch = [(f"{i:064x}", text) for i, (_, text) in enumerate(CASES)]
    here = classifier._classify_batch(batch)
    classifier.model()  # loaded before forking, as _classified_batches does
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        there = [row for part in pool.map(classifier._classify_batch, [batch[:30], batch[30:]]) for row in part]
    assert there == here


def test_heating_stays_covered_although_the_real_messages_have_none(training_rows):
    assert not any(row.category_code == "heating" for row in training_rows if row.source == "real")
    assert sum(row.category_code == "heating" for row in training_rows if row.source == "project") >= 10
    heating = [text for code, text in CASES if code == "heating"]
    assert [classifier.classify(text).category_code for text in heating] == ["heating"] * len(heating)
