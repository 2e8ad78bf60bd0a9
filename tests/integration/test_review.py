"""Integration: the human review loop (人工复核) on a real warehouse — `minqing review export`, a person's
edits saved by a spreadsheet, `minqing review import`, and the labels in the marts after the next
incremental build.

The scenario (望园社区, 12345 hotline, July 2026, as-of pinned at 2026-07-16 12:00): five complaints, four
of which the classifier was unsure of (needs_review, with three candidates each):

  A  07-05, closed   drainage (unsure)          the person says waterlogging      (a change)
  B  07-08, closed   waterlogging (unsure)      the person writes 积水内涝          (a confirmation, by name)
  C  07-14, open     road_facilities (unsure)   left empty; its text starts with '=' (a formula to neutralise)
  D  07-14, closed   noise (sure)               never listed
  E  07-15, open     noise (unsure)             the person says neighbor_dispute  (a change)

One full build, one export; every bad file is refused against that state, and one import followed by
one incremental build of the whole project (A is closed and in no new file: only its label can make
the build rebuild it).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from minqing import cli
from minqing.analytics import review
from minqing.transform import build

from conftest import HOTLINE_HEADER, new_database, store_classifications, write_csv

AS_OF = "2026-07-16T12:00:00+08:00"

# key -> (work order, received, closed or None, text, model code, candidates or None when sure)
COMPLAINTS = {
    "A": ("GD2026070500001", "2026-07-05 10:00:00", "2026-07-05 18:00:00", "楼下下水道堵了，雨水污水往外冒",
          "drainage", [("drainage", 0.46), ("waterlogging", 0.31), ("sanitation", 0.12)]),
    "B": ("GD2026070800001", "2026-07-08 09:00:00", "2026-07-08 17:00:00", "小区门口一直积水，雨停了也不退",
          "waterlogging", [("waterlogging", 0.48), ("drainage", 0.40), ("road_facilities", 0.05)]),
    "C": ("GD2026071400001", "2026-07-14 08:00:00", None, "=SUM(A1) 楼道灯坏了好几天，晚上看不见",
          "road_facilities", [("road_facilities", 0.44), ("property_service", 0.41), ("safety_hazard", 0.08)]),
    "D": ("GD2026071400002", "2026-07-14 20:00:00", "2026-07-15 10:00:00", "晚上广场舞音响太吵了",
          "noise", None),
    "E": ("GD2026071500001", "2026-07-15 09:00:00", None, "邻居装修天天砸墙，说了也不听",
          "noise", [("noise", 0.42), ("neighbor_dispute", 0.40), ("other", 0.10)]),
}
LABELS = {"A": "waterlogging", "B": "积水内涝", "C": "", "E": " neighbor_dispute "}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def redacted(text: str) -> str:
    """The text as staging shows it (util.redact_phones: NFKC first; the scenario's texts hold no phone)."""
    return unicodedata.normalize("NFKC", text)


def _write_landing(root: Path) -> None:
    rows = []
    for key, (order_id, received, closed, text, _, _) in COMPLAINTS.items():
        base = {
            "工单编号": order_id, "来源": "12345", "来电时间": received, "诉求人": "张伟", "联系电话": f"1390000{order_id[-4:]}",
            "诉求类型": "投诉", "诉求内容": text, "诉求地址": f"丰台区六里桥街道望园社区{ord(key) - 60}号楼1单元101",
            "所属街道": "六里桥街道", "所属社区": "望园社区", "承办单位": "六里桥街道",
            "派单时间": received, "办理状态": "已派单", "更新时间": received}
        rows.append(base)
        if closed:
            rows.append(base | {"办结时间": closed, "办理状态": "已办结", "更新时间": closed})
    write_csv(root / "hotline/12345_202607.csv", HOTLINE_HEADER, rows)


CATEGORY_MARTS = {
    "monthly": "select category_code, received_count from marts.mart_issue_category_monthly "
               "where month_start = '2026-07-01' and community_id = 'wangyuan'",
    "daily": "select category_code, sum(received_total) from marts.fct_community_category_daily "
             "where community_id = 'wangyuan' group by 1",
    "weekly_code": "select category_code, sum(volume) from marts.mart_sentiment_code where period_grain = 'week' "
                   "and grade_level = 'community_category' and community_id = 'wangyuan' group by 1",
    "grades": "select category_code, count(*) from marts.mart_complaint_grades group by 1",
}


def _per_category(conn) -> dict[str, dict[str, int]]:
    return {name: {code: int(n) for code, n in conn.execute(sql) if n} for name, sql in CATEGORY_MARTS.items()}


@pytest.fixture(scope="module")
def built(server_url, tmp_path_factory):
    """The scenario ingested, classified as the learned classifier would (unsure texts flagged, with their
    candidates) and built once; yields the URL and every mart's figures per category before any label."""
    landing = tmp_path_factory.mktemp("review") / "landing"
    _write_landing(landing)
    with pytest.MonkeyPatch.context() as patch, new_database(server_url, patch) as url:
        patch.setenv("MINQING_HASH_KEY", "test-key-not-secret")
        reports = ingest(landing, progress=False)
        assert all(r.rows_quarantined == 0 and r.status == "loaded" for r in reports), [r.as_json() for r in reports]
        with psycopg.connect(url) as conn:
            store_classifications(conn, [(c[3], c[4]) for c in COMPLAINTS.values()])
            for _, _, _, text, _, candidates in COMPLAINTS.values():
                if candidates:
                    conn.execute("update ops.text_classifications set needs_review = true, candidates = %s, "
                                 "confidence = %s where text_sha256 = %s",
                                 (json.dumps([{"category_code": c, "probability": p} for c, p in candidates]),
                                  candidates[0][1], sha256(text)))
        outcome = build(as_of=AS_OF)
        assert outcome.success, outcome.failures
        with psycopg.connect(url) as conn:
            ids = dict(conn.execute("select source_record_id, complaint_id from marts.fct_complaints"))
            before = _per_category(conn)
        yield {"url": url, "ids": {key: ids[c[0]] for key, c in COMPLAINTS.items()}, "before": before}


@pytest.fixture()
def on_built(built, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_URL", built["url"])
    return built


@pytest.fixture(scope="module")
def exported(built, tmp_path_factory) -> Path:
    """`minqing review export` of the scenario, before anyone labelled anything."""
    path = tmp_path_factory.mktemp("export") / "待复核.csv"
    assert cli.main(["review", "export", "--out", str(path)]) == 0
    return path


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], rows: list[list[str]], encoding: str = "utf-8-sig") -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def _filled(exported: Path, ids: dict[str, str], labels: dict[str, str]) -> tuple[list[str], list[list[str]]]:
    """The export with the category column filled in as a person would."""
    header, rows = _read(exported)
    by_id = {complaint_id: key for key, complaint_id in ids.items()}
    category = header.index("category")
    for row in rows:
        row[category] = labels.get(by_id[row[0]], "")
    return header, rows


