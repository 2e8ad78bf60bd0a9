"""The complaint classifier: one of the 15 issue categories for a complaint text, with confidence and evidence.

Two stages. The keyword rules (below) score each category; the learned stage (minqing/analytics/category_model.py,
trained by `minqing classifier train`) reads the text, its subject and the rules' scores and decides, with
a calibrated probability, the three most probable codes and `needs_review` below `classifier.review_below`
(`classify`, `classify_many`, `classify_pending`). `classify_with` is the rules alone, as described here.

The rules are data, not code: `dbt_project/seeds/category_keywords.csv` (columns `category_code, keyword,
weight, note`), which a street analyst edits. A keyword may appear under several categories with
different weights; a negative weight argues against a category.

How a text is scored
--------------------
0. Only the first `classifier.max_text_chars` characters of the text are read (minqing/settings.yml): a
   complaint says what it is about at its start, and the cap bounds the work per text whatever a source
   sends (the whole text is still stored; only the classification reads its prefix).
1. The text is normalised (NFKC, so full-width letters and digits become ASCII; lower case) and segmented
   with jieba, into which every keyword of two or more characters has been registered
   (`jieba.add_word`) so that segmentation keeps it whole.
2. Keywords are found by length:
   - one character (dog, noisy, cold ...): only when jieba cuts that character as a token of its own,
     so a character inside a longer word never counts;
   - two characters: when they lie inside a single token (a token equal to the keyword or containing
     it), or straddle two adjacent tokens one of which is a lone character (a fragment jieba was unsure
     of, as when "as soon as it rains" is cut before "rain"); never across two longer words, where the
     two characters belong to different words ("downstairs" + "water pipe" does not hold "drain");
   - three or more characters: anywhere in the text (a phrase may span several tokens).
3. A longer keyword overrides the shorter ones inside it: a match whose span lies within the span of a
   longer match is dropped (one sweep over the spans sorted by start: O(n log n) in the matches). This is
   how context is written into the rules: "radiator leaking" (heating) suppresses the plain "leaking"
   (housing_leak) inside it, "construction noise" (noise) the plain "construction" inside it.
4. Each category's score is the sum, over the keywords left, of weight × repeat factor, the factor
   being 1 for one occurrence and growing by REPEAT_BONUS per further occurrence up to REPEAT_CAP
   occurrences, so that a long transcript repeating its subject leans towards it without one word
   drowning everything else.
5. The category with the highest score wins; ties go to the category listed first in
   `issue_categories.csv` (`other` is last).
6. Back-off: when no category scores above zero, the text is matched again with every keyword of two
   or more characters found anywhere, token boundaries ignored (colloquial text that jieba cuts oddly
   still says something). One-character keywords stay out of the back-off: inside other words they
   mostly mean something else (the "electric" in "telephone"). Only when the back-off finds nothing
   either is the text `other`, with confidence 0 and no evidence. Back-off results carry little
   evidence, hence low confidence, by the formula below.

Confidence
----------
With s1 the best score and s2 the runner-up's (negative scores count as 0)::

    strength   = 1 - exp(-s1 / STRENGTH_SCALE)      how much evidence there is (0 → 0, 3 → 0.63, 6 → 0.86)
    margin     = (s1 - s2) / s1                     how clearly it beats the rest (1 when alone, 0 on a tie)
    confidence = strength × (0.5 + 0.5 × margin)

rounded to three decimals (the warehouse column is numeric(4, 3)). A single decisive phrase alone gives
about 0.6-0.7; several agreeing keywords and no competitor approach 1; a tie halves the strength.

Evidence is the keywords that raised the winning category's score, strongest first. With the learned
stage, the confidence is its probability, and the evidence the rules' keywords for the code it chose
followed by the model's strongest terms for it (EVIDENCE_LIMIT in all).

The rules' version (`Rules.version`) is a short hash of the algorithm revision, the prefix cap
(`max_text_chars`) and the seed's contents (line endings and a byte-order mark ignored); the classifier's
(`classifier_version`) hashes it with the learned stage's artefact and the review threshold: stored
classifications made under another version are redone.
"""

from __future__ import annotations

import csv
import hashlib
import io
import itertools
import json
import logging
import math
import sys
import threading
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ingestion.contracts import complaint_texts_sql
from minqing import config, parallel, warehouse

log = logging.getLogger(__name__)

KEYWORDS_FILE = "category_keywords.csv"
CATEGORIES_FILE = "issue_categories.csv"
FALLBACK_CATEGORY = "other"  # the code for "nothing matched"; must exist in issue_categories.csv

