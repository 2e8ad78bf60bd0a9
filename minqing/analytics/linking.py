"""Problems (问题): the reports of one problem linked across channels and days (issue 19).

A burst pipe is reported by a patrol at 7:40, by two residents on 12345, by a third on the
mini-program and again the next day: five complaints, one problem. The link stage runs after
`fct_complaints` is built (beside the forecast) and keeps every resident demand in exactly one problem:

1. **What to link.** The reports fct_complaints inserted or rebuilt since the last link run (its change
   log, ops.complaint_day_changes) whose linking inputs — community, category, candidate categories,
   building, address, text, moment, complainant — changed (`link_key`), or are new. A report whose inputs changed leaves its
   problem first; a problem that falls apart splits, the part holding its founder keeping its id.
2. **Blocking.** A report is compared only with the reports of its community × category received within
   `window_days` of it, and with the reports of problems there still open; two reports naming different
   buildings are never compared (settings.yml `linking`). A report is also in the blocks of its candidate
   categories (the classifier's, at or above `candidate_probability`), where it meets their own reports;
   every linked report's blocks are kept (ops.problem_member_blocks) for the runs after to find it by.
3. **Scoring.** text_score: cosine of character 1-3-gram vectors of what the reports say is wrong (their
   place and numbers taken out) — across two registers, how much of the shorter the longer holds — each
   n-gram weighted by its IDF over the classifier's labelled texts and the run's (the operator's
   boilerplate counts little) and by how much it belongs to one category (a register's phrases —
   来电人表示, 巡查发现 — run through all of them); address_score: rapidfuzz's partial ratio of the
   addresses after the district, street and community; same_complainant, same_building and other_home (two
   different homes) flags; same_kind and other_kind: the kinds of problem within the category both texts
   name, or that they name different ones (the seed problem_kinds: 蚊子太多了 and 积存污水蚊虫滋生 both name
   蚊虫鼠害); other_category: the two have different categories (one among the other's candidates). The
   weighted sum, against `threshold`, decides; a pair of reports written in two registers (a resident's
   call and a patrol's note: `registers`) weighs its text by its own weight and adds its own offset
   (`between_registers`). The pair is kept with its parts and rule (ops.problem_links).
4. **Clustering.** Reports are taken in order of receipt; one linked to nothing founds a problem, one
   linked to problems joins the oldest (earliest first report) and merges the others into it, the merge
   kept on record (ops.problems.merged_into). A problem's id comes from the report that founded it, so
   re-runs, backfills and full refreshes of the marts keep it.

Determinism: the same warehouse gives the same links and ids (orders are total, ties broken by id).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from minqing import config, warehouse

log = logging.getLogger(__name__)

REPORTS = "marts.fct_complaints"
VERSIONS = "intermediate.int_complaints__latest"  # the address, which the marts do not publish
MEMBER_BLOCKS = "ops.problem_member_blocks"  # the blocks of linked reports: their own category's and their candidates'
WATERMARK = "ops.problem_members"  # its row in ops.aggregate_watermarks: the change log read so far
BATCH_REPORTS = 60_000  # reports linked at a time: a city-day at once (a batch reads its pool once; memory: its texts' vectors)
BATCH_PLACE = 500       # reports of one place scored at a time against the place's candidates

# the categories a report might be beside its own: its classifier's candidates at or above
# %(candidate_probability)s (settings.yml linking.candidate_probability), sorted
CANDIDATES = ("array(select e ->> 'category_code' from jsonb_array_elements(c.category_candidates) as e "
              "where (e ->> 'probability')::float >= %(candidate_probability)s "
              "and e ->> 'category_code' is distinct from c.category_code order by 1)")
# what linking reads of a report; a report whose key changed is linked again
LINK_KEY = ("md5(concat_ws('|', c.community_id, c.category_code, c.address_key, l.address, c.text_sha256, "
            f"c.received_at::text, c.complainant_key, array_to_string({CANDIDATES}, ',')))")

REPORT_COLUMNS = f"""
    c.complaint_id, c.source_channel, c.received_at, c.community_id, c.category_code, c.address_key,
    left(c.complaint_text, %(chars)s) as text, l.address, c.complainant_key,
    c.closed_at is null and c.status is distinct from 'cancelled' as is_open,
    {CANDIDATES} as candidates,
    {LINK_KEY} as link_key
