"""The 望园社区 burst pipe: a hand-made landing of reports of one problem and its near-misses (issue 19),
shared by the link stage's tests (tests/integration/test_linking.py) and the briefing's (tests/e2e/
test_briefing.py). Beijing time, 望园社区 × 排水管道 (drainage), the categories pinned as the classifier would
store them:

  R1  07-10        a patrol (巡查) finds a burst pipe in 3号楼's stairwell               reception
  H1  07-10 09:05  a resident (phone X) calls about it                                12345, still open
  H2  07-10 11:30  another resident (phone Y) calls about it                           12345, closed
  N1  07-10 14:00  3号楼's sewer smells — the same building and category, another problem  12345
  O1  07-10 15:00  the burst pipe's words at 5号楼: another building, another problem      12345
  H3  07-11 08:00  phone X again: nothing happened                                      12345
  M1  07-10 10:00  8号楼's septic tank overflows                                        12345
  M2  07-10 16:00  8号楼's septic tank, other words (too unlike M1 to link)               12345
  M3  07-11 09:00  8号楼's septic tank in both reports' words: merges M2's problem into M1's
  B0  07-09 20:00  a backfilled report of 3号楼's burst pipe (its file comes last)         12345
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import psycopg
import pytest

from ingestion.loader import ingest
from minqing import pipeline
from minqing.transform import build

from conftest import HOTLINE_HEADER, new_database, store_classifications, write_csv

AS_OF_10, AS_OF_11 = "2026-07-10T24:00:00+08:00", "2026-07-11T24:00:00+08:00"
WY = "望园社区"
PHONES = {"X": "13800001111", "Y": "13800002222", "Z": "13800003333", "W": "13800004444", "V": "13800005555"}

TEXTS = {
    "R1": "3号楼楼道水管爆裂漏水 水流了一地",
    "H1": "望园社区3号楼楼道的水管爆裂了，水流了一地，没人管",
    "H2": "3号楼楼道水管爆裂漏水，楼梯上全是水",
    "N1": "3号楼下水道返味，臭气熏天",
    "O1": "5号楼楼道水管爆裂漏水，水流了一地",
    "H3": "3号楼楼道水管爆裂漏水还没修，水流了一地，第二次反映",
    "M1": "8号楼化粪池满溢，污水横流",
    "M2": "8号楼化粪池冒了，臭味熏人",
    "M3": "8号楼化粪池满溢，化粪池冒了，污水横流，臭味熏人",
    "B0": "3号楼楼道水管爆裂，水流了一地",
}


def _order(order_id: str, key: str, received: str, address: str, phone: str, closed: str | None = None) -> dict:
    row = {"工单编号": order_id, "来源": "12345", "来电时间": received, "诉求人": "王芳", "联系电话": PHONES[phone],
           "诉求类型": "投诉", "诉求内容": TEXTS[key], "诉求地址": f"丰台区六里桥街道{WY}{address}",
           "所属街道": "六里桥街道", "所属社区": WY, "问题分类": "", "承办单位": "六里桥街道",
           "派单时间": received, "办理状态": "已派单", "更新时间": received}
    if closed:
        row.update({"办结时间": closed, "办理状态": "已办结", "更新时间": closed})
    return row


def write_day_10(landing: Path) -> None:
    write_csv(landing / "hotline/12345_20260710.csv", HOTLINE_HEADER, [
        _order("GD2026071000001", "H1", "2026-07-10 09:05:00", "3号楼2单元", "X"),
        _order("GD2026071000002", "H2", "2026-07-10 11:30:00", "3号楼", "Y", closed="2026-07-10 18:00:00"),
        _order("GD2026071000003", "N1", "2026-07-10 14:00:00", "3号楼", "Z"),
        _order("GD2026071000004", "O1", "2026-07-10 15:00:00", "5号楼", "W"),
        _order("GD2026071000005", "M1", "2026-07-10 10:00:00", "8号楼", "V"),
        _order("GD2026071000006", "M2", "2026-07-10 16:00:00", "8号楼", "Z"),
    ])
    (landing / "reception").mkdir(parents=True, exist_ok=True)
    (landing / "reception/reception_望园社区_202607.csv").write_text(
        "望园社区民意接待日登记表（2026年7月）,,,,,,,,,,,\n"
        "序号,日期,方式,接待人员,居民姓名,联系方式,住址,反映问题,问题类别,处理情况,是否办结,备注\n"
        f"1,2026-07-10,巡查,何敏,,,望园社区3号楼,{TEXTS['R1']},排水,已上报,否,\n", encoding="utf-8")


def write_day_11(landing: Path) -> None:
    write_csv(landing / "hotline/12345_20260711.csv", HOTLINE_HEADER, [
        _order("GD2026071100001", "H3", "2026-07-11 08:00:00", "3号楼2单元", "X"),
        _order("GD2026071100002", "M3", "2026-07-11 09:00:00", "8号楼", "Y"),
    ])


def write_backfill(landing: Path) -> None:
    write_csv(landing / "hotline/12345_20260709.csv", HOTLINE_HEADER, [
        _order("GD2026070900001", "B0", "2026-07-09 20:00:00", "3号楼", "Y"),
    ])


def run_day(url: str, landing: Path, as_of: str) -> dict:
    """What a daily run does around the link stage: ingest, the first dbt part, link, the second part."""
    reports = ingest(landing, progress=False)
    assert all(r.rows_quarantined == 0 for r in reports), [r.as_json() for r in reports]
    outcome = build(as_of=as_of, selector=pipeline.BEFORE_FORECAST)
    assert outcome.success, outcome.failures
    linked = pipeline.link()
    outcome = build(as_of=as_of, selector=pipeline.AFTER_FORECAST)
    assert outcome.success, outcome.failures
    return linked


ORDER_KEYS = {"GD2026071000001": "H1", "GD2026071000002": "H2", "GD2026071000003": "N1", "GD2026071000004": "O1",
              "GD2026071000005": "M1", "GD2026071000006": "M2", "GD2026071100001": "H3", "GD2026071100002": "M3",
              "GD2026070900001": "B0"}


def problems_of(conn) -> dict[str, str]:
    """The scenario's key (R1 for the one reception entry, else the work order's) -> problem_id."""
    rows = conn.execute("""select c.source_channel, c.source_record_id, r.problem_id from marts.fct_problem_reports r
                           join marts.fct_complaints c using (complaint_id)""").fetchall()
    return {"R1" if channel == "reception" else ORDER_KEYS[record]: problem for channel, record, problem in rows}


@contextlib.contextmanager
def scenario_database(server_url: str):
    """A new migrated database (WAREHOUSE_URL pointing at it) with the scenario's categories stored, as the
    classifier would store them; yields its URL."""
    with pytest.MonkeyPatch.context() as patch, new_database(server_url, patch) as url:
        patch.setenv("MINQING_HASH_KEY", "test-key-not-secret")
        with psycopg.connect(url, autocommit=True) as conn:
            store_classifications(conn, [(text, "drainage") for text in TEXTS.values()])
        yield url