ALGORITHM_REVISION = "3"  # bump when the scoring below changes, so the version changes with it
STRENGTH_SCALE = 3.0
REPEAT_BONUS = 0.25
REPEAT_CAP = 3
PHRASE_LENGTH = 3  # keywords this long or longer match anywhere in the text
COPY_BATCH = 5_000  # texts classified and written per round in classify_pending
PARALLEL_MIN = 4 * COPY_BATCH  # fewer pending texts than this are classified in-process

# The complaint texts of the warehouse, formed as each channel's contract says (ingestion/contracts/): the dbt
# staging models hash the same expressions to join ops.text_classifications.
_PENDING_SQL = f"""
with texts (text) as (
    {complaint_texts_sql("file_id > %(after)s and file_id <= %(upto)s")}
), hashed as (
    select encode(sha256(convert_to(text, 'UTF8')), 'hex') as text_sha256, text from texts
)
select h.text_sha256, h.text
from hashed h
where not exists (
    select 1 from ops.text_classifications c
    where c.text_sha256 = h.text_sha256 and c.classifier_version = %(version)s
)
order by h.text_sha256
"""

# the files whose texts the current rules have seen (ops.file_watermarks): a run reads newer ones only
_WATERMARK = "classifier:{version}"

_UPSERT_SQL = """
insert into ops.text_classifications
    (text_sha256, category_code, confidence, evidence, candidates, needs_review, classifier_version, classified_at)
select text_sha256, category_code, confidence, evidence, candidates, needs_review, classifier_version, now()
from _text_classifications_batch
on conflict (text_sha256) do update set
    category_code      = excluded.category_code,
    confidence         = excluded.confidence,
    evidence           = excluded.evidence,
    candidates         = excluded.candidates,
    needs_review       = excluded.needs_review,
    classifier_version = excluded.classifier_version,
    classified_at      = excluded.classified_at
"""


@dataclass(frozen=True)
class Classification:
    """The category chosen for one text, how sure the classifier is, and the words that decided it.

    From the rules alone (`classify_with`) the confidence is the rules' strength and margin; from the
    classifier (`classify`, `classify_many`) it is the learned stage's calibrated probability, with the
    three most probable codes in `candidates` and `needs_review` set below `classifier.review_below`.
    """

    category_code: str
    confidence: float
    evidence: tuple[str, ...]
    candidates: tuple[tuple[str, float], ...] = ()
    needs_review: bool = False


@dataclass(frozen=True)
class Rules:
    """The keyword seed, parsed and indexed for matching."""

    categories: tuple[str, ...]  # in the order of issue_categories.csv: the tie-break order
    weights: dict[str, tuple[tuple[str, float], ...]]  # keyword -> ((category_code, weight), ...)
    single: frozenset[str]  # one-character keywords
    pairs: frozenset[str]  # two-character keywords
    phrases: frozenset[str]  # keywords of PHRASE_LENGTH characters or more
    phrase_lengths: tuple[int, ...]
    max_text_chars: int  # only this many leading characters of a text are classified
    version: str