"""


@dataclass(frozen=True)
class Rules:
    """settings.yml `linking`."""

    window_days: int
    max_text_chars: int
    weights: dict
    threshold: float
    merge_threshold: float
    exclude_communities: tuple[str, ...] = ()
    home_address_channels: tuple[str, ...] = ()
    max_candidates: int = 200
    category_focus: float = 0.0
    registers: dict = field(default_factory=dict)  # channel -> the register its texts are written in
    between_registers: dict = field(default_factory=dict)  # 'call-staff' -> its own text weight and offset
    candidate_probability: float | None = None  # None: a report meets its own category's reports only

    @classmethod
    def from_settings(cls, overrides: dict | None = None) -> Rules:
        cfg = {**config.settings()["linking"], **(overrides or {})}
        return cls(int(cfg["window_days"]), int(cfg["max_text_chars"]), dict(cfg["weights"]),
                   float(cfg["threshold"]), float(cfg["merge_threshold"]), tuple(cfg.get("exclude_communities") or ()),
                   tuple(cfg.get("home_address_channels") or ()), int(cfg["max_candidates"]),
                   float(cfg["category_focus"]), dict(cfg.get("registers") or {}),
                   {key: dict(value) for key, value in (cfg.get("between_registers") or {}).items()},
                   None if cfg.get("candidate_probability") is None else float(cfg["candidate_probability"]))

    def query_params(self) -> dict:
        """The parameters of REPORT_COLUMNS and LINK_KEY."""
        return {"chars": self.max_text_chars,
                "candidate_probability": 2.0 if self.candidate_probability is None else self.candidate_probability}

    def register_pairs(self, a, b) -> np.ndarray:
        """The pair of registers of reports (arrays of registers alike: where_reported's `register`) as
        settings.yml names it: the two sorted, joined by '-' (call-staff)."""
        a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
        return np.where(a <= b, a + "-" + b, b + "-" + a)

    def register_weights(self, registers) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For reports written in `registers` (where_reported's `register`): a small code per report, and the
        text's weight and the score's offset for each pair of codes — `weights.text` and 0 unless
        `between_registers` names the pair. Indexing the two tables by codes weighs millions of pairs at once."""
        codes, names = pd.factorize(pd.Series(registers, dtype=object))
        text = np.full((len(names), len(names)), float(self.weights["text"]))
        offset = np.zeros((len(names), len(names)))
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                between = self.between_registers.get(self.register_pairs([a], [b])[0], {})
                text[i, j] = between.get("text", self.weights["text"])
                offset[i, j] = between.get("offset", 0.0)
        return codes, text, offset

    def text_weight_and_offset(self, registers_a, registers_b) -> tuple[np.ndarray, np.ndarray]:
        """Per pair of reports (their registers, arrays alike): the text's weight and the score's offset."""
        n = len(registers_a)
        codes, text, offset = self.register_weights([*registers_a, *registers_b])
        a, b = codes[:n], codes[n:]
        return text[a, b], offset[a, b]

    @property
    def best_but_text(self) -> float:
        """The most a pair can score from everything but its text: a pair whose text score is below
        threshold − this cannot be linked, and is not scored further."""
        w = self.weights
        return (max(w["address"], 0) + max(w["same_complainant"], 0) + max(w["same_building"], 0)
                + max(w["same_kind"], 0))

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(days=self.window_days)


def problem_id_for(complaint_id: str) -> str:
    return "P" + hashlib.md5(complaint_id.encode("utf-8")).hexdigest()[:16]


# --- the parts of a score -------------------------------------------------------------------------

# the city, the district (丰台区), the street (六里桥街道) and the community (望园社区, 靛厂村) an address
# may begin with; 小区东门 keeps its 小区 and 西边的平房区 its 区
_ADDRESS_PREFIX = re.compile(r"^(北京市)?(\D{2,3}区)?(\D{2,6}街道)?(\D{1,8}?(社区|村))?")
_SPACE = re.compile(r"\s+")


def clean_address(address: str | None) -> str:
    """The part of an address that tells places apart: after the district, street and community."""
    text = _SPACE.sub("", address if isinstance(address, str) else "")
    return _ADDRESS_PREFIX.sub("", text)


_HOME = re.compile(r"(\d+)(?:号楼|栋|-)(\d+)(?:单元|-)(\d+)")


def home_of(place: str) -> tuple[str, str, str] | None:
    """(building, unit, room) when a cleaned address names a home (3号楼2单元502, 3-2-502), else None."""
    found = _HOME.search(place or "")
    return found.groups() if found else None


_WHERE = re.compile(r"\d+\s*(号楼|栋|幢|号院|单元|室|号|层|楼)?|[\d-]{3,}")


def what_of(text: str, place: str) -> str:
    """What a report says is wrong, without where: its place (the cleaned address, when the text repeats
    it), building, unit, room and floor numbers and spaces taken out, so that two problems at one
    place do not look alike for naming it, nor one problem unlike for naming it differently."""
    text = _SPACE.sub("", text if isinstance(text, str) else "")
    if place and len(place) >= 2:
        text = text.replace(place, "")
    return _WHERE.sub("", text)


KINDS_FILE = "problem_kinds.csv"  # dbt_project/seeds: the kinds of problem within each category, and their terms


@dataclass(frozen=True)
class _Kinds:
    """One category's kinds: a pattern of their terms (longest first), each term's kind as a bit."""

    pattern: re.Pattern
    bit_of: dict
    labels: tuple


@functools.lru_cache(maxsize=1)
def problem_kinds() -> dict[str, _Kinds]:
    """The seed problem_kinds.csv (category_code, kind, term), per category. A category's kinds tell its
    problems apart the way the third level of 12345's classification does (蚊虫鼠害 and 垃圾清运 within
    sanitation); their terms are the words residents and staff use for them (蚊子, 蚊虫, 消杀)."""
    import csv

    by_category: dict[str, dict[str, str]] = {}
    with (config.SEEDS_DIR / KINDS_FILE).open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            kind_of = by_category.setdefault(row["category_code"].strip(), {})
            term, kind = row["term"].strip().lower(), row["kind"].strip()
            if kind_of.setdefault(term, kind) != kind:
                raise ValueError(f"{KINDS_FILE}: {row['category_code']} lists {term!r} under {kind_of[term]} and {kind}")
    out = {}
    for category, kind_of in by_category.items():
        labels = tuple(sorted(set(kind_of.values())))
        if len(labels) > 62:
            raise ValueError(f"{KINDS_FILE}: {category} has {len(labels)} kinds; at most 62 are told apart")
        terms = sorted(kind_of, key=lambda t: (-len(t), t))
        out[category] = _Kinds(re.compile("|".join(map(re.escape, terms))),
                               {t: 1 << labels.index(k) for t, k in kind_of.items()}, labels)
    return out


def _kinds_in(category: str | None) -> _Kinds | None:
    return problem_kinds().get(category) if isinstance(category, str) else None


def kinds_of(what: str, category: str | None) -> int:
    """The kinds of its category a report's text names (what_of: its place taken out), as bits of an
    integer (0: none named). Terms are found left to right, the longest at each position, letters in
    either case (KTV, ktv)."""
    kinds = _kinds_in(category)
    if kinds is None or not isinstance(what, str):
        return 0
    bits = 0
    for found in kinds.pattern.finditer(what.lower()):
        bits |= kinds.bit_of[found.group()]
    return bits


@functools.lru_cache(maxsize=4096)
def kind_labels(bits: int, category: str | None) -> tuple[str, ...]:
    """The labels of the kinds `bits` (kinds_of) names in `category`."""
    kinds = _kinds_in(category)
    return tuple(label for i, label in enumerate(kinds.labels) if bits >> i & 1) if kinds else ()


@functools.lru_cache(maxsize=1)
def reference_texts() -> tuple[tuple[str, str], ...]:
    """The classifier's labelled texts (real citizen messages and the project's own phrases,
    minqing/analytics/classifier_data) as (text, category): a fixed background for the n-grams' weights,
    so that a phrase every complaint uses (反映, 小区, 希望尽快) weighs little however few reports a run
    compares."""
    from minqing.analytics.classifier_training import PROJECT_FILE, REAL_FILE, load_tsv

    return tuple((what_of(row.text, ""), row.category_code)
                 for path, source in ((REAL_FILE, "real"), (PROJECT_FILE, "project")) for row in load_tsv(path, source))


_HASHED_FEATURES = 2 ** 20  # character 1-3-grams hashed into this many columns (collisions: a few in a million)


@functools.lru_cache(maxsize=1)
def _hasher():
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=_HASHED_FEATURES,
                             alternate_sign=False, norm=None, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def _reference_counts():
    """(texts, document frequency of each hashed n-gram, the categories, texts holding each n-gram per
    category) of the reference texts: hashed once a process."""
    texts, categories = zip(*reference_texts())
    counts = _hasher().transform(texts)
    labels = sorted(set(categories))
    return (counts.shape[0], np.bincount(counts.indices, minlength=_HASHED_FEATURES), labels,
            _texts_per_category(counts, np.arange(len(texts)), list(categories), np.ones(len(texts)), labels))


def _texts_per_category(counts, texts: np.ndarray, categories: list[str], copies: np.ndarray, labels: list[str]):
    """Categories × n-grams: how many texts hold each n-gram, per category (rows in the order of `labels`).
    `counts`: the texts' n-gram counts; (texts[i], categories[i], copies[i]): text i counted copies[i] times
    in that category."""
    import scipy.sparse as sp

    present = counts.copy()
    present.data[:] = 1
    indicator = sp.csr_matrix((copies, (pd.Categorical(categories, categories=labels).codes, texts)),
                              shape=(len(labels), counts.shape[0]))
    return (indicator @ present).tocsr()


def _category_share(counts, codes: np.ndarray, categories: list[str | None]) -> np.ndarray:
    """Of the texts holding each n-gram (the reference texts and the run's), the share in its commonest
    category, with one text's worth spread evenly over the categories (an n-gram seen once is not taken
    for a category's own)."""
    import scipy.sparse as sp

    _, _, labels, by_category_reference = _reference_counts()
    labels = labels + sorted({c for c in categories if isinstance(c, str)} - set(labels))
    per = (pd.DataFrame({"text": codes, "category": pd.Series(categories, dtype=object)})
           .dropna().groupby(["text", "category"]).size().reset_index(name="copies"))
    by_category = _texts_per_category(counts, per["text"].to_numpy(), per["category"].tolist(),
                                      per["copies"].to_numpy(float), labels)
    by_category = by_category + sp.vstack([by_category_reference, sp.csr_matrix(
        (len(labels) - by_category_reference.shape[0], _HASHED_FEATURES))])
    by_category = by_category.tocsc()
    commonest = by_category.max(axis=0).toarray().ravel()
    return (commonest + 1 / len(labels)) / (np.asarray(by_category.sum(axis=0)).ravel() + 1)


@dataclass(frozen=True)
class TextVectors:
    """The texts' weighted n-gram vectors: `rows` L2-normalised (a dot product is a cosine), `lengths` each
    vector's length before (0 for a text with no n-gram)."""

    rows: object
    lengths: np.ndarray

    def scores(self, a: np.ndarray, b: np.ndarray, across: np.ndarray) -> np.ndarray:
        """text_score of the pairs of texts at positions `a` and `b` (arrays alike), `across` where the
        two are written in different registers (text_score)."""
        cosine = np.asarray(self.rows[a].multiply(self.rows[b]).sum(axis=1)).ravel()
        return text_score(cosine, self.lengths[a], self.lengths[b], across)


def text_score(cosine, length_a, length_b, across):
    """How alike two texts are (arrays alike, or matrices that broadcast): their cosine when written in one
    register; across two (a resident's call and a patrol's note), how much of the shorter text the longer
    holds (the cosine × the longer's length / the shorter's, at most 1): a note says in four characters
    (3号楼停水) what a call says in forty, and the call holding all of it is as strong a sign as two calls
    worded alike."""
    short, long = np.minimum(length_a, length_b), np.maximum(length_a, length_b)
    with np.errstate(divide="ignore", invalid="ignore"):
        held = np.where(short > 0, np.minimum(1.0, cosine * long / np.where(short > 0, short, 1)), 0.0)
    return np.where(across, held, cosine)


def text_vectors(rules: Rules, texts: list[str], categories: list[str | None]) -> TextVectors:
    """Character 1-3-gram vectors of the texts (TextVectors: rows L2-normalised, and their lengths), each
    n-gram weighted by how rare it is (smoothed idf, sublinear tf) and by how much it belongs to one
    category (`rules.category_focus`): 来电人表示, 上礼拜报过 or 希望尽快 run through every
    category's reports and say how people talk, 化粪池, 停电 or 广场舞 belong to one and say what is wrong.

    Both weights count the reference texts (with their labels) and the run's reports (with the category
    the classifier gave them) together: the same pair scores about the same in a street's run of seven
    reports and in a city's of thousands, and a phrase the run's reports all use counts little. The
    n-grams are hashed (no vocabulary fitted each run: the reference texts are counted once a process)."""
    from sklearn.preprocessing import normalize

    codes, distinct = pd.factorize(pd.Series(texts, dtype=object), use_na_sentinel=False)
    counts = _hasher().transform(distinct)  # each distinct text once (patrol notes repeat word for word)
    copies = np.bincount(codes, minlength=len(distinct))
    n_reference, df_reference, _, _ = _reference_counts()
    df = df_reference + np.bincount(counts.indices, weights=np.repeat(copies, np.diff(counts.indptr)),
                                    minlength=_HASHED_FEATURES)
    weight = np.log((1 + n_reference + len(texts)) / (1 + df)) + 1
    if rules.category_focus:
        weight = weight * _category_share(counts, codes, categories) ** rules.category_focus
    counts.data = (1 + np.log(counts.data)) * weight[counts.indices].astype(np.float32)
    lengths = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
    return TextVectors(normalize(counts, copy=False)[codes], lengths[codes])


def combine(rules: Rules, text, address, same_person, same_building, other_home, same_kind, other_kind,
            other_category, text_weight, offset):
    """The score of pairs from their parts (arrays alike): settings.yml `linking` weights, with the text's
    weight and an offset per pair (those of its registers: Rules.text_weight_and_offset)."""
    w = rules.weights
    return (text_weight * text + offset + w["address"] * address + w["same_complainant"] * same_person
            + w["same_building"] * same_building - w["other_home"] * other_home
            + w["same_kind"] * same_kind - w["other_kind"] * other_kind
            - w.get("other_category", 0.0) * other_category)


def _each_distinct(read, values: pd.Series) -> list:
    """read(value) for each of `values`, each distinct value read once (a city-day's 60,000 addresses are a
    few thousand places)."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    got = [read(value) for value in distinct]
    return [got[code] for code in codes]


def where_reported(rules: Rules, frame: pd.DataFrame, texts: bool = True) -> pd.DataFrame:
    """`frame` (source_channel, address, address_key, text, category_code when known) with what it says is
    wrong (`what`: what_of, its place taken out), the kinds of problem that names (`kinds`: kinds_of) and
    where each report places its problem: `place`
    (the cleaned address), `building` and `home` ('' when it names none; none from a channel whose address
    is the reporter's home, settings.yml `linking.home_address_channels`), `named_building` (the building its
    address names, whatever the channel: a resident's ticket about the stairwell light is, more often than
    not, about their own building's; it counts for same_building but, unlike `building`, keeps no report
    from another's) and the `register` its text is written in (settings.yml `linking.registers`: a
    resident's call, a staff note, a ticket). `texts=False`: the places only, without `what` and `kinds`."""
    channels = frame["source_channel"].tolist()
    own = [channel not in rules.home_address_channels for channel in channels]
    place = _each_distinct(clean_address, frame["address"])
    homes = [h if mine else None for h, mine in zip(_each_distinct(home_of, pd.Series(place, dtype=object)), own)]
    named = _each_distinct(lambda key: _building(key) or "", frame["address_key"])
    if texts:
        categories = frame["category_code"].tolist() if "category_code" in frame else [None] * len(frame)
        def read(key: tuple) -> tuple[str, int]:
            what = what_of(key[0], key[1])
            return what, kinds_of(what, key[2])

        # each distinct text, place and category read once (a patrol's notes repeat word for word)
        keys = pd.Series(list(zip(frame["text"].tolist(), place, categories)), dtype=object)
        read_all = _each_distinct(read, keys)
        frame = frame.assign(what=[what for what, _ in read_all],
                             kinds=np.array([kinds for _, kinds in read_all], dtype=np.int64))
    return frame.assign(
        place=place,
        building=[b if mine else "" for b, mine in zip(named, own)],
        named_building=named,
        home=["-".join(h) if h else "" for h in homes],
        register=[rules.registers.get(channel, channel) for channel in channels])


def pair_parts(rules: Rules, text, place_a, place_b, building_a, building_b, home_a, home_b, kinds_a, kinds_b,
               same_person, text_weight, offset, other_category=None) -> dict:
    """The parts and score of pairs (arrays alike, '' where a report names no building or home, 0 no kind):
    the address score (rapidfuzz's partial_ratio, the best match of the shorter address within the longer:
    3号楼 and 3号楼2单元 are one place named more or less exactly; 0.5 when one has none), the same named
    building (`building_*`: where_reported's `named_building`), two different named homes, a kind of problem
    both texts name (`kinds_*`: where_reported's `kinds`; 蚊子太多了 and 积存污水蚊虫滋生 both name
    蚊虫鼠害), and two texts that name kinds, none the same; `other_category` where the two reports have
    different categories (one among the other's candidates: their kinds, each its own category's, are not
    compared)."""
    from rapidfuzz import fuzz, process

    place_a, place_b = np.asarray(place_a, dtype=object), np.asarray(place_b, dtype=object)
    both = (place_a != "") & (place_b != "")
    address = np.full(len(place_a), 0.5, dtype=np.float32)
    if both.any():  # each distinct pair of places once, in one rapidfuzz call (a place's pairs repeat its few addresses)
        codes_a, names_a = pd.factorize(place_a[both])
        codes_b, names_b = pd.factorize(place_b[both])
        distinct, which = np.unique(codes_a.astype(np.int64) * len(names_b) + codes_b, return_inverse=True)
        address[both] = process.cpdist(names_a[distinct // len(names_b)].tolist(), names_b[distinct % len(names_b)].tolist(),
                                       scorer=fuzz.partial_ratio)[which] / 100
    same_building = (building_a != "") & (building_a == building_b)
    other_home = (home_a != "") & (home_b != "") & (home_a != home_b)
    same_person = np.asarray(same_person, dtype=bool)
    other_category = (np.zeros(len(place_a), dtype=bool) if other_category is None
                      else np.asarray(other_category, dtype=bool))
    kinds_a = np.where(other_category, 0, np.asarray(kinds_a, dtype=np.int64))
    kinds_b = np.where(other_category, 0, np.asarray(kinds_b, dtype=np.int64))
    shared = kinds_a & kinds_b
    same_kind, other_kind = shared != 0, (kinds_a != 0) & (kinds_b != 0) & (shared == 0)
    return {"text_score": text, "address_score": address, "same_building": same_building,
            "same_complainant": same_person, "other_home": other_home, "same_kind": same_kind,
            "other_kind": other_kind, "shared_kinds": shared, "same_category": ~other_category,
            "score": combine(rules, text, address, same_person, same_building, other_home, same_kind, other_kind,
                             other_category, text_weight, offset)}


def score_pairs(rules: Rules, a: pd.DataFrame, b: pd.DataFrame, same_complainant) -> pd.DataFrame:
    """The parts and score of pairs given side by side (rows of `a` and `b` aligned: text, address,
    address_key, source_channel), as the stage scores them; `compared`: whether the stage would compare
    them at all (two named buildings that differ are never compared). For measuring the rules on pairs
    kept in a file (minqing link-eval's hand-labelled pairs)."""
    a, b = where_reported(rules, a), where_reported(rules, b)
    n = len(a)
    categories = [*a.get("category_code", [None] * n), *b.get("category_code", [None] * n)]
    vectors = text_vectors(rules, [*a["what"], *b["what"]], categories)
    registers_a, registers_b = a["register"].to_numpy(object), b["register"].to_numpy(object)
    text = vectors.scores(np.arange(n), np.arange(n, 2 * n), registers_a != registers_b)
    building_a, building_b = a["building"].to_numpy(), b["building"].to_numpy()
    parts = pair_parts(rules, text, a["place"].tolist(), b["place"].tolist(), a["named_building"].to_numpy(),
                       b["named_building"].to_numpy(), a["home"].to_numpy(), b["home"].to_numpy(),
                       a["kinds"].to_numpy(), b["kinds"].to_numpy(), same_complainant,
                       *rules.text_weight_and_offset(registers_a, registers_b))
    return pd.DataFrame({"compared": (building_a == "") | (building_b == "") | (building_a == building_b), **parts})


# --- the stage -------------------------------------------------------------------------------------

@dataclass
class LinkResult:
    reports: int = 0          # reports linked this run (new or changed)
    compared: int = 0         # pairs scored
    links: int = 0            # pairs kept as evidence: each report's best link into its problem
    founded: int = 0          # problems founded
    joined: int = 0           # reports that joined an existing problem
    merged: int = 0           # problems merged into an older one
    split: int = 0            # problems split after a report left
    removed: int = 0          # reports no longer in fct_complaints
    full_check: bool = False  # every report's key compared (first run, or fct_complaints rebuilt whole)
    seconds: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class _Problems:
    """The problems of the reports in play: membership, first moments, merges (union by age)."""

    def __init__(self, first: dict[str, tuple]):
        self.of: dict[str, str] = {}              # complaint_id -> problem_id
        self.first = first                        # problem_id -> (first report's received_at, its id)
        self.founded: dict[str, tuple] = {}       # new problems: id -> (founder, received_at)
        self.merges: dict[str, str] = {}          # merged -> survivor
        self.merged_by: dict[str, str] = {}

    def join(self, complaint_id: str, problem_id: str, received_at: pd.Timestamp) -> None:
        self.of[complaint_id] = problem_id
        mine = (received_at, complaint_id)
        first = self.first.get(problem_id)
        if first is None or mine < first:
            self.first[problem_id] = mine

    def merge(self, loser: str, survivor: str, by: str) -> None:
        for complaint_id, problem_id in list(self.of.items()):
            if problem_id == loser:
                self.of[complaint_id] = survivor
        self.first[survivor] = min(self.first[survivor], self.first.pop(loser))
        self.merges[loser], self.merged_by[loser] = survivor, by
        for merged, into in self.merges.items():
            if into == loser:
                self.merges[merged] = survivor


def link(rules: Rules | None = None, conn=None, rebuild: bool = False, by_day: bool = False) -> LinkResult:
    """Link the reports fct_complaints changed since the last run (every report on the first run).
    `rebuild`: forget every problem and link all reports again, in order of receipt (new rules). `by_day`:
    one batch per day of receipt (Beijing), as daily runs link them (minqing link-eval measures both)."""
    rules = rules or Rules.from_settings()
    if conn is None:
        with warehouse.connect() as own:
            result = link(rules, own, rebuild, by_day)
            own.commit()
            return result
    if rebuild:
        conn.execute(f"truncate ops.problem_links, {MEMBER_BLOCKS}, ops.problem_members, ops.problems")
        conn.execute("delete from ops.aggregate_watermarks where relation = %s", (WATERMARK,))
    clock = dt.datetime.now()
    result = LinkResult()

    def stage(name: str) -> None:
        nonlocal clock
        now = dt.datetime.now()
        result.seconds[name] = round(result.seconds.get(name, 0) + (now - clock).total_seconds(), 3)
        clock = now

    conn.execute("lock table ops.problem_members in exclusive mode")  # one link run at a time
    newest, through, whole = _change_state(conn)
    result.full_check = whole
    pending, removed = _pending(conn, rules, through, newest, whole)
    result.removed = len(removed)
    stage("find")
    leaving = sorted(removed | set(pending.loc[pending["old_problem"].notna(), "complaint_id"]))
    result.split = _detach(conn, leaving)
    stage("detach")
    # in batches of receipt order (a first run on a city's history links a million reports): each batch's
    # pool holds the problems the batches before it wrote
    for batch in _batches(pending, by_day):
        pool = _pool(conn, rules, batch)
        problems = _Problems(_first_reports(conn, sorted(set(pool["problem_id"]))))
        stage("pool")
        scored = _score(rules, batch, pool, result)
        stage("score")
        links = _cluster(rules, batch, pool, scored, problems, result)
        _write(conn, rules, batch, links, problems)
        stage("write")
    conn.execute(
        "insert into ops.aggregate_watermarks (relation, as_of_at, through_change_id) values (%s, now(), %s) "
        "on conflict (relation) do update set as_of_at = excluded.as_of_at, "
        "through_change_id = excluded.through_change_id, recorded_at = now()", (WATERMARK, newest))
    stage("write")
    result.reports = len(pending)
    log.info("linked %d reports: %d pairs scored, %d linked; %d problems founded, %d joined, %d merged, %d split",
             result.reports, result.compared, result.links, result.founded, result.joined, result.merged,
             result.split)
    return result


def _batches(pending: pd.DataFrame, by_day: bool):
    """`pending` (in order of receipt) in batches of at most BATCH_REPORTS; `by_day`: a day's at most."""
    days = (pd.to_datetime(pending["received_at"], utc=True).dt.tz_convert(config.BEIJING).dt.date.to_numpy()
            if by_day and len(pending) else np.zeros(len(pending)))
    starts = np.flatnonzero(np.r_[True, days[1:] != days[:-1]]) if len(pending) else np.zeros(0, dtype=np.int64)
    for start, end in zip(starts.tolist(), [*starts[1:].tolist(), len(pending)]):
        for at in range(start, end, BATCH_REPORTS):
            yield pending.iloc[at:min(at + BATCH_REPORTS, end)]


def _change_state(conn) -> tuple[int, int, bool]:
    """(newest change id, the last read, whether every report must be checked)."""
    newest = conn.execute("select coalesce(max(change_id), 0) from ops.complaint_day_changes").fetchone()[0]
    row = conn.execute("select through_change_id from ops.aggregate_watermarks where relation = %s",
                       (WATERMARK,)).fetchone()
    through = row[0] if row and row[0] is not None else 0
    whole = row is None or conn.execute(
        "select exists (select from ops.complaint_day_changes where received_date = '-infinity' and change_id > %s)",
        (through,)).fetchone()[0]
    return newest, through, whole


def _pending(conn, rules: Rules, through: int, newest: int, whole: bool) -> tuple[pd.DataFrame, set[str]]:
    """The reports to link (new, or their key changed) and those gone from fct_complaints."""
    params = {**rules.query_params(), "through": through, "newest": newest}
    if whole:
        changed = None  # every report of fct_complaints
        gone_sql = f"select complaint_id from ops.problem_members m where not exists (select from {REPORTS} c where c.complaint_id = m.complaint_id)"
    else:
        changed = ("select distinct complaint_id from ops.complaint_day_changes "
                   "where change_id > %(through)s and change_id <= %(newest)s and complaint_id is not null")
        gone_sql = (f"select distinct d.complaint_id from ops.complaint_day_changes d "
                    f"join ops.problem_members m using (complaint_id) "
                    f"where d.change_id > %(through)s and d.change_id <= %(newest)s "
                    f"and not exists (select from {REPORTS} c where c.complaint_id = d.complaint_id)")
    frame = _frame(conn, f"""
        select {REPORT_COLUMNS}, m.problem_id as old_problem
        from {REPORTS} c
        join {VERSIONS} l using (complaint_id)
        left join ops.problem_members m using (complaint_id)
        where (m.complaint_id is null or m.link_key <> {LINK_KEY})
          {"" if changed is None else f"and c.complaint_id in ({changed})"}
        order by c.received_at, c.complaint_id""", params)
    gone = {r[0] for r in conn.execute(gone_sql, params).fetchall()}
    return frame, gone


def _frame(conn, query: str, params: dict) -> pd.DataFrame:
    cur = conn.execute(query, params)
    return pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])


def _detach(conn, leaving: list[str]) -> int:
    """Take reports out of their problems (changed or gone) with their links; split what falls apart.
    Returns the problems split."""
    if not leaving:
        return 0
    affected = [r[0] for r in conn.execute(
        "select distinct problem_id from ops.problem_members where complaint_id = any(%s)", (leaving,)).fetchall()]
    conn.execute("delete from ops.problem_links where complaint_id = any(%s) or linked_to = any(%s)", (leaving, leaving))
    conn.execute(f"delete from {MEMBER_BLOCKS} where complaint_id = any(%s)", (leaving,))
    conn.execute("delete from ops.problem_members where complaint_id = any(%s)", (leaving,))
    splits = 0
    for problem_id in affected:
        members = conn.execute(
            f"select m.complaint_id, c.received_at from ops.problem_members m join {REPORTS} c using (complaint_id) "
            "where m.problem_id = %s order by c.received_at, m.complaint_id", (problem_id,)).fetchall()
        founder = conn.execute("select founded_by from ops.problems where problem_id = %s", (problem_id,)).fetchone()[0]
        if not members:
            continue
        edges = conn.execute("select complaint_id, linked_to from ops.problem_links where complaint_id = any(%s)",
                             ([m[0] for m in members],)).fetchall()
        parts = _components([m[0] for m in members], edges)
        if len(parts) == 1:
            continue
        splits += 1
        order = {m[0]: i for i, m in enumerate(members)}
        moments = dict(members)
        keeper = next((p for p in parts if founder in p), min(parts, key=lambda p: min(order[c] for c in p)))
        for part in parts:
            if part is keeper:
                continue
            first = min(part, key=order.get)
            new_id = problem_id_for(first)
            conn.execute(
                "insert into ops.problems (problem_id, founded_by, founded_at) values (%s, %s, %s) "
                "on conflict (problem_id) do update set merged_into = null, merged_at = null, merged_by = null",
                (new_id, first, moments[first]))
            conn.execute("update ops.problem_members set problem_id = %s where complaint_id = any(%s)",
                         (new_id, list(part)))
    return splits


def _components(nodes: list[str], edges: list[tuple[str, str]]) -> list[set[str]]:
    parent = {n: n for n in nodes}

    def find(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for a, b in edges:
        if a in parent and b in parent:
            ra, rb = find(a), find(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, set[str]] = {}
    for n in nodes:
        groups.setdefault(find(n), set()).add(n)
    return list(groups.values())


def _pool(conn, rules: Rules, pending: pd.DataFrame) -> pd.DataFrame:
    """The reports already in problems that the pending ones are compared with: of each pending report's
    place (its community, category and building; every building of the two when it names none), the
    `max_candidates` latest received within the window of it; and the open reports of problems there
    still open, with each such problem's first report. Bounded by the places of the run's reports, not by
    history: a hot spot's thousands of reports in a month are represented by their latest."""
    blocks = pending.loc[~pending["community_id"].isin(rules.exclude_communities)]
    if blocks.empty:
        return pd.DataFrame(columns=[*pending.columns.drop("old_problem"), "problem_id"])
    spans = (_blocks_of(rules, blocks).groupby(["community_id", "category_code", "place_key"], dropna=False)
             .agg(min=("received_at", "min"), max=("received_at", "max"), own=("own", "max")).reset_index())
    # a named building's reports meet those that name none: the place 'community:?' is searched too
    unknown = spans.loc[spans["place_key"].notna()].assign(place_key=lambda f: f["community_id"] + ":?")
    spans = (pd.concat([spans, unknown]).groupby(["community_id", "category_code", "place_key"], dropna=False)
             .agg({"min": "min", "max": "max", "own": "max"}).reset_index())
    conn.execute("create temporary table if not exists link_blocks (community_id text, category_code text, "
                 "place_key text, from_at timestamptz, to_at timestamptz, own boolean) on commit drop")
    conn.execute("truncate link_blocks")
    with conn.cursor().copy("copy link_blocks from stdin") as copy:
        for row in spans.itertuples(index=False):
            copy.write_row((row.community_id, row.category_code, None if pd.isna(row.place_key) else row.place_key,
                            row.min - rules.window, row.max + rules.window, bool(row.own)))
    conn.execute("analyze link_blocks")
    # per place: the latest of the block's own reports, for every block; the latest of those there as a
    # candidate, for the blocks of a pending report's own category only (two of a block's candidates are
    # not compared)
    latest = " union ".join(f"""
            select recent.complaint_id
            from link_blocks b
            cross join lateral (
                select k.complaint_id from {MEMBER_BLOCKS} k
                where k.{column} = b.{column} and k.category_code = b.category_code and k.own = {own}
                  and k.received_at between b.from_at and b.to_at
                order by k.received_at desc limit %(max_candidates)s
            ) as recent
            where b.place_key is {presence}{"" if own else " and b.own"}"""
                            for own in (True, False)
                            for column, presence in (("place_key", "not null"), ("community_id", "null")))
    return _frame(conn, f"""
        with near as (
            -- per place, the latest reports of the window, newest first through the indexes of
            -- ops.problem_member_blocks on (place_key | community_id, category_code, own, received_at): a
            -- named building's place and 'community:?', or the whole block for a report that names none
            {latest}
        ),
        open_problems as (
            -- problems of the blocks with an open report (a partial index holds the open reports)
            select distinct m.problem_id
            from (select distinct community_id, category_code from link_blocks) b
            join {REPORTS} c on c.community_id = b.community_id and c.category_code = b.category_code
            join ops.problem_members m using (complaint_id)
            where c.closed_at is null and c.status is distinct from 'cancelled'
            union
            select m.problem_id
            from (select distinct community_id, category_code from link_blocks) b
            join {MEMBER_BLOCKS} k on k.community_id = b.community_id and k.category_code = b.category_code
                                  and not k.own
            join {REPORTS} c using (complaint_id)
            join ops.problem_members m using (complaint_id)
            where c.closed_at is null and c.status is distinct from 'cancelled'
        ),
        open_reports as (
            -- a problem still open: its open reports and its first, whenever received
            select m.complaint_id
            from open_problems o
            join ops.problem_members m using (problem_id)
            join {REPORTS} c using (complaint_id)
            where c.closed_at is null and c.status is distinct from 'cancelled'
            union
            select p.founded_by from open_problems o join ops.problems p using (problem_id)
        )
        select {REPORT_COLUMNS}, m.problem_id
        from (select complaint_id from near union select complaint_id from open_reports) as chosen
        join {REPORTS} c using (complaint_id)
        join ops.problem_members m using (complaint_id)
        join {VERSIONS} l using (complaint_id)
        order by c.received_at, c.complaint_id""", {**rules.query_params(), "max_candidates": rules.max_candidates})


def _blocks_of(rules: Rules, reports: pd.DataFrame) -> pd.DataFrame:
    """The blocks `reports` (the columns of REPORT_COLUMNS) are in (_block_members), each with the report's
    id, `place_key` (its building's address_key; None when it names none or its channel's address is the
    reporter's home) and received_at."""
    members = _block_members(reports)
    at = members.pop("at").to_numpy()
    place = reports["address_key"].where(where_reported(rules, reports, texts=False)["building"] != "")
    return members.assign(complaint_id=reports["complaint_id"].to_numpy(object)[at],
                          place_key=place.to_numpy(object)[at], received_at=reports["received_at"].take(at).array)


def _first_reports(conn, problem_ids: list[str]) -> dict[str, tuple]:
    """Each problem's first report (received_at, complaint_id): the older of two problems survives."""
    rows = conn.execute(
        f"select distinct on (m.problem_id) m.problem_id, c.received_at, c.complaint_id "
        f"from ops.problem_members m join {REPORTS} c using (complaint_id) where m.problem_id = any(%s) "
        f"order by m.problem_id, c.received_at, c.complaint_id", (problem_ids,)).fetchall()
    return {p: (pd.Timestamp(at), c) for p, at, c in rows}


def _building(address_key: str | None) -> str | None:
    """The building part of an address key ('community:3'); None when unknown ('community:?')."""
    if not address_key or address_key.endswith(":?"):
        return None
    return address_key.split(":", 1)[1]


_LINK_COLUMNS = ["complaint_id", "linked_to", "rule", "score", "text_score", "address_score", "same_building",
                 "same_complainant", "shared_kinds", "same_category", "hours_apart"]
# a scored pair as _score_place finds it: the two reports by position in the batch's reports (_Scored.ids)
_PAIR_COLUMNS = ["complaint_at", "linked_at", *_LINK_COLUMNS[2:]]


@dataclass
class _Scored:
    """The pairs a batch linked (score at or above the threshold) with their parts, the two reports of each
    by position (`complaint_at`, the later, and `linked_at`): a dense city-day links a million pairs, of
    which clustering keeps one per report, and ids, categories and labels are looked up for those only."""

    pairs: pd.DataFrame
    ids: np.ndarray         # complaint_id by position
    categories: np.ndarray  # category_code by position (the kinds' labels are the category's)
    pending: int            # positions below this are the batch's pending reports, in receipt order

    @classmethod
    def empty(cls) -> _Scored:
        return cls(pd.DataFrame(columns=_PAIR_COLUMNS), np.array([], dtype=object), np.array([], dtype=object), 0)


def _score(rules: Rules, pending: pd.DataFrame, pool: pd.DataFrame, result: LinkResult) -> _Scored:
    """The linked pairs (score at or above the threshold) with their parts. Compared: each pending
    report with the pool and the other pending reports of its block (community × category) and place
    (its building, or any when it names none), within the window or in a problem still open; a pair
    of pending reports once, from the later. A report is in the block of its own category and, as a
    candidate, in those of its candidate categories (Rules.candidate_probability): it meets the block's
    own reports there, not its other candidates."""
    work = pending.loc[~pending["community_id"].isin(rules.exclude_communities)]
    if work.empty:
        return _Scored.empty()
    everyone = pd.concat([work.drop(columns="old_problem").assign(problem_id=None), pool], ignore_index=True)
    everyone["received_at"] = pd.to_datetime(everyone["received_at"], utc=True)
    everyone = where_reported(rules, everyone)
    hours = ((everyone["received_at"] - everyone["received_at"].min()) / pd.Timedelta(hours=1)).to_numpy(float)
    reports = _Reports(
        ids=everyone["complaint_id"].to_numpy(object), hours=hours,
        is_new=everyone["problem_id"].isna().to_numpy(),
        in_open=everyone["problem_id"].isin(set(pool.loc[pool["is_open"].astype(bool), "problem_id"])).to_numpy(),
        person=everyone["complainant_key"].fillna("").astype(str).to_numpy(object),  # '' when unknown
        place=everyone["place"].to_numpy(object), building=everyone["building"].to_numpy(object),
        named_building=everyone["named_building"].to_numpy(object),
        home=everyone["home"].to_numpy(object), category=everyone["category_code"].to_numpy(object),
        kinds=everyone["kinds"].to_numpy(np.int64),
        register_weights=rules.register_weights(everyone["register"]),
        vectors=text_vectors(rules, everyone["what"].tolist(), everyone["category_code"].tolist()),
        **_category_bits(everyone))
    parts: list[dict] = []
    # blocks in order of (community, category), their reports in the order of `everyone` (those of the
    # category and those there as a candidate); a report without either is in none
    members = _block_members(everyone)
    blocks = members.groupby(["community_id", "category_code"], sort=True).indices
    at, own_member = members["at"].to_numpy(np.int64), members["own"].to_numpy(bool)
    for key in sorted(blocks):
        rows = blocks[key][np.argsort(at[blocks[key]])]
        block, own = at[rows], own_member[rows]
        news = block[reports.is_new[block]]
        if not len(news) or len(block) < 2 or not own.any():
            continue
        text = _BlockText(reports.vectors, block)
        buildings = reports.building[block]
        category = reports.category_index[block[own][0]]
        for building in sorted(set(reports.building[news])):
            items = block if not building else block[(buildings == "") | (buildings == building)]
            here = news[reports.building[news] == building]
            for start in range(0, len(here), BATCH_PLACE):
                chunk = here[start:start + BATCH_PLACE]
                found = _score_place(rules, reports, text, chunk, items, result, category,
                                     own[np.searchsorted(block, chunk)], own[np.searchsorted(block, items)])
                if found:
                    parts.append(found)
    if not parts:
        return _Scored.empty()
    pairs = pd.DataFrame({name: np.concatenate([part[name] for part in parts]) for name in _PAIR_COLUMNS})
    return _Scored(pairs.drop_duplicates(["complaint_at", "linked_at"], ignore_index=True), reports.ids,
                   reports.category, len(work))


def _block_members(reports: pd.DataFrame) -> pd.DataFrame:
    """The blocks each report is in (community_id, category_code; `at`: its position): its own category's
    (`own`) and, as a candidate, each of its candidate categories' (a report without a community or
    category is in none)."""
    at, community = np.arange(len(reports)), reports["community_id"].to_numpy(object)
    own = pd.DataFrame({"at": at, "community_id": community, "category_code": reports["category_code"].to_numpy(object),
                        "own": True})
    candidates = pd.DataFrame({"at": at, "community_id": community, "category_code": reports["candidates"].to_numpy(object),
                               "own": False}).explode("category_code")
    return pd.concat([own, candidates], ignore_index=True).dropna(subset=["community_id", "category_code"])


def _category_bits(everyone: pd.DataFrame) -> dict:
    """Each report's category as an index into the categories in play (sorted), and its candidate
    categories as bits of those indexes (_score_place compares a pair of two categories once)."""
    own = everyone["category_code"].tolist()
    candidates = [list(c) if isinstance(c, (list, tuple, np.ndarray)) else [] for c in everyone["candidates"]]
    names = sorted({c for c in own if isinstance(c, str)} | {c for cs in candidates for c in cs})
    if len(names) > 62:
        raise ValueError(f"{len(names)} categories in one batch: at most 62 are told apart")
    index = {name: i for i, name in enumerate(names)}
    return {"category_index": np.array([index.get(c, -1) for c in own], dtype=np.int64),
            "candidate_bits": np.array([sum(1 << index[c] for c in cs) for cs in candidates], dtype=np.int64)}


@dataclass
class _Reports:
    """The reports a batch compares (the pending ones and the pool), column by column, by position."""

    ids: np.ndarray
    hours: np.ndarray     # since the earliest of them
    is_new: np.ndarray    # pending: not in a problem yet
    in_open: np.ndarray   # in a problem still open
    person: np.ndarray
    place: np.ndarray
    building: np.ndarray        # the building that keeps it from reports naming another ('' when none)
    named_building: np.ndarray  # the building its address names, whatever the channel (for same_building)
    home: np.ndarray
    category: np.ndarray  # its category (the kinds are its category's)
    kinds: np.ndarray     # the kinds of problem its text names (where_reported's `kinds`)
    register_weights: tuple  # a code per report for its register, and the text weight and offset per pair of codes
    vectors: TextVectors  # their texts' TF-IDF rows and lengths (text_vectors)
    category_index: np.ndarray  # its category among the batch's (sorted; -1: none)
    candidate_bits: np.ndarray  # its candidate categories (Rules.candidate_probability), as bits of their indexes


def _compact(rows):
    """The same rows over the columns they use only: a product with a transposed matrix of the hashed space's
    million columns converts it column-wise at a cost of its width, about a millisecond whatever its rows
    (a city's 13,500 small blocks spent most of the link stage there). The columns keep their order, so the
    products are the same, sum for sum."""
    import scipy.sparse as sp

    used, inverse = np.unique(rows.indices, return_inverse=True)
    return sp.csr_matrix((rows.data, inverse.astype(rows.indices.dtype), rows.indptr), shape=(rows.shape[0], len(used)))


class _BlockText:
    """The text scores of a block's reports (`block`: sorted positions), asked for place by place: the block's
    rows are taken over the n-grams they use once (_compact), and each place's pending reports are multiplied
    with its candidates only (a product of every pending report with the whole block computed pairs of
    buildings that are never compared: a third of a dense city-day's score stage)."""

    def __init__(self, vectors: TextVectors, block: np.ndarray):
        self._lengths, self._block = vectors.lengths, block
        self._rows = _compact(vectors.rows[block])

    def between(self, a: np.ndarray, b: np.ndarray, across: np.ndarray) -> np.ndarray:
        """text_score of every report of `a` with every one of `b` (positions within the block's; `across`:
        a matrix, where the two are written in different registers)."""
        rows = self._rows
        cosine = (rows[np.searchsorted(self._block, a)] @ rows[np.searchsorted(self._block, b)].T).toarray()
        return text_score(cosine, self._lengths[a][:, None], self._lengths[b][None, :], across)


def _score_place(rules: Rules, reports: _Reports, text_of: _BlockText, news: np.ndarray, items: np.ndarray,
                 result: LinkResult, category: int, own_news: np.ndarray, own_items: np.ndarray) -> dict | None:
    """The linked pairs of `news` (positions of pending reports) against `items` (positions of the reports
    of their place), as columns, in the block of `category` (its index: _Reports.category_index); `own_*`:
    whether each is of that category (else there as a candidate). Each report meets at most `max_candidates`
    of the block's own reports and as many of its candidates, the latest; a pair whose text cannot reach the
    threshold whatever its other parts is counted as compared but not scored further."""
    n_hours, i_hours = reports.hours[news], reports.hours[items]
    apart = np.abs(n_hours[:, None] - i_hours[None, :])
    n_ids, i_ids = reports.ids[news], reports.ids[items]
    earlier = (i_hours[None, :] < n_hours[:, None]) | ((i_hours[None, :] == n_hours[:, None])
                                                       & (i_ids[None, :] < n_ids[:, None]))
    compared = (((apart <= rules.window_days * 24) | reports.in_open[items][None, :])
                & (~reports.is_new[items][None, :] | earlier)
                & (n_ids[:, None] != i_ids[None, :]))
    mixed = not (own_news.all() and own_items.all())
    if mixed:
        compared &= own_news[:, None] | own_items[None, :]  # two of the block's candidates are not compared
        # a pair of two categories, each among the other's candidates, meets in both blocks: compared in the lower's
        n_category, i_category = reports.category_index[news][:, None], reports.category_index[items][None, :]
        compared &= ~(own_news[:, None] & ~own_items[None, :] & (i_category < category)
                      & ((reports.candidate_bits[news][:, None] >> i_category) & 1 == 1))
        compared &= ~(~own_news[:, None] & own_items[None, :] & (n_category < category)
                      & ((reports.candidate_bits[items][None, :] >> n_category) & 1 == 1))
    for kind in ((own_items, ~own_items) if mixed else (own_items,)):
        if kind.sum() > rules.max_candidates:
            # the latest `max_candidates` of each report's candidates (those received at the cut all stay)
            moments = np.where(compared & kind[None, :], i_hours[None, :], -np.inf)
            cut = -np.partition(-moments, rules.max_candidates - 1, axis=1)[:, rules.max_candidates - 1]
            compared &= ~kind[None, :] | (moments >= cut[:, None])
    if not compared.any():
        return None
    result.compared += int(compared.sum())
    codes, text_weights, offsets = reports.register_weights
    text = text_of.between(news, items, codes[news][:, None] != codes[items][None, :])
    w_text = text_weights[codes[news][:, None], codes[items][None, :]]
    offset = offsets[codes[news][:, None], codes[items][None, :]]
    compared &= (w_text <= 0) | (text * w_text + offset >= rules.threshold - rules.best_but_text - 1e-9)
    rows, cols = np.nonzero(compared)
    if not len(rows):
        return None
    a, b = news[rows], items[cols]
    same_person = (reports.person[a] == reports.person[b]) & (reports.person[a] != "")
    parts = pair_parts(rules, text[rows, cols], reports.place[a], reports.place[b], reports.named_building[a],
                       reports.named_building[b], reports.home[a], reports.home[b], reports.kinds[a], reports.kinds[b],
                       same_person, w_text[rows, cols], offset[rows, cols], ~(own_news[rows] & own_items[cols]))
    keep = parts["score"] >= rules.threshold
    if not keep.any():
        return None
    rows, cols = rows[keep], cols[keep]
    parts = {name: values[keep] for name, values in parts.items()}
    same_person = parts["same_complainant"]
    later_is_new = ~earlier[rows, cols]  # the pool report (or a later pending one) came after the new one
    new_at, other_at = news[rows], items[cols]
    return {
        "complaint_at": np.where(later_is_new, other_at, new_at),
        "linked_at": np.where(later_is_new, new_at, other_at),
        "rule": np.where(same_person, "same_resident", "similar_report").astype(object),
        "score": parts["score"].round(4), "text_score": parts["text_score"].round(4),
        "address_score": parts["address_score"].round(4),
        "same_building": parts["same_building"],
        "same_complainant": same_person,
        "shared_kinds": parts["shared_kinds"],  # bits here, labels for the links kept (_cluster)
        "same_category": parts["same_category"],
        "hours_apart": apart[rows, cols].round(2),
    }


def _cluster(rules: Rules, pending: pd.DataFrame, pool: pd.DataFrame, scored: _Scored, problems: _Problems,
             result: LinkResult) -> pd.DataFrame:
    """Reports in order of receipt: one linked to no problem founds one; one linked to problems joins
    that of its best link, and a problem it links to at `merge_threshold` or above is merged with it
    (the older of the two survives). Returns the links kept as the problems' evidence (_LINK_COLUMNS, the
    kinds both name as labels): each report's best link into every problem it joined or merged — a report's
    links elsewhere, and its weaker links into the same problem, are not kept (a hot spot's reports would
    otherwise keep every pair of them)."""
    problems.of.update(zip(pool["complaint_id"].tolist(), pool["problem_id"].tolist()))
    pairs, ids = scored.pairs, scored.ids.tolist()
    # each pending report's links to the reports it can join (those in a problem by its turn: the earlier
    # pending ones and the pool), best first (ties: the smaller id); a pair of pending reports is read from
    # the later one only (the earlier has no problem to join through it yet)
    later, earlier = pairs["complaint_at"].to_numpy(np.int64), pairs["linked_at"].to_numpy(np.int64)
    from_pool = later >= scored.pending
    owner = np.concatenate([later, earlier[from_pool]])
    other = np.concatenate([earlier, later[from_pool]])
    score = np.concatenate([pairs["score"].to_numpy(float), pairs["score"].to_numpy(float)[from_pool]])
    row = np.concatenate([np.arange(len(pairs)), np.flatnonzero(from_pool)])
    id_rank = np.argsort(np.argsort(scored.ids, kind="stable"), kind="stable")
    order = np.lexsort((id_rank[other], -score, owner))
    owner, other, score, row = owner[order], other[order], score[order], row[order]
    # of a report's links into one problem of the pool, only the first (the best) can matter: its reports stay
    # in one problem whatever merges (a dense city-day's reports link to a hot spot's dozens of reports each)
    pool_problem = np.full(len(scored.ids), -1, dtype=np.int64)
    if len(scored.ids):  # the batch's reports, then the pool's (none when the batch compared nothing)
        pool_problem[scored.pending:] = pd.factorize(pool["problem_id"].to_numpy(object))[0]
    pooled = np.flatnonzero(pool_problem[other] >= 0)
    repeat = np.ones(len(pooled), dtype=bool)
    repeat[np.unique(owner[pooled] * (len(pool) + 1) + pool_problem[other[pooled]], return_index=True)[1]] = False
    keep = np.ones(len(owner), dtype=bool)
    keep[pooled[repeat]] = False
    owner, others, scores, rows = owner[keep], other[keep].tolist(), score[keep].tolist(), row[keep].tolist()
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]]) if len(owner) else np.zeros(0, dtype=np.int64)
    spans = dict(zip(owner[starts].tolist(), zip(starts.tolist(), np.r_[starts[1:], len(owner)].tolist())))
    position = {complaint_id: at for at, complaint_id in enumerate(ids[:scored.pending])}
    kept: set[int] = set()  # rows of `pairs`
    moments = pd.to_datetime(pending["received_at"], utc=True).tolist()
    for complaint_id, received_at in zip(pending["complaint_id"].tolist(), moments):
        best: dict[str, tuple[float, int]] = {}  # problem -> (best score of a link to one of its reports, its row)
        top = None  # the best link's score: below it and below merge_threshold, no link matters
        for k in range(*spans.get(position.get(complaint_id, -1), (0, 0))):
            if top is not None and scores[k] < top and scores[k] < rules.merge_threshold:
                break
            problem = problems.of.get(ids[others[k]])
            if problem is None:
                continue
            top = scores[k] if top is None else top
            if problem not in best:
                best[problem] = (scores[k], rows[k])
        if not best:
            problem_id = problem_id_for(complaint_id)
            problems.founded[problem_id] = (complaint_id, received_at)
            result.founded += 1
            problems.join(complaint_id, problem_id, received_at)
            continue
        chosen = min(best, key=lambda p: (-best[p][0], problems.first[p], p))  # the best link; ties: the older
        joined = {chosen} | {p for p, (at, _) in best.items() if at >= rules.merge_threshold}
        survivor = min(joined, key=lambda p: (problems.first[p], p))
        kept.update(best[p][1] for p in joined)
        result.joined += 1
        problems.join(complaint_id, survivor, received_at)
        for loser in sorted(joined - {survivor}):
            problems.merge(loser, survivor, complaint_id)
            result.merged += 1
    links = pairs.iloc[sorted(kept)]
    result.links += len(links)
    at, to = links["complaint_at"].to_numpy(np.int64), links["linked_at"].to_numpy(np.int64)
    return links.assign(
        complaint_id=scored.ids[at], linked_to=scored.ids[to],
        same_building=[bool(x) or None for x in links["same_building"].tolist()],
        shared_kinds=[list(kind_labels(int(bits), category))
                      for bits, category in zip(links["shared_kinds"].tolist(), scored.categories[at].tolist())],
    )[_LINK_COLUMNS]