def _review_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from ops.classification_reviews").fetchone()[0]


# --- the list and the export --------------------------------------------------------------------------------

def test_the_review_mart_lists_the_unsure_unlabelled_complaints_oldest_first(built):
    with psycopg.connect(built["url"]) as conn:
        cur = conn.execute("select * from marts.mart_classification_review order by received_at")
        names = [d.name for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur]
    ids = built["ids"]
    assert [r["complaint_id"] for r in rows] == [ids["A"], ids["B"], ids["C"], ids["E"]]
    a = rows[0]
    assert (a["community_id"], a["community_name"], a["category_code"], a["category_name_zh"]) == \
        ("wangyuan", "望园社区", "drainage", "排水管道")
    assert a["age_days"] == 11  # 07-05 10:00 to 07-16 12:00
    assert [(a[f"candidate_{i}_code"], float(a[f"candidate_{i}_probability"])) for i in (1, 2, 3)] == \
        COMPLAINTS["A"][5]
    assert float(a["category_confidence"]) == 0.46
    assert a["text_excerpt"] == redacted(COMPLAINTS["A"][3]) and a["text_sha256"] == sha256(COMPLAINTS["A"][3])
    assert rows[2]["status"] != "closed" and rows[0]["status"] == "closed"  # open and closed alike


