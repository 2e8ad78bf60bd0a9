"""Integration: a district's reference folder (MINQING_REFERENCE_DIR, issue 23), through `minqing run` in its
own process on a real warehouse: a street added in the folder is loaded, its 所属街道 accepted and its
complaints placed; a broken folder stops the run before anything is loaded, naming what is wrong.

The folder starts as the package's (`minqing reference init`) and gains 晓月街道 (names invented) and one
community, as a district's data team would edit it.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from conftest import HOTLINE_HEADER, migrated_database, write_csv

DAY = "2026-07-31"


def _append(path: Path, row: dict) -> None:
    with open(path, encoding="utf-8", newline="") as fh:
        header = next(csv.reader(fh))
    with open(path, "a", encoding="utf-8", newline="") as fh:
        csv.DictWriter(fh, header).writerow(row)


def _order(number: int, street: str, community: str) -> dict:
    return {"工单编号": f"GD2026073100{number:03d}", "来源": "12345", "来电时间": f"{DAY} 09:00:00", "诉求人": "李明",
            "联系电话": f"139000{number:05d}", "诉求类型": "投诉", "诉求内容": "小区垃圾没人清运，堆了好几天",
            "诉求地址": f"丰台区{street}{community}1号楼", "所属街道": street, "所属社区": community,
            "承办单位": "街道办事处", "派单时间": f"{DAY} 09:10:00", "办理状态": "办理中", "更新时间": f"{DAY} 10:00:00"}


def _minqing(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).with_name("minqing")), *args], env=env, capture_output=True,
                          text=True, timeout=900)


@pytest.fixture(scope="module")
def district(server_url, tmp_path_factory):
    work = tmp_path_factory.mktemp("district")
    folder = work / "reference"
    with migrated_database(server_url, prefix="minqing_reference") as url:
        env = {**os.environ, "WAREHOUSE_URL": url, "MINQING_HOME": str(work / "home"),
               "MINQING_REFERENCE_DIR": str(folder)}
        init = _minqing(env, "reference", "init", str(folder))
        assert init.returncode == 0, init.stderr
        _append(folder / "streets.csv", {"street_id": "xiaoyue", "street_name": "晓月街道", "district_name": "丰台区",
                                         "names_invented": "true", "notes": "test: names invented"})
        _append(folder / "street_aliases.csv", {"street_id": "xiaoyue", "alias": "晓月街道"})
        _append(folder / "communities.csv", {"community_id": "xiaoyue_yi", "street_id": "xiaoyue",
                                             "community_name": "晓月一社区", "community_type": "older_estate",
                                             "property_management": "weak", "on_miniprogram": "false"})
        _append(folder / "community_aliases.csv", {"alias": "晓月一社区", "community_id": "xiaoyue_yi"})
        landing = work / "landing"
        write_csv(landing / "hotline" / "hotline_20260731.csv", HOTLINE_HEADER,
                  [_order(1, "六里桥街道", "望园社区"), _order(2, "晓月街道", "晓月一社区")])
        yield {"url": url, "env": env, "folder": folder, "landing": landing,
               "run": _minqing(env, "run", "--landing", str(landing), "--date", DAY)}


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_a_street_added_in_the_reference_folder_is_served(district):
    run, url = district["run"], district["url"]
    assert run.returncode == 0, (run.stderr[-3000:], _rows(url, "select reason from raw.quarantine"))
    assert _rows(url, "select count(*) from raw.quarantine") == [(0,)]  # 晓月街道 is one of the folder's spellings
    assert dict(_rows(url, "select street_id, count(*) from marts.fct_complaints group by 1")) == {
        "liuliqiao": 1, "xiaoyue": 1}
    assert ("xiaoyue", "晓月街道") in _rows(url, "select street_id, street_name from marts.dim_street")
    assert _rows(url, "select community_id from marts.dim_community where street_id = 'xiaoyue'") == [("xiaoyue_yi",)]


def test_a_broken_reference_folder_stops_the_run_before_loading_anything(district, tmp_path):
    assert district["run"].returncode == 0
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in district["folder"].glob("*.csv"):
        (broken / path.name).write_bytes(path.read_bytes())
    _append(broken / "communities.csv", {"community_id": "nowhere_yi", "street_id": "nowhere",
                                         "community_name": "无名社区", "community_type": "older_estate",
                                         "property_management": "weak", "on_miniprogram": "false"})
    write_csv(district["landing"] / "hotline" / "hotline_20260801.csv", HOTLINE_HEADER,
              [{**_order(3, "六里桥街道", "望园社区"), "来电时间": "2026-08-01 09:00:00"}])
    files_before = _rows(district["url"], "select count(*) from ops.ingested_files")
    run = _minqing({**district["env"], "MINQING_REFERENCE_DIR": str(broken)},
                   "run", "--landing", str(district["landing"]), "--date", "2026-08-01")
    assert run.returncode != 0
    assert "communities.csv: street_id names no row of streets.csv: nowhere" in run.stderr
    assert _rows(district["url"], "select count(*) from ops.ingested_files") == files_before
    check = _minqing({**district["env"], "MINQING_REFERENCE_DIR": str(broken)}, "reference", "check")
    assert check.returncode == 1 and "nowhere" in check.stderr
