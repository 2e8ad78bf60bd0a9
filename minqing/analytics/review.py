"""The human review loop (人工复核) of the classifier: people label the complaints it was unsure of.

    minqing review export --out FILE.csv     marts.mart_classification_review, an empty `category` to fill
    minqing review import FILE.csv [--by X]  the filled-in file back: one label per filled row

The export is a spreadsheet CSV (`minqing.publishing.exports.to_csv`: a BOM, formula cells neutralised), oldest
complaint first, with a `text_check` column — `#` and the first 12 hex digits of the SHA-256 of the
text it shows — so that an import notices a complaint whose text changed since. The `#` keeps Excel
from reading the digits as a number.

An import reads the file as a person's spreadsheet saved it (UTF-8 with or without BOM, or GB18030:
Excel's "CSV" on Chinese Windows), validates every row first and stores the labels of the filled rows
in one transaction, or refuses the whole file — one line per bad row saying what is wrong and what
to do — and stores nothing. A stored label (ops.classification_reviews, append-only) records who,
when, the file (name and SHA-256) and the code the complaint had before (the model's, or an earlier
person's); from the next build on it is the complaint's category everywhere downstream, and
`labelled_texts` gives the labelled texts to `minqing classifier train`.
"""

from __future__ import annotations

import csv
import getpass
import hashlib
import io
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import psycopg

from ingestion.common import EncodingTrouble, decode
from ingestion.contracts import complaint_texts_sql
from minqing import config
from minqing.publishing.exports import restore, to_csv

MART = "marts.mart_classification_review"
CHECK_COLUMN = "text_check"
CATEGORY_COLUMN = "category"
REQUIRED_COLUMNS = ("complaint_id", CHECK_COLUMN, CATEGORY_COLUMN)
CHECK_DIGITS = 12
CHECK_PREFIX = "#"

# the mart's columns, in the order the export shows them (text_sha256 becomes the text_check column)
EXPORT_COLUMNS = (
    "complaint_id", "source_channel", "community_id", "community_name", "received_at", "age_days", "status",
    "text_excerpt", "category_code", "category_name_zh", "category_confidence",
    "candidate_1_code", "candidate_1_probability", "candidate_2_code", "candidate_2_probability",
    "candidate_3_code", "candidate_3_probability",
)

# Transaction-level advisory lock serialising imports (warehouse.MIGRATION_LOCK is 7_204_301,
# pipeline.RUN_LOCK 7_204_302). Taken before the labels' time is read, so that every import's
# reviewed_at is later than that of every import committed before it: fct_complaints picks up new
# labels by that time (its watermark), and none can slip in under it.
IMPORT_LOCK = 7_204_303

_CURRENT_SQL = """
select complaints.complaint_id, complaints.text_sha256,
       coalesce(labels.category_code, classifications.category_code, 'other') as current_code,
       labels.category_code is not null as labelled
from marts.fct_complaints as complaints
left join ops.text_classifications as classifications using (text_sha256)
left join lateral (
    select reviews.category_code from ops.classification_reviews as reviews
    where reviews.complaint_id = complaints.complaint_id
    order by reviews.review_id desc
    limit 1
) as labels on true
where complaints.complaint_id = any(%s)
"""

_INSERT_SQL = """
insert into ops.classification_reviews
    (complaint_id, text_sha256, category_code, previous_category_code, reviewed_by, reviewed_at, source_file,
     imported_at)
values (%s, %s, %s, %s, %s, %s, %s, %s)
"""

# The newest label given to each distinct text, with the text itself from raw, formed as the classifier forms it
# (each channel's contract, ingestion/contracts/) and the staging models hash it.
_LABELLED_TEXTS_SQL = f"""
with labels as (
    select distinct on (text_sha256) text_sha256, category_code
    from ops.classification_reviews
    order by text_sha256, review_id desc
), raw_texts (text) as (
    {complaint_texts_sql()}
)
select labels.category_code, raw_texts.text
from raw_texts
join labels on labels.text_sha256 = encode(sha256(convert_to(raw_texts.text, 'UTF8')), 'hex')
order by labels.text_sha256
"""


class FileRefused(ValueError):
    """A review file that was not applied at all; `problems` holds one line per bad row (or one for the file)."""

    def __init__(self, problems: list[str], notes: list[str] | None = None):
        super().__init__("\n".join(problems))
        self.problems = problems
        self.notes = notes or []