def test_the_export_is_the_mart_as_a_spreadsheet_with_a_category_to_fill(built, exported):
    data = exported.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # Excel reads the Chinese as UTF-8
    header, rows = _read(exported)
    assert header[0] == "complaint_id" and header[-2:] == ["text_check", "category"]
    assert [r[0] for r in rows] == [built["ids"][k] for k in "ABCE"]
    for key, row in zip("ABCE", rows):
        record = dict(zip(header, row))
        assert record["category"] == ""
        assert record["text_check"] == "#" + sha256(COMPLAINTS[key][3])[:12]
        assert record["candidate_1_code"] == COMPLAINTS[key][5][0][0]
    c = dict(zip(header, rows[2]))
    assert c["text_excerpt"] == "'" + redacted(COMPLAINTS["C"][3])  # neutralised: Excel shows it, runs nothing
    assert c["received_at"] == "2026-07-14 08:00"  # Beijing time


# --- bad files: refused whole, one line per bad row, nothing stored ----------------------------------------

def _bad_files(exported: Path, ids: dict[str, str], tmp: Path) -> dict[str, tuple[Path, list[str]]]:
    """name -> (file, the start of each line the import must print: one per bad row, or one for the file)."""
    header, rows = _filled(exported, ids, LABELS)
    check, category = header.index("text_check"), header.index("category")
    a, e = ids["A"], ids["E"]

    def variant(name: str, change, encoding="utf-8-sig") -> Path:
        h, r = list(header), [list(row) for row in rows]
        change(h, r)
        return _write(tmp / f"{name}.csv", h, r, encoding)

    def unknown_code(h, r):
        r[0][category] = "drainge"

    def unknown_code_and_id(h, r):
        r[0][category] = "积水"
        r[3][0] = "0" * 32

    def text_changed(h, r):
        r[0][check] = r[1][check]  # another text's check: A's text is not the one exported

    def check_made_a_number(h, r):
        r[1][check] = "1.23457E+11"  # what Excel makes of 12 digits in a General cell

    def duplicated(h, r):
        r.append(list(r[0]))

    def missing_column(h, r):
        del h[check]
        for row in r:
            del row[check]

    def no_id(h, r):
        r[3][0] = ""

    def one_bad_row(h, r):
        r[3][category] = "噪音"  # not a category's name (噪音扰民 is)

    gb = _write(tmp / "bom_then_gb18030.csv", header, rows, "gb18030")
    gb.write_bytes(b"\xef\xbb\xbf" + gb.read_bytes())
    utf16 = _write(tmp / "utf16.csv", header, rows, "utf-16")
    garbage = tmp / "garbage.csv"
    garbage.write_bytes(b"\xff" * 300)
    empty = tmp / "empty.csv"
    empty.write_bytes(b"")
    return {
        "unknown code": (variant("unknown_code", unknown_code), [f"row 2, complaint {a}: unknown category 'drainge'"]),
        "unknown code and unknown complaint": (
            variant("two_bad_rows", unknown_code_and_id),
            [f"row 2, complaint {a}: unknown category '积水'", f"row 5, complaint {'0' * 32}: no such complaint"]),
        "text changed since the export": (variant("text_changed", text_changed),
                                          [f"row 2, complaint {a}: the complaint's text changed since the export"]),
        "check turned into a number": (variant("check_number", check_made_a_number),
                                       [f"row 3, complaint {ids['B']}: text_check '1.23457E+11' is not"]),
        "duplicated complaint": (variant("duplicated", duplicated),
                                 [f"row 6, complaint {a}: the complaint is also in row 2"]),
        "missing column": (variant("missing_column", missing_column), ["the file has no column text_check"]),
        "BOM then GB18030": (gb, ["the file cannot be read: the file starts with a UTF-8 byte-order mark"]),
        "UTF-16": (utf16, ["the file is UTF-16 text"]),
        "not text": (garbage, ["the file cannot be read: the file is not text in UTF-8 or GB18030"]),
        "empty": (empty, ["the file is empty"]),
        "no complaint id": (variant("no_id", no_id), ["row 5, complaint (none): complaint_id is empty"]),
        "a good file but for one row": (variant("one_bad", one_bad_row),
                                        [f"row 5, complaint {e}: unknown category '噪音'"]),
    }


