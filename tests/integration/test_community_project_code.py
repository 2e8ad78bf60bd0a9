"""Integration: a mini-program ticket is placed in its community by its project code when its community
field names none (reference/community_project_codes.csv), through ingest and `dbt build` on a real warehouse.

Resolution order: an alias in the community field, then the project code, then an alias in the address
(the ticket's location). An unknown project code leaves the ticket unresolved.
"""

from __future__ import annotations

import csv
import json

import psycopg
import pytest

from ingestion.loader import ingest
from minqing import config
from minqing.devtools.generate import COMMUNITIES
from minqing.transform import build

AS_OF = "2026-07-16T12:00:00+08:00"

# ticket_id -> (community field, project code, building) and the community and method expected
SCENARIO = {
    "MP20260715000001": ((None, "PLYF-01", "3"), ("baoliyifeng", "project_code")),
    "MP20260715000002": ((None, "xjyy-01", "5"), ("xijuyuyuan", "project_code")),            # case ignored
    "MP20260715000003": ((None, "ZZZZ-99", "3"), ("unresolved", "unresolved")),              # unknown code
    "MP20260715000004": ((None, None, "3"), ("unresolved", "unresolved")),
    "MP20260715000005": (("西局玉园社区", "PLYF-01", "3"), ("xijuyuyuan", "community_field")),  # the name first
    "MP20260715000006": ((None, "PLYF-01", "望园社区3号楼"), ("baoliyifeng", "project_code")),  # code before address
    "MP20260715000007": ((None, "ZZZZ-99", "望园社区3号楼"), ("wangyuan", "address")),
}


def _ticket(ticket_id: str, community: str | None, project_code: str | None, building: str) -> dict:
    ticket = {"ticket_id": ticket_id, "type": "repair", "submitted_at": "2026-07-15T09:00:00+08:00",
              "updated_at": "2026-07-15T09:30:00+08:00", "project_code": project_code,
              "location": {"building": building, "unit": "1", "room": "101"},
              "title": "楼道灯不亮", "content": f"{ticket_id} 楼道灯坏了好几天", "status": "submitted",
              "events": [{"status": "submitted", "at": "2026-07-15T09:00:00+08:00"}]}
    if community is not None:
        ticket["community"] = community
    return ticket


@pytest.fixture()
def built(fresh_warehouse, tmp_path):
    landing = tmp_path / "landing"
    (landing / "miniprogram").mkdir(parents=True)
    lines = [json.dumps(_ticket(ticket_id, *fields), ensure_ascii=False) for ticket_id, (fields, _) in SCENARIO.items()]
    (landing / "miniprogram/tickets_20260715.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    reports = ingest(landing, progress=False)
    assert all(r.rows_quarantined == 0 and r.status == "loaded" for r in reports), [r.as_json() for r in reports]
    outcome = build(as_of=AS_OF)
    assert outcome.success, outcome.failures
    with psycopg.connect(fresh_warehouse) as conn:
        yield conn


def test_a_ticket_is_placed_by_its_project_code(built):
    rows = built.execute("select source_record_id, community_id, community_resolved_from from marts.fct_complaints "
                         "where source_channel = 'miniprogram'").fetchall()
    assert {ticket_id: (community, method) for ticket_id, community, method in rows} == \
        {ticket_id: expected for ticket_id, (_, expected) in SCENARIO.items()}


def test_the_seed_knows_every_project_code_the_generator_sends():
    with open(config.seed_path("communities"), encoding="utf-8", newline="") as fh:
        ids = {row["community_name"]: row["community_id"] for row in csv.DictReader(fh)}
    with open(config.seed_path("community_project_codes"), encoding="utf-8", newline="") as fh:
        seed = {row["project_code"]: row["community_id"] for row in csv.DictReader(fh)}
    assert seed == {c.project_code: ids[c.name] for c in COMMUNITIES if c.project_code}