def _write(conn, rules: Rules, pending: pd.DataFrame, links: pd.DataFrame, problems: _Problems) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "insert into ops.problems (problem_id, founded_by, founded_at) values (%s, %s, %s) "
            "on conflict (problem_id) do update set merged_into = null, merged_at = null, merged_by = null",
            [(p, founder, at) for p, (founder, at) in problems.founded.items()])
        cur.executemany(
            "update ops.problems set merged_into = %s, merged_at = now(), merged_by = %s where problem_id = %s",
            [(into, problems.merged_by[loser], loser) for loser, into in problems.merges.items()])
        cur.executemany(
            "update ops.problems set merged_into = %s where merged_into = %s",
            [(into, loser) for loser, into in problems.merges.items()])
        if problems.merges:
            cur.execute("update ops.problem_members m set problem_id = p.merged_into from ops.problems p "
                        "where p.problem_id = m.problem_id and p.merged_into is not null")
        ids = pending["complaint_id"].tolist()
        _copy_csv(cur, "ops.problem_members", pd.DataFrame(
            {"complaint_id": ids, "problem_id": [problems.of[c] for c in ids], "link_key": pending["link_key"].tolist()}))
        blocks = _blocks_of(rules, pending.loc[~pending["community_id"].isin(rules.exclude_communities)])
        _copy_csv(cur, MEMBER_BLOCKS, blocks.assign(place_key=blocks["place_key"].fillna(blocks["community_id"] + ":?")))
        with cur.copy(f"copy ops.problem_links ({', '.join(_LINK_COLUMNS)}) from stdin") as copy:
            for row in links.itertuples(index=False):
                copy.write_row(row)


def _copy_csv(cur, table: str, frame: pd.DataFrame) -> None:
    """COPY `frame` into `table` (its columns by name) as CSV: pandas writes the rows in C, where write_row
    spends microseconds a row in Python (a city-day writes some 150,000). An empty cell is NULL."""
    with cur.copy(f"copy {table} ({', '.join(frame.columns)}) from stdin (format csv)") as copy:
        copy.write(frame.to_csv(index=False, header=False))