@dataclass(frozen=True)
class ImportResult:
    file: str
    sha256: str
    reviewed_by: str
    applied: int  # labels stored
    changed: int  # of them, labels that change the complaint's category
    skipped: int  # rows left without a category
    unchanged: int  # rows whose category is already the complaint's label: nothing stored

    def summary(self) -> str:
        return (f"review import: {self.applied} applied ({self.changed} changed the category, "
                f"{self.applied - self.changed} confirmed it), {self.skipped} skipped (no category), "
                f"{self.unchanged} unchanged (already labelled so); by {self.reviewed_by}, "
                f"{self.file} sha256 {self.sha256[:12]}…; in the marts from the next build (minqing run)")


@lru_cache(maxsize=1)
def categories() -> dict[str, str]:
    """The 15 codes and their Chinese names, from seeds/issue_categories.csv (what dbt builds with)."""
    with open(config.SEEDS_DIR / "issue_categories.csv", encoding="utf-8", newline="") as fh:
        return {row["category_code"]: row["category_name_zh"] for row in csv.DictReader(fh)}


def _normal(cell: str) -> str:
    return unicodedata.normalize("NFKC", cell).strip()


def category_of(cell: str) -> str | None:
    """The code a person wrote, as a code (any case) or as its Chinese name; None when it is neither."""
    value = _normal(cell)
    by_name = {name: code for code, name in categories().items()}
    code = value.lower()
    return code if code in categories() else by_name.get(value)


def text_check(text_sha256: str) -> str:
    return CHECK_PREFIX + text_sha256[:CHECK_DIGITS]


# --- export --------------------------------------------------------------------------------------------

def export(conn: psycopg.Connection, out: Path) -> int:
    """Write the complaints awaiting review to `out` (oldest first); returns how many."""
    try:
        rows = conn.execute(f"select {', '.join(EXPORT_COLUMNS)}, text_sha256 from {MART} "
                            "order by received_at, complaint_id").fetchall()
    except psycopg.errors.UndefinedTable as exc:
        raise RuntimeError(f"{MART} is not built yet: run `minqing run` first") from exc
    received = EXPORT_COLUMNS.index("received_at")
    cells = []
    for row in rows:
        values = list(row[:-1])
        values[received] = values[received].astimezone(config.BEIJING).strftime("%Y-%m-%d %H:%M")
        cells.append([*values, text_check(row[-1]), ""])
    out.write_text(to_csv([*EXPORT_COLUMNS, CHECK_COLUMN, CATEGORY_COLUMN], cells), encoding="utf-8", newline="")
    return len(rows)


# --- import --------------------------------------------------------------------------------------------