@pytest.fixture(scope="module")
def bad_files(built, exported, tmp_path_factory):
    return _bad_files(exported, built["ids"], tmp_path_factory.mktemp("bad"))


BAD_CASES = ["unknown code", "unknown code and unknown complaint", "text changed since the export",
             "check turned into a number", "duplicated complaint", "missing column", "BOM then GB18030", "UTF-16",
             "not text", "empty", "no complaint id", "a good file but for one row"]


@pytest.mark.parametrize("case", BAD_CASES)
def test_a_bad_file_is_refused_whole_with_one_line_per_bad_row(on_built, bad_files, case, capsys):
    path, expected = bad_files[case]
    before = _review_count(on_built["url"])
    assert cli.main(["review", "import", str(path), "--by", "王芳"]) == 1
    err = capsys.readouterr().err.splitlines()
    problems = [line.removeprefix(f"{path}: ") for line in err[:len(expected)]]
    assert len(problems) == len(expected) and all(p.startswith(x) for p, x in zip(problems, expected)), err
    assert not any(line.startswith(f"{path}: row ") for line in err[len(expected):]), err
    assert err[-1].startswith(f"review import: {path} refused, nothing applied")
    if case.startswith("unknown code"):
        assert "drainage 排水管道" in err[-2]  # the codes to choose from, once
    assert _review_count(on_built["url"]) == before


# --- a good file, and what it changes ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def labelled(built, exported, tmp_path_factory):
    """The export filled in and saved by Excel on Chinese Windows (GB18030, no BOM), imported as 王芳,
    then the next (incremental) build of the whole project."""
    header, rows = _filled(exported, built["ids"], LABELS)
    path = _write(tmp_path_factory.mktemp("filled") / "待复核_已填.csv", header, rows, "gb18030")
    with psycopg.connect(built["url"]) as conn:
        result = review.import_file(conn, path, by="王芳")
    outcome = build(as_of=AS_OF)
    assert outcome.success, outcome.failures
    return {**built, "result": result, "file": path}


def test_an_import_stores_each_label_with_who_when_which_file_and_the_code_before(labelled):
    result = labelled["result"]
    assert (result.applied, result.changed, result.skipped, result.unchanged) == (3, 2, 1, 0)
    digest = hashlib.sha256(labelled["file"].read_bytes()).hexdigest()
    with psycopg.connect(labelled["url"]) as conn:
        stored = {r[0]: r[1:] for r in conn.execute(
            "select complaint_id, category_code, previous_category_code, text_sha256, reviewed_by, source_file, "
            "reviewed_at is not null from ops.classification_reviews")}
    ids = labelled["ids"]
    source = f"待复核_已填.csv sha256:{digest}"
    assert stored == {
        ids["A"]: ("waterlogging", "drainage", sha256(COMPLAINTS["A"][3]), "王芳", source, True),
        ids["B"]: ("waterlogging", "waterlogging", sha256(COMPLAINTS["B"][3]), "王芳", source, True),
        ids["E"]: ("neighbor_dispute", "noise", sha256(COMPLAINTS["E"][3]), "王芳", source, True),
    }