def normalise(text: str) -> str:
    """The form both texts and keywords are matched in: NFKC, lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


def max_text_chars() -> int:
    """The prefix of a text that is classified: `classifier.max_text_chars` of minqing/settings.yml."""
    value = (config.settings().get("classifier") or {}).get("max_text_chars")
    if type(value) is not int or value < 1:
        raise RuntimeError(f"settings.yml: classifier.max_text_chars must be a positive integer, not {value!r}")
    return value


def version_of(seed_text: str, max_chars: int | None = None) -> str:
    """The classifier version for a keyword seed's contents and the prefix cap (default: the settings'):
    12 hex digits of a SHA-256."""
    max_chars = max_text_chars() if max_chars is None else max_chars
    canonical = seed_text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    header = f"algorithm {ALGORITHM_REVISION}\nmax_text_chars {max_chars}\n"
    digest = hashlib.sha256(f"{header}{canonical}".encode("utf-8"))
    return digest.hexdigest()[:12]


def _category_codes(seeds_dir: Path) -> tuple[str, ...]:
    with open(seeds_dir / CATEGORIES_FILE, encoding="utf-8", newline="") as fh:
        codes = tuple(row["category_code"].strip() for row in csv.DictReader(fh))
    if FALLBACK_CATEGORY not in codes:
        raise RuntimeError(f"{CATEGORIES_FILE} has no category {FALLBACK_CATEGORY!r}")
    return codes


def parse_rules(seed_text: str, categories: tuple[str, ...], max_chars: int | None = None) -> Rules:
    """Parse and check the keyword seed; a bad row raises RuntimeError naming its line. `max_chars` is the
    prefix cap (default: the settings')."""
    max_chars = max_text_chars() if max_chars is None else max_chars
    reader = csv.DictReader(io.StringIO(seed_text.lstrip("\ufeff")))
    expected = ["category_code", "keyword", "weight", "note"]
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != expected:
        raise RuntimeError(f"{KEYWORDS_FILE}: the header must be {','.join(expected)}")
    known = set(categories)
    table: dict[str, dict[str, float]] = defaultdict(dict)
    for line, row in enumerate(reader, start=2):
        code = (row["category_code"] or "").strip()
        keyword = normalise((row["keyword"] or "").strip())
        if not code and not keyword:
            continue
        if code not in known:
            raise RuntimeError(f"{KEYWORDS_FILE} line {line}: unknown category {code!r}")
        if not keyword:
            raise RuntimeError(f"{KEYWORDS_FILE} line {line}: empty keyword")
        try:
            weight = float(row["weight"])
        except (TypeError, ValueError):
            raise RuntimeError(f"{KEYWORDS_FILE} line {line}: weight {row['weight']!r} is not a number") from None
        if not math.isfinite(weight) or weight == 0:
            raise RuntimeError(f"{KEYWORDS_FILE} line {line}: weight must be a non-zero number")
        if code in table[keyword]:
            raise RuntimeError(f"{KEYWORDS_FILE} line {line}: {keyword!r} is listed twice under {code}")
        table[keyword][code] = weight
    order = {code: i for i, code in enumerate(categories)}
    weights = {kw: tuple(sorted(per.items(), key=lambda item: order[item[0]])) for kw, per in table.items()}
    phrases = frozenset(kw for kw in weights if len(kw) >= PHRASE_LENGTH)
    return Rules(
        categories=categories,
        weights=weights,
        single=frozenset(kw for kw in weights if len(kw) == 1),
        pairs=frozenset(kw for kw in weights if len(kw) == 2),
        phrases=phrases,
        phrase_lengths=tuple(sorted({len(kw) for kw in phrases}, reverse=True)),
        max_text_chars=max_chars,
        version=version_of(seed_text, max_chars),
    )


def load_rules(seeds_dir: Path | None = None) -> Rules:
    """Read the keyword seed (and the category list it is checked against) from the seeds folder."""
    seeds_dir = Path(seeds_dir or config.SEEDS_DIR)
    seed_text = (seeds_dir / KEYWORDS_FILE).read_text(encoding="utf-8")
    return parse_rules(seed_text, _category_codes(seeds_dir))


# --- jieba and the process-wide rules, initialised lazily and once ------------------------------------

_lock = threading.RLock()
_rules: Rules | None = None


def _register_with_jieba(rules: Rules) -> None:
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it prints its dictionary loading at DEBUG otherwise
    logging.getLogger("jieba").setLevel(logging.WARNING)
    jieba.initialize()
    for keyword in sorted(rules.weights):
        if len(keyword) >= 2:
            jieba.add_word(keyword)


def rules() -> Rules:
    """The rules of this process: loaded, and registered with jieba, on first use."""
    global _rules
    if _rules is None:
        with _lock:
            if _rules is None:
                loaded = load_rules()
                _register_with_jieba(loaded)
                _rules = loaded
    return _rules


def classifier_version() -> str:
    """A short hash of the rules, the learned stage's artefact and the review threshold in use; stored
    classifications with another version are out of date."""
    header = f"rules {rules().version}\nmodel {model().sha256}\nreview_below {review_below()}\n"
    return hashlib.sha256(header.encode("utf-8")).hexdigest()[:12]


def _segment(text: str) -> list[str]:
    import jieba

    return jieba.lcut(text)


# --- scoring --------------------------------------------------------------------------------------------

def _matches(text: str, tokens: list[str], r: Rules) -> list[tuple[int, int, str]]:
    """Every keyword occurrence as (start, end, keyword), before longer matches suppress shorter ones."""
    found: list[tuple[int, int, str]] = []
    pos = 0
    previous = ""
    for token in tokens:
        n = len(token)
        if n == 1 and token in r.single:
            found.append((pos, pos + 1, token))
        for i in range(n - 1):
            pair = token[i:i + 2]
            if pair in r.pairs:
                found.append((pos + i, pos + i + 2, pair))
        if previous and n and (len(previous) == 1 or n == 1) and previous[-1] + token[0] in r.pairs:
            found.append((pos - 1, pos + 1, previous[-1] + token[0]))
        previous = token
        pos += n
    if r.phrases:
        for start in range(len(text)):
            for length in r.phrase_lengths:
                candidate = text[start:start + length]
                if len(candidate) == length and candidate in r.phrases:
                    found.append((start, start + length, candidate))
    return found


def _loose_matches(text: str, r: Rules) -> list[tuple[int, int, str]]:
    """The back-off: every keyword of two or more characters anywhere in the text, token boundaries ignored."""
    found = []
    for start in range(len(text)):
        if text[start:start + 2] in r.pairs:
            found.append((start, start + 2, text[start:start + 2]))
        for length in r.phrase_lengths:
            candidate = text[start:start + length]
            if len(candidate) == length and candidate in r.phrases:
                found.append((start, start + length, candidate))
    return found


def _keep_longest(found: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """Drop each match whose span lies inside the span of a longer match; the others keep their order.

    A span (s, e) holding (start, end) with s <= start and end <= e is longer exactly when it is a different
    span. Sorted by start, and by end descending among equal starts, every span that could hold a given one
    comes before it, so one sweep keeping the furthest end seen so far finds the spans held by another:
    O(n log n) in the matches, where comparing every pair was O(n²).
    """
    held = set()
    furthest = None
    for start, end in sorted({(start, end) for start, end, _ in found}, key=lambda span: (span[0], -span[1])):
        if furthest is not None and end <= furthest:
            held.add((start, end))
        else:
            furthest = end
    return [match for match in found if (match[0], match[1]) not in held]


def _confidence(best: float, runner_up: float) -> float:
    strength = 1.0 - math.exp(-best / STRENGTH_SCALE)
    margin = (best - max(runner_up, 0.0)) / best
    return round(min(1.0, max(0.0, strength * (0.5 + 0.5 * margin))), 3)


def classify_with(text: str, r: Rules) -> Classification:
    """Classify with the rules alone: the first `r.max_text_chars` characters of the text."""
    normal = normalise((text or "")[:r.max_text_chars])
    if not normal.strip():
        return Classification(FALLBACK_CATEGORY, 0.0, ())
    return _best(*_rule_scores(normal, _segment(normal), r), r) or Classification(FALLBACK_CATEGORY, 0.0, ())


def _rule_scores(normal: str, tokens: list[str], r: Rules):
    """`_scores` of the keywords matched on the segmentation, else (none scoring above zero) of the back-off."""
    found = _scores(_keep_longest(_matches(normal, tokens, r)), r)
    if max(found[0].values(), default=0.0) <= 0:
        found = _scores(_keep_longest(_loose_matches(normal, r)), r)
    return found


def _scores(kept: list[tuple[int, int, str]], r: Rules):
    """Each category's score for the kept matches, each keyword's part in it, and where each keyword was
    first seen."""
    counts = Counter(keyword for _, _, keyword in kept)
    first_seen: dict[str, int] = {}
    for start, _, keyword in sorted(kept):
        first_seen.setdefault(keyword, start)

    scores = dict.fromkeys(r.categories, 0.0)
    contributions: dict[str, dict[str, float]] = defaultdict(dict)
    for keyword, count in counts.items():
        factor = 1.0 + REPEAT_BONUS * (min(count, REPEAT_CAP) - 1)
        for code, weight in r.weights[keyword]:
            scores[code] += weight * factor
            contributions[code][keyword] = weight * factor
    return scores, contributions, first_seen


def _evidence(code: str, contributions, first_seen) -> tuple[str, ...]:
    """The keywords that raised `code`'s score, strongest first."""
    return tuple(sorted((kw for kw, c in contributions[code].items() if c > 0),
                        key=lambda kw: (-contributions[code][kw], first_seen[kw], kw)))


def _best(scores, contributions, first_seen, r: Rules) -> Classification | None:
    """The best category for the scores, or None when no category scores above zero."""
    best_code = max(r.categories, key=lambda code: (scores[code], -r.categories.index(code)))
    best = scores[best_code]
    if best <= 0:
        return None
    runner_up = max((scores[code] for code in r.categories if code != best_code), default=0.0)
    return Classification(best_code, _confidence(best, runner_up), _evidence(best_code, contributions, first_seen))


# --- the learned stage ------------------------------------------------------------------------------------

MODEL_ENV = "MINQING_CLASSIFIER_MODEL"
MODEL_FILE = Path(__file__).with_name("classifier_data") / "category_model.zip"
EVIDENCE_LIMIT = 8

_model = None


def model_path() -> Path:
    """The learned stage's artefact: $MINQING_CLASSIFIER_MODEL, else the one shipped in the package."""
    return Path(config.env(MODEL_ENV) or MODEL_FILE)


def model():
    """The learned stage of this process (minqing/analytics/category_model.py), loaded on first use."""
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                from minqing.analytics import category_model

                path = model_path()
                if not path.exists():
                    raise RuntimeError(f"no classifier model at {path}: run `minqing classifier train`")
                loaded = category_model.load(path)
                if loaded.categories != rules().categories:
                    raise RuntimeError(f"the classifier model at {path} was trained for other categories than "
                                       "seeds/issue_categories.csv: run `minqing classifier train`")
                _model = loaded
    return _model


def review_below() -> float:
    """`classifier.review_below` of minqing/settings.yml: a best probability under it needs review."""
    value = (config.settings().get("classifier") or {}).get("review_below")
    if not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RuntimeError(f"settings.yml: classifier.review_below must be a number in [0, 1], not {value!r}")
    return float(value)


def read(text: str, r: Rules):
    """What the rules make of a text: the learned stage's inputs, and each keyword's part in each category's
    score with where it was first seen (for the evidence)."""
    from minqing.analytics.category_model import Inputs

    normal = normalise((text or "")[:r.max_text_chars])
    tokens = _segment(normal) if normal.strip() else []
    scores, contributions, first_seen = _rule_scores(normal, tokens, r)
    return Inputs(normal, tokens, [scores[code] for code in r.categories]), contributions, first_seen


def _merge_evidence(rule_words: tuple[str, ...], model_terms: list[tuple[str, str, float]]) -> tuple[str, ...]:
    """The rules' keywords for the winning code, then the model's strongest terms; a term already
    covered by a listed one (equal or inside it) is not repeated."""
    evidence: list[str] = []
    for term in [*rule_words, *(term for block, term, _ in model_terms if block != "rules")]:
        term = term.strip()
        if term and not any(term in listed for listed in evidence):
            evidence = [listed for listed in evidence if listed not in term] + [term]
        if len(evidence) >= EVIDENCE_LIMIT:
            break
    return tuple(evidence)


def classify_many(texts: list[str]) -> list[Classification]:
    """Classify texts with the rules and the learned stage (see the module docstring)."""
    import numpy as np

    r, m, threshold = rules(), model(), review_below()
    readings = [read(text, r) for text in texts]
    results: list[Classification | None] = [None] * len(texts)
    todo = [i for i, (inputs, _, _) in enumerate(readings) if inputs.text.strip()]
    for i in set(range(len(texts))) - set(todo):
        results[i] = Classification(FALLBACK_CATEGORY, 0.0, (), (), True)
    if todo:
        probabilities, X = m.probabilities([readings[i][0] for i in todo])
        for row, i in enumerate(todo):
            order = np.argsort(-probabilities[row], kind="stable")[:3]
            best = int(order[0])
            code = m.categories[best]
            confidence = round(float(probabilities[row, best]), 3)
            _, contributions, first_seen = readings[i]
            evidence = _merge_evidence(_evidence(code, contributions, first_seen), m.explain(X, row, best))
            candidates = tuple((m.categories[k], round(float(probabilities[row, k]), 3)) for k in order)
            results[i] = Classification(code, confidence, evidence, candidates, confidence < threshold)
    return results


def classify(text: str) -> Classification:
    """The category, confidence, evidence and candidates for one complaint text (see the module docstring)."""
    return classify_many([text])[0]


# --- the warehouse --------------------------------------------------------------------------------------

def _candidates_json(result: Classification) -> str:
    return json.dumps([{"category_code": code, "probability": p} for code, p in result.candidates])


def _classify_batch(batch: list[tuple[str, str]]) -> list[tuple]:
    """(text_sha256, category_code, confidence, evidence, candidates, needs_review) for each (text_sha256, text):
    a pool worker's job."""
    results = classify_many([text for _, text in batch])
    return [(text_sha256, result.category_code, f"{result.confidence:.3f}", list(result.evidence),
             _candidates_json(result), result.needs_review)
            for (text_sha256, _), result in zip(batch, results)]


def _workers() -> int:
    """Processes for a large round (MINQING_CLASSIFY_WORKERS, else one per CPU)."""
    return config.worker_processes("MINQING_CLASSIFY_WORKERS")


def _classified_batches(pending, workers: int):
    """Each batch of pending texts with its classifications: in this process when the round is small
    (under PARALLEL_MIN texts, read first to size it) or `workers` is 1, else in `workers` forked
    processes, at most two batches per worker in flight so that memory stays bounded whatever the
    round's size."""
    head = pending.fetchmany(PARALLEL_MIN)
    batches = itertools.chain((head[i:i + COPY_BATCH] for i in range(0, len(head), COPY_BATCH)),
                              iter(lambda: pending.fetchmany(COPY_BATCH), []))
    if workers < 2 or len(head) < PARALLEL_MIN:
        for batch in batches:
            yield len(batch), _classify_batch(batch)
        return
    rules()  # loaded here first: the forked workers inherit the rules and jieba's dictionary
    model()
    for batch, result in parallel.in_order(_classify_batch, batches, workers):
        yield len(batch), result


def classify_pending(conn, workers: int | None = None) -> int:
    """Classify every distinct complaint text not yet classified under the current version; returns how many.

    The texts are `raw.hotline_work_orders.content`, the mini-program's
    `coalesce(title,'') || ' ' || coalesce(content,'')` and `raw.reception_entries.issue_text`, each keyed by
    `encode(sha256(convert_to(text, 'UTF8')), 'hex')` computed in SQL, the same expression the dbt models use.
    Only the rows of files loaded since the last run under the same version are read (ops.file_watermarks;
    new rules read every file again), so a day's run reads the day's texts, not the history.
    Results go by COPY into a temporary table and from there are upserted into ops.text_classifications,
    COPY_BATCH texts at a time, all in one transaction. A large round is classified by `workers`
    processes (default: MINQING_CLASSIFY_WORKERS, else one per CPU).
    """
    version = classifier_version()
    workers = _workers() if workers is None else workers
    total = 0
    with conn.transaction():
        watermark = _WATERMARK.format(version=version)
        after = warehouse.file_watermark(conn, watermark)
        upto = warehouse.newest_file_id(conn)
        conn.execute(
            """create temp table _text_classifications_batch (
                   text_sha256 text not null, category_code text not null, confidence numeric(4, 3) not null,
                   evidence text[] not null, candidates jsonb not null, needs_review boolean not null,
                   classifier_version text not null) on commit drop"""
        )
        with conn.cursor(name="minqing_pending_texts") as pending:
            pending.execute(_PENDING_SQL, {"version": version, "after": after, "upto": upto})
            for size, rows in _classified_batches(pending, workers):
                with conn.cursor() as cur:
                    with cur.copy("copy _text_classifications_batch (text_sha256, category_code, confidence, "
                                  "evidence, candidates, needs_review, classifier_version) from stdin") as copy:
                        for row in rows:
                            copy.write_row((*row, version))
                    cur.execute(_UPSERT_SQL)
                    cur.execute("truncate _text_classifications_batch")
                total += size
                log.info("classified %d texts", total)
        warehouse.set_file_watermark(conn, watermark, upto)
    return total


# --- the command line -----------------------------------------------------------------------------------

def main_stdin(explain: bool = False, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """`minqing classify`: one text per line in, one category code per line out (an empty line is `other`).

    With `explain`, each output line is `code<TAB>confidence<TAB>evidence<TAB>candidates<TAB>review`: the
    evidence comma-separated, the candidates as `code:probability` separated by spaces, and `review` when
    the confidence is below `classifier.review_below` (else empty).
    """
    if stdin is None:
        stdin = sys.stdin
        if hasattr(stdin, "reconfigure"):
            stdin.reconfigure(encoding="utf-8", errors="replace")
    if stdout is None:
        stdout = sys.stdout
        if hasattr(stdout, "reconfigure"):
            stdout.reconfigure(encoding="utf-8")
    for line in stdin:
        result = classify(line.rstrip("\r\n"))
        if explain:
            candidates = " ".join(f"{code}:{p:.3f}" for code, p in result.candidates)
            stdout.write(f"{result.category_code}\t{result.confidence:.3f}\t{','.join(result.evidence)}\t"
                         f"{candidates}\t{'review' if result.needs_review else ''}\n")
        else:
            stdout.write(f"{result.category_code}\n")
    stdout.flush()
    return 0