def _read_rows(data: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and rows of a spreadsheet's CSV; FileRefused when the bytes are no text it may save."""
    again = "save it again from Excel or WPS as \"CSV UTF-8\" or \"CSV\" and import that"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise FileRefused([f"the file is UTF-16 text (Excel's \"Unicode text\"), not CSV: {again}"])
    try:
        text, _ = decode(data)
    except EncodingTrouble as exc:
        raise FileRefused([f"the file cannot be read: {exc}; {again}"]) from exc
    if "\ufffd" in text or "\x00" in text:
        line = text[:text.find("\ufffd") if "\ufffd" in text else text.find("\x00")].count("\n") + 1
        raise FileRefused([f"the file is not UTF-8 or GB18030 text throughout (line {line} holds bytes that "
                           f"are neither): {again}"])
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise FileRefused([f"the file is not a readable CSV ({exc}): {again}"]) from exc
    if not rows:
        raise FileRefused([f"the file is empty: export again with `minqing review export` and fill in {CATEGORY_COLUMN}"])
    return rows[0], rows[1:]


def _columns(header: list[str]) -> dict[str, int]:
    """Where each required column is; FileRefused naming what is missing or given twice."""
    names = [_normal(cell).lower() for cell in header]
    twice = sorted({n for n in REQUIRED_COLUMNS if names.count(n) > 1})
    missing = [n for n in REQUIRED_COLUMNS if n not in names]
    export_again = (f"keep the columns {', '.join(REQUIRED_COLUMNS)} as `minqing review export` wrote them "
                    f"(export again if they were removed) and fill in {CATEGORY_COLUMN}")
    if missing:
        raise FileRefused([f"the file has no column {', '.join(missing)}: {export_again}"])
    if twice:
        raise FileRefused([f"the file has the column {', '.join(twice)} twice: {export_again}"])
    return {n: names.index(n) for n in REQUIRED_COLUMNS}


def _cell(row: list[str], index: int) -> str:
    return restore(row[index].strip()).strip() if index < len(row) else ""


@dataclass
class _Checked:
    labels: list[tuple[str, str, str, str]]  # to store: (complaint_id, text_sha256, code, previous code)
    problems: list[str]
    skipped: int = 0
    unchanged: int = 0


def _validate(rows: list[list[str]], at: dict[str, int], current: dict[str, tuple]) -> _Checked:
    """Every row against the complaints as they are now (`current`: id -> text_sha256, code, labelled)."""
    checked, first_row = _Checked([], []), {}
    for number, row in enumerate(rows, start=2):  # the spreadsheet's row numbers: the header is row 1
        complaint_id, check, written = (_cell(row, at[c]) for c in REQUIRED_COLUMNS)
        if not any(cell.strip() for cell in row):
            continue  # a blank line a spreadsheet left at the end
        where = f"row {number}, complaint {complaint_id or '(none)'}"
        if complaint_id in first_row:
            checked.problems.append(f"{where}: the complaint is also in row {first_row[complaint_id]}; "
                            "keep one row per complaint and delete the other")
            continue
        if complaint_id:
            first_row[complaint_id] = number
        if not written:
            checked.skipped += 1
            continue
        wrong = []
        code = category_of(written)
        if code is None:
            wrong.append(f"unknown category {written!r}: write one of the codes listed below, or its Chinese name")
        if not complaint_id:
            wrong.append("complaint_id is empty: keep the complaint_id the export wrote in every row")
        elif complaint_id not in current:
            wrong.append("no such complaint in the warehouse: keep the complaint_id the export wrote "
                         "(was it edited, or exported from another warehouse?)")
        else:
            text_sha256, previous, labelled = current[complaint_id]
            given = check.lower().removeprefix(CHECK_PREFIX)
            if not re.fullmatch(f"[0-9a-f]{{{CHECK_DIGITS}}}", given):
                wrong.append(f"{CHECK_COLUMN} {check!r} is not {CHECK_PREFIX} and {CHECK_DIGITS} hex digits as "
                             "the export wrote it (a spreadsheet may have turned it into a number): "
                             "export again and label this complaint in the new file")
            elif not (text_sha256 or "").startswith(given):
                wrong.append(f"the complaint's text changed since the export ({CHECK_COLUMN} {check} is not its "
                             "text's now): export again and label it from its new text")
            elif code is not None and labelled and code == previous:
                checked.unchanged += 1  # a person already labelled it so
            elif code is not None:
                checked.labels.append((complaint_id, text_sha256, code, previous))
        if wrong:
            checked.problems.append(f"{where}: {'; '.join(wrong)}")
    return checked


def import_file(conn: psycopg.Connection, path: Path, by: str | None = None) -> ImportResult:
    """Validate every row of a filled-in export, then store the labels of its filled rows in one
    transaction (committed here); FileRefused, with nothing stored, when any row is bad."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    reviewed_by = (by if by is not None else getpass.getuser()).strip()
    if not reviewed_by:
        raise FileRefused(["--by is empty: name the person who labelled the file"])
    header, rows = _read_rows(data)
    at = _columns(header)
    ids = sorted({cell for row in rows if (cell := _cell(row, at["complaint_id"]))})
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (IMPORT_LOCK,))
        try:
            current = {r[0]: r[1:] for r in conn.execute(_CURRENT_SQL, (ids,))}
        except psycopg.errors.UndefinedTable as exc:
            raise RuntimeError("marts.fct_complaints is not built yet: run `minqing run` first") from exc
        checked = _validate(rows, at, current)
        if checked.problems:
            notes = []
            if any("unknown category" in p for p in checked.problems):
                notes.append("the categories: " + ", ".join(f"{c} {n}" for c, n in categories().items()))
            raise FileRefused(checked.problems, notes)
        now = conn.execute("select clock_timestamp()").fetchone()[0]
        source = f"{path.name} sha256:{digest}"
        with conn.cursor() as cur:
            cur.executemany(_INSERT_SQL, [(*label, reviewed_by, now, source, now) for label in checked.labels])
    return ImportResult(file=path.name, sha256=digest, reviewed_by=reviewed_by, applied=len(checked.labels),
                        changed=sum(1 for _, _, code, previous in checked.labels if code != previous),
                        skipped=checked.skipped, unchanged=checked.unchanged)


# --- training data -------------------------------------------------------------------------------------

def labelled_texts(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(category_code, text) for each distinct text people labelled: its newest label, the text as the
    classifier reads it from raw (by its hash). The training data `minqing classifier train` adds."""
    return [(code, text) for code, text in conn.execute(_LABELLED_TEXTS_SQL)]