def test_the_label_is_the_category_everywhere_after_the_next_incremental_build(labelled):
    ids = labelled["ids"]
    with psycopg.connect(labelled["url"]) as conn:
        facts = {r[0]: r[1:] for r in conn.execute(
            "select complaint_id, category_code, category_source, model_category_code, category_needs_review, "
            "category_reviewed_by, category_reviewed_at is not null, suggested_handling_unit "
            "from marts.fct_complaints")}
        grades = dict(conn.execute("select complaint_id, category_code || '/' || category_source "
                                   "from marts.mart_complaint_grades"))
        unit = dict(conn.execute("select category_code, handling_unit from marts.dim_issue_category"))
        after = _per_category(conn)
    assert facts[ids["A"]] == ("waterlogging", "human", "drainage", False, "王芳", True, unit["waterlogging"])
    assert facts[ids["B"]][:4] == ("waterlogging", "human", "waterlogging", False)
    assert facts[ids["E"]][:4] == ("neighbor_dispute", "human", "noise", False)
    assert facts[ids["C"]][:5] == ("road_facilities", "model", "road_facilities", True, None)
    assert facts[ids["D"]][:5] == ("noise", "model", "noise", False, None)
    assert grades == {ids["A"]: "waterlogging/human", ids["B"]: "waterlogging/human", ids["C"]: "road_facilities/model",
                      ids["D"]: "noise/model", ids["E"]: "neighbor_dispute/human"}

    # each per-category mart moved A from drainage to waterlogging and E from noise to neighbor_dispute
    for name, figures in labelled["before"].items():
        expected = dict(figures)
        for old, new in (("drainage", "waterlogging"), ("noise", "neighbor_dispute")):
            expected[old] -= 1
            expected[new] = expected.get(new, 0) + 1
        assert after[name] == {code: n for code, n in expected.items() if n}, name


def test_a_labelled_complaint_leaves_the_review_mart(labelled):
    with psycopg.connect(labelled["url"]) as conn:
        listed = [r[0] for r in conn.execute("select complaint_id from marts.mart_classification_review")]
    assert listed == [labelled["ids"]["C"]]


def test_importing_the_same_labels_again_stores_nothing(labelled, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WAREHOUSE_URL", labelled["url"])
    # the same labels, this time saved as UTF-8 without a BOM (WPS, Excel's "CSV UTF-8" elsewhere)
    text = labelled["file"].read_bytes().decode("gb18030")
    again = tmp_path / "again.csv"
    again.write_bytes(text.encode("utf-8"))
    before = _review_count(labelled["url"])
    assert cli.main(["review", "import", str(again), "--by", "李强"]) == 0
    out = capsys.readouterr().out
    assert "0 applied" in out and "1 skipped" in out and "3 unchanged" in out, out
    assert _review_count(labelled["url"]) == before


def test_labelled_texts_are_the_newest_label_of_each_text_read_from_raw(labelled):
    ids = labelled["ids"]
    with psycopg.connect(labelled["url"]) as conn:
        assert sorted(review.labelled_texts(conn)) == sorted([
            ("waterlogging", COMPLAINTS["A"][3]), ("waterlogging", COMPLAINTS["B"][3]),
            ("neighbor_dispute", COMPLAINTS["E"][3])])
        # a later label of the same text wins (rolled back: the other tests' state stays)
        conn.execute("insert into ops.classification_reviews (complaint_id, text_sha256, category_code, reviewed_by) "
                     "values (%s, %s, 'drainage', 'test')", (ids["A"], sha256(COMPLAINTS["A"][3])))
        assert ("drainage", COMPLAINTS["A"][3]) in review.labelled_texts(conn)
        assert ("waterlogging", COMPLAINTS["A"][3]) not in review.labelled_texts(conn)
        conn.rollback()
