"""`minqing link-eval`: how well the link stage (minqing/analytics/linking.py) finds the reports of one
problem, against the generator's ground truth (issue 19).

The generator (minqing/devtools/generate.py) knows which records report the same problem (its issues),
including repeats by the same resident and by neighbours through other channels and days, and near-misses
made on purpose: another problem at the same building and category, the same problem's words at another
building. It writes them to `.generate_problems.csv` beside the landing files. This module matches those
records to the warehouse's complaints and compares the problems the link stage made:

- pair precision: of the pairs of reports the stage put in one problem, the share that are one problem;
- pair recall: of the pairs of reports of one problem, the share the stage put in one problem;
- the same, linked again one day at a time as daily runs link them (a month run at once links in one batch);
- cluster purity: each problem the stage made counts the reports of its largest true problem;
- near-miss pairs linked: pairs of a near-miss and the problem it looks like that the stage joined;
- where recall went: true pairs whose two reports the warehouse put in different communities or
  categories, neither among the other's candidates (the blocks never compare them), or at different
  buildings;
- the hand-labelled hard pairs (link_eval_data/hard_pairs.tsv): generated pairs the rules scored near
  their threshold, each labelled one problem or two by reading it; precision and recall of the rules in
  force on them, apart from the generator's truth.

By default it generates a month (its own seed: never the one the weights were chosen on), runs it through
`minqing run` into a scratch database beside the warehouse's, and measures; `--landing DIR` measures the
warehouse as it is against DIR's truth file instead.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import tempfile
import unicodedata
from collections import Counter
from math import comb
from pathlib import Path

import pandas as pd

from minqing import config, warehouse

TARGETS = {"pair_precision": 0.95, "pair_recall": 0.90, "hard_pair_precision": 0.90}
MERGE_MARGIN = 0.15  # merge_threshold above threshold: a distinctly stronger link merges two problems
# Pairs of generated reports the rules scored near their threshold, labelled by reading them (one problem or
# two), with the columns the stage scores: how they were drawn and labelled is in link_eval_data/README.md.
HARD_PAIRS = Path(__file__).with_name("link_eval_data") / "hard_pairs.tsv"


def load_truth(landing: Path) -> pd.DataFrame:
    from minqing.devtools.generate import PROBLEMS_NAME

    path = Path(landing) / PROBLEMS_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no truth file (write the landing folder with `minqing generate`)")
    with path.open(encoding="utf-8", newline="") as fh:
        return pd.DataFrame(list(csv.DictReader(fh)))


def match(conn, truth: pd.DataFrame) -> pd.DataFrame:
    """The truth rows with the warehouse's complaint_id, problem_id, community and category (unmatched
    and ambiguous rows dropped; their counts in attrs)."""
    cur = conn.execute("""
        select c.complaint_id, c.source_channel, c.source_record_id, c.community_id, c.category_code,
               c.address_key, c.complaint_text, c.received_date, c.category_candidates, d.community_name,
               m.problem_id
        from marts.fct_complaints c
        left join marts.dim_community d using (community_id)
        left join ops.problem_members m using (complaint_id)""")
    found = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])
    channel = found["source_channel"].str.replace(r"^hotline_.*", "hotline", regex=True)
    reception = channel == "reception"
    found["record_key"] = found["source_record_id"]
    found.loc[reception, "record_key"] = (found.loc[reception, "received_date"].astype(str) + "|"
                                          + found.loc[reception, "complaint_text"].str.strip())
    found["channel"] = channel
    found["community"] = found["community_name"].where(reception, "")
    keyed = truth.assign(community=truth["community"].where(truth["channel"] == "reception", ""),
                         record_key=truth["record_key"])
    # the loader normalises text (full-width punctuation, spaces): compare both sides normalised alike
    for frame in (found, keyed):
        frame["record_key"] = [_normal(k) for k in frame["record_key"]]
    keys = ["channel", "record_key", "community"]
    ambiguous_truth = keyed.duplicated(keys, keep=False)
    ambiguous_found = found.duplicated(keys, keep=False)
    merged = keyed.loc[~ambiguous_truth].merge(found.loc[~ambiguous_found], on=keys, how="inner",
                                               suffixes=("", "_warehouse"))
    merged.attrs.update(truth_rows=len(truth), matched=len(merged), ambiguous=int(ambiguous_truth.sum()),
                        unlinked=int(merged["problem_id"].isna().sum()))
    return merged.loc[merged["problem_id"].notna()]


def _normal(key) -> str:
    return "".join(unicodedata.normalize("NFKC", key if isinstance(key, str) else "").split())


def _pairs(sizes) -> int:
    return sum(comb(int(n), 2) for n in sizes)


def score(matched: pd.DataFrame) -> dict:
    """Pair precision and recall, cluster purity, near-miss pairs linked, where recall went."""
    both = _pairs(matched.groupby(["problem", "problem_id"]).size())
    predicted = _pairs(matched.groupby("problem_id").size())
    true = _pairs(matched.groupby("problem").size())
    purity = matched.groupby("problem_id")["problem"].agg(lambda s: s.value_counts().iloc[0]).sum() / max(len(matched), 1)
    # the true pairs, by why the stage could not compare them (a channel whose address is the reporter's home
    # keeps no report of another building apart: settings.yml linking.home_address_channels)
    home_channels = set(config.settings()["linking"]["home_address_channels"])
    least = config.settings()["linking"].get("candidate_probability")

    def candidates(row) -> set:
        return set() if least is None else {c["category_code"] for c in row.get("category_candidates") or ()
                                            if c["probability"] >= least}

    lost = Counter()
    for _, group in matched.groupby("problem"):
        if len(group) < 2:
            continue
        rows = group.to_dict("records")
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                if a["problem_id"] == b["problem_id"]:
                    continue
                if a["community_id"] != b["community_id"]:
                    lost["different_community"] += 1
                elif (a["category_code"] != b["category_code"] and a["category_code"] not in candidates(b)
                      and b["category_code"] not in candidates(a)):
                    lost["different_category"] += 1
                elif (not a["address_key"].endswith(":?") and not b["address_key"].endswith(":?")
                      and a["address_key"] != b["address_key"]
                      and not {a["source_channel"], b["source_channel"]} & home_channels):
                    lost["different_building"] += 1
                else:
                    lost["scored_below_threshold_or_outside_window"] += 1
    near = matched.loc[matched["near_miss_of"] != ""]
    near_pairs = near_linked = 0
    for row in near.itertuples(index=False):
        others = matched.loc[matched["problem"] == row.near_miss_of]
        near_pairs += len(others)
        near_linked += int((others["problem_id"] == row.problem_id).sum())
    figures = {
        "reports": len(matched),
        "true_problems": int(matched["problem"].nunique()),
        "problems_made": int(matched["problem_id"].nunique()),
        "true_pairs": true, "linked_pairs": predicted, "correct_pairs": both,
        "pair_precision": round(both / predicted, 4) if predicted else None,
        "pair_recall": round(both / true, 4) if true else None,
        "cluster_purity": round(float(purity), 4),
        "near_miss_pairs": near_pairs, "near_miss_pairs_linked": near_linked,
        "missed_pairs": dict(lost),
    }
    return figures


def hard_pairs(rules=None) -> dict:
    """The rules in force on the hand-labelled hard pairs (HARD_PAIRS): of the pairs a person called one
    problem or two, how many the stage would link, and how many of those rightly. Unsure pairs are left out."""
    from minqing.analytics.linking import Rules, score_pairs

    rules = rules or Rules.from_settings()
    frame = pd.read_csv(HARD_PAIRS, sep="\t", dtype=str, keep_default_na=False)
    labelled = frame.loc[frame["label"].isin(["0", "1"])].reset_index(drop=True)

    def side(s: str) -> pd.DataFrame:
        return pd.DataFrame({"text": labelled[f"text_{s}"], "address": labelled[f"address_{s}"],
                             "address_key": labelled[f"address_key_{s}"], "source_channel": labelled[f"channel_{s}"],
                             "category_code": labelled["category"]})

    parts = score_pairs(rules, side("a"), side("b"), labelled["same_complainant"].eq("True"))
    linked = (parts["compared"] & (parts["score"] >= rules.threshold)).to_numpy()
    same = labelled["label"].eq("1").to_numpy()
    correct = int((linked & same).sum())
    return {"pairs": len(frame), "labelled": len(labelled), "unsure": len(frame) - len(labelled),
            "labelled_same": int(same.sum()), "linked": int(linked.sum()), "correct": correct,
            "hard_pair_precision": round(float(correct / linked.sum()), 4) if linked.sum() else None,
            "hard_pair_recall": round(float(correct / same.sum()), 4) if same.sum() else None}


def day_by_day(conn, truth: pd.DataFrame) -> dict:
    """The same reports linked again one day of receipt at a time, as daily runs link them (a day's reports
    meet the earlier days' through the stage's pool, not in one batch), measured alike; then the connection's
    transaction is rolled back."""
    from minqing.analytics import linking

    try:
        linking.link(conn=conn, rebuild=True, by_day=True)
        figures = score(match(conn, truth))
    finally:
        conn.rollback()
    return {k: figures[k] for k in ("linked_pairs", "correct_pairs", "pair_precision", "pair_recall")}


def evaluate(landing: Path, conn=None) -> dict:
    """The figures of the warehouse's problems against `landing`'s truth file."""
    truth = load_truth(landing)
    if conn is None:
        with warehouse.connect() as own:
            return evaluate(landing, own)
    matched = match(conn, truth)
    figures = score(matched)
    figures.update({k: matched.attrs[k] for k in ("truth_rows", "matched", "ambiguous", "unlinked")})
    figures["day_by_day"] = day_by_day(conn, truth)
    figures["hard_pairs"] = hard_pairs()
    figures["hard_pair_precision"] = figures["hard_pairs"]["hard_pair_precision"]
    figures["targets"] = TARGETS
    figures["notes"] = [f"{name} = {figures[name]} misses its target of {target}" for name, target in TARGETS.items()
                        if figures.get(name) is not None and figures[name] < target]
    return figures


@contextlib.contextmanager
def generated_month(days: int, seed: int, per_day: int, suffix: str, progress=print):
    """A generated month run through the pipeline into a scratch database (WAREHOUSE_URL points at it
    meanwhile): yields (its landing folder, with the truth file; the run's summary)."""
    from minqing import pipeline
    from minqing.devtools.bench import bench_database
    from minqing.devtools.generate import DEFAULT_START, generate

    with tempfile.TemporaryDirectory(prefix=f"minqing-{suffix}-") as work:
        landing = Path(work) / "landing"
        progress(f"link-eval: generating {days} days (seed {seed}, {per_day} a day) ...")
        generate(landing, days=days, seed=seed, per_day=per_day)
        with bench_database(suffix=suffix):
            progress("link-eval: minqing run (ingest, validate, classify, dbt, link) ...")
            yield landing, pipeline.run(landing, DEFAULT_START + dt.timedelta(days=days - 1))


def run(days: int = 30, seed: int = 11, per_day: int = 40, progress=print) -> dict:
    """Generate `days` days (seed `seed`), run them through the pipeline into a scratch database, measure."""
    with generated_month(days, seed, per_day, "linkeval", progress) as (landing, summary):
        with warehouse.connect() as conn:
            figures = evaluate(landing, conn)
    figures["settings"] = {"days": days, "seed": seed, "per_day": per_day,
                           "linking": config.settings()["linking"], "link_stage": summary.linking}
    return figures


# the settings `tune` tries: how much an n-gram's belonging to one category counts, and thresholds
TUNE_FOCUS = (0.0, 1.0, 2.0, 3.0)
TUNE_SEEDS = (7, 13)  # the development months: `minqing link-eval` measures on seed 11, never one of these
TUNE_THRESHOLDS = tuple(round(0.8 + 0.02 * i, 2) for i in range(19))  # 0.80, 0.82, ... 1.16
WEIGHT_PARTS = ("text", "address", "same_complainant", "same_building", "other_home", "same_kind", "other_kind",
                "other_category")
PENALTIES = ("other_home", "other_kind", "other_category")  # parts whose weight is subtracted (settings.yml linking.weights)


def compared_pairs(conn, matched: pd.DataFrame, rules) -> pd.DataFrame:
    """Every pair of matched reports the stage compares (same community, one category or a candidate's,
    buildings that do not differ, within the window) with its parts scored as the stage scores them (the texts weighted
    over all the matched reports at once) and whether the truth calls it one problem."""
    import numpy as np

    from minqing.analytics import linking

    cur = conn.execute(f"select {linking.REPORT_COLUMNS} from {linking.REPORTS} c "
                       f"join {linking.VERSIONS} l using (complaint_id)", rules.query_params())
    read = pd.DataFrame(cur.fetchall(), columns=[d.name for d in cur.description])  # as the stage reads them
    reports = linking.where_reported(rules, matched[["complaint_id", "problem"]].merge(read, on="complaint_id"))
    vectors = linking.text_vectors(rules, reports["what"].tolist(), reports["category_code"].tolist())
    received = pd.to_datetime(reports["received_at"], utc=True)
    hours = ((received - received.min()) / pd.Timedelta(hours=1)).to_numpy(float)
    building, named = reports["building"].to_numpy(object), reports["named_building"].to_numpy(object)
    category = reports["category_code"].to_numpy(object)
    candidates = [set(c or ()) for c in reports["candidates"]]
    a, b = [], []
    for block in reports.groupby("community_id").indices.values():
        block = np.sort(block)
        i, j = np.triu_indices(len(block), k=1)
        i, j = block[i], block[j]
        # one category, or one's category among the other's candidates (the stage's blocks, linking._score)
        blocked = np.array([category[x] == category[y] or category[x] in candidates[y] or category[y] in candidates[x]
                            for x, y in zip(i.tolist(), j.tolist())], dtype=bool)
        keep = (blocked & ((building[i] == "") | (building[j] == "") | (building[i] == building[j]))
                & (np.abs(hours[i] - hours[j]) <= 24 * rules.window_days))
        a.append(i[keep])
        b.append(j[keep])
    a, b = np.concatenate(a), np.concatenate(b)
    other_category = category[a] != category[b]
    person = reports["complainant_key"].fillna("").astype(str).to_numpy(object)
    register = reports["register"].to_numpy(object)
    registers = rules.register_pairs(register[a], register[b])
    parts = linking.pair_parts(rules, vectors.scores(a, b, register[a] != register[b]),
                               reports["place"].to_numpy(object)[a], reports["place"].to_numpy(object)[b],
                               named[a], named[b], reports["home"].to_numpy(object)[a],
                               reports["home"].to_numpy(object)[b], reports["kinds"].to_numpy()[a],
                               reports["kinds"].to_numpy()[b], (person[a] == person[b]) & (person[a] != ""),
                               *rules.text_weight_and_offset(register[a], register[b]), other_category)
    problem = reports["problem"].to_numpy(object)
    return pd.DataFrame({"text": parts["text_score"], "address": parts["address_score"],
                         "same_complainant": parts["same_complainant"].astype(float),
                         "same_building": parts["same_building"].astype(float),
                         "other_home": parts["other_home"].astype(float), "same_kind": parts["same_kind"].astype(float),
                         "other_kind": parts["other_kind"].astype(float),
                         "other_category": other_category.astype(float), "registers": registers,
                         "cross_register": register[a] != register[b], "same_problem": problem[a] == problem[b],
                         "hours_apart": np.abs(hours[a] - hours[b]), "first": reports["complaint_id"].to_numpy()[a],
                         "second": reports["complaint_id"].to_numpy()[b]})


# a pair of registers gets weights of its own when the month compares at least this many of its pairs, this
# many of them one problem (fewer: the shared weights)
MIN_REGISTER_PAIRS, MIN_REGISTER_SAME = 30, 5


def fit_weights(pairs: pd.DataFrame) -> tuple[dict, dict]:
    """A logistic regression's weights on the compared pairs, scaled to text = 1 (other_home as a penalty),
    and for each pair of two registers with enough pairs (a call and a staff note: texts written apart) its
    own text weight and an offset (an indicator and its text interacted, on the same scale)."""
    from sklearn.linear_model import LogisticRegression

    sizes = pairs.loc[pairs["cross_register"]].groupby("registers")["same_problem"].agg(["size", "sum"])
    apart = sorted(sizes.index[(sizes["size"] >= MIN_REGISTER_PAIRS) & (sizes["sum"] >= MIN_REGISTER_SAME)])
    features = pairs[list(WEIGHT_PARTS)].copy()
    for key in apart:
        here = (pairs["registers"] == key).astype(float)
        features[f"is {key}"], features[f"text {key}"] = here, here * pairs["text"]
    model = LogisticRegression(max_iter=5000, C=3.0).fit(features, pairs["same_problem"])
    coef = dict(zip(features.columns, model.coef_[0] / model.coef_[0][0]))
    weights = {name: round(float(coef[name]), 2) for name in WEIGHT_PARTS}
    for name in PENALTIES:
        weights[name] = -weights[name]
    between = {key: {"text": round(float(1 + coef[f"text {key}"]), 2), "offset": round(float(coef[f"is {key}"]), 2)}
               for key in apart}
    return weights, between


def tune_lines(tuned: dict) -> list[str]:
    seeds = ", ".join(str(seed) for seed in tuned["seeds"])
    out = [f"link-eval --tune: seeds {seeds}, {tuned['days']} days each, {tuned['per_day']} a day; precision and "
           "recall over the months together, the lowest month's precision beside them",
           "(lowest: of any month, linked at once or day by day)",
           "focus  threshold  precision  recall  lowest precision  hard-pair precision  weights"]
    out += [f"{t['category_focus']:<6} {t['threshold']:<10} {t['pair_precision']!s:<10} {t['pair_recall']!s:<7} "
            f"{t['lowest_month_precision']!s:<17} {t['hard_pair_precision']!s:<20} {t['weights']} {t['between_registers']}"
            for t in tuned["trials"]]
    chosen = tuned["chosen"]
    out.append("chosen: none reaches the precision targets" if chosen is None else
               f"chosen: category_focus {chosen['category_focus']}, weights {chosen['weights']}, between_registers "
               f"{chosen['between_registers']}, threshold {chosen['threshold']}, merge_threshold "
               f"{round(chosen['threshold'] + MERGE_MARGIN, 2)}")
    return out


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def tune(days: int = 30, seeds: tuple[int, ...] = TUNE_SEEDS, per_day: int = 40, progress=print) -> dict:
    """Choose the linking settings on development months (seeds 7 and 13; `minqing link-eval` measures on
    another): for each category_focus, the weights a logistic regression fits on the months' compared pairs;
    then for each threshold the stage links each month again, at once and day by day (as daily runs link),
    and is measured. Chosen: the highest pair recall over the months together whose pair precision reaches
    its target in every month, linked either way, and whose hard-pair precision reaches its own. Two months rather than one: a threshold that one month's few hundred true
    pairs happen to favour is less likely to hold in both."""
    import dataclasses

    from minqing.analytics import linking

    base = linking.Rules.from_settings()
    trials = []
    with contextlib.ExitStack() as stack:
        months = []  # (seed, its connection, its truth, its matched reports)
        for seed in seeds:
            landing, _ = stack.enter_context(generated_month(days, seed, per_day, f"linktune{seed}", progress))
            conn = stack.enter_context(warehouse.connect())  # a month's own database, open while the next is made
            truth = load_truth(landing)
            months.append((seed, conn, truth, match(conn, truth)))
        for focus in TUNE_FOCUS:
            pairs = pd.concat([compared_pairs(conn, matched, dataclasses.replace(base, category_focus=focus))
                               for _, conn, _, matched in months], ignore_index=True)
            weights, between = fit_weights(pairs)
            for threshold in TUNE_THRESHOLDS:
                rules = dataclasses.replace(base, category_focus=focus, weights=weights, between_registers=between,
                                            threshold=threshold, merge_threshold=round(threshold + MERGE_MARGIN, 2))
                per_month = []
                for seed, conn, truth, _ in months:
                    linking.link(rules, conn, rebuild=True, by_day=True)  # as daily runs link
                    daily = score(match(conn, truth))
                    linking.link(rules, conn, rebuild=True)
                    per_month.append({"seed": seed, **score(match(conn, truth)),
                                      "day_by_day_precision": daily["pair_precision"],
                                      "day_by_day_recall": daily["pair_recall"]})
                hard = hard_pairs(rules)
                correct, linked, true = (sum(m[k] for m in per_month) for k in ("correct_pairs", "linked_pairs", "true_pairs"))
                trial = {"category_focus": focus, "weights": weights, "between_registers": between,
                         "threshold": threshold, "pair_precision": _ratio(correct, linked), "pair_recall": _ratio(correct, true),
                         "lowest_month_precision": min((m[k] or 0) for m in per_month
                                                       for k in ("pair_precision", "day_by_day_precision")),
                         "months": [{k: m[k] for k in ("seed", "pair_precision", "pair_recall", "day_by_day_precision",
                                                       "day_by_day_recall")} for m in per_month],
                         "near_miss_pairs_linked": sum(m["near_miss_pairs_linked"] for m in per_month),
                         "hard_pair_precision": hard["hard_pair_precision"],
                         "hard_pair_recall": hard["hard_pair_recall"], "compared_pairs": len(pairs),
                         "same_problem_pairs": int(pairs["same_problem"].sum())}
                progress(f"  focus {focus} threshold {threshold}: precision {trial['pair_precision']} (lowest month "
                         f"{trial['lowest_month_precision']}), recall {trial['pair_recall']}, hard-pair precision "
                         f"{trial['hard_pair_precision']}")
                trials.append(trial)
        for _, conn, _, _ in months:
            conn.rollback()
    good = [t for t in trials if t["lowest_month_precision"] >= TARGETS["pair_precision"]
            and (t["hard_pair_precision"] or 0) >= TARGETS["hard_pair_precision"]]
    chosen = max(good, key=lambda t: (t["pair_recall"], t["pair_precision"])) if good else None
    return {"seeds": list(seeds), "days": days, "per_day": per_day, "trials": trials, "chosen": chosen}


def lines(figures: dict) -> list[str]:
    def verdict(name):
        target = TARGETS.get(name)
        value = figures.get(name)
        return "" if target is None or value is None else f"  (target >= {target}: {'met' if value >= target else 'MISSED'})"

    out = [
        f"link-eval: {figures['matched']} of {figures['truth_rows']} true reports matched "
        f"({figures['ambiguous']} ambiguous, {figures['unlinked']} not linked yet); "
        f"{figures['true_problems']} true problems, {figures['problems_made']} made",
        f"pair precision  {figures['pair_precision']}{verdict('pair_precision')}",
        f"pair recall     {figures['pair_recall']}{verdict('pair_recall')}",
        f"cluster purity  {figures['cluster_purity']}",
        f"pairs: {figures['true_pairs']} true, {figures['linked_pairs']} linked, {figures['correct_pairs']} both",
        "linked again day by day, as daily runs link: pair precision {pair_precision}, recall {pair_recall} "
        "({correct_pairs} of {linked_pairs} linked pairs right)".format(**figures["day_by_day"]),
        f"near-miss pairs linked: {figures['near_miss_pairs_linked']} of {figures['near_miss_pairs']}",
        "true pairs missed: " + (", ".join(f"{k} {v}" for k, v in sorted(figures["missed_pairs"].items())) or "none"),
    ]
    hard = figures.get("hard_pairs")
    if hard:
        out += [f"hand-labelled hard pairs: {hard['labelled']} of {hard['pairs']} labelled ({hard['unsure']} unsure), "
                f"{hard['labelled_same']} one problem; linked {hard['linked']}, {hard['correct']} rightly",
                f"hard-pair precision {hard['hard_pair_precision']}{verdict('hard_pair_precision')}, "
                f"recall {hard['hard_pair_recall']}"]
    return out
