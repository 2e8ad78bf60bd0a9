"""Open311 GeoReport v2 (issue 21): `minqing serve` started for real on a generated month (loopback only),
every answer checked against the standard's JSON schemas (tests/fixtures/open311, copied from
../shared/schemas/open311), its XML against its JSON, its counts against fct_complaints, and every byte of
it scanned for the personal data of the raw tables."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import jsonschema
import psycopg
import pytest
from referencing import Registry, Resource

from minqing.airflow_stack import free_port
from minqing.devtools.generate import generate
from minqing.pipeline import run
from minqing.publishing import open311

from conftest import migrated_database

pytestmark = pytest.mark.slow

SCHEMAS = Path(__file__).resolve().parent.parent / "fixtures" / "open311"
START, DAYS = dt.date(2026, 7, 1), 12
LAST = START + dt.timedelta(days=DAYS - 1)


def _validator(name: str) -> jsonschema.Draft4Validator:
    """The standard's schema `name`, its relative $refs (request.json, service.json) resolved among the others."""
    from referencing.jsonschema import DRAFT4

    registry = Registry().with_resources(
        (path.name, Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), default_specification=DRAFT4))
        for path in SCHEMAS.glob("*.json"))
    return jsonschema.Draft4Validator(json.loads((SCHEMAS / name).read_text(encoding="utf-8")), registry=registry)


@pytest.fixture(scope="module")
def served(tmp_path_factory, server_url):
    """A generated fortnight through `minqing run`, then `minqing serve` on a free loopback port."""
    landing = tmp_path_factory.mktemp("open311") / "landing"
    generate(landing, days=DAYS, seed=5, per_day=30, start=START)
    with migrated_database(server_url) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_URL", url)
        run(landing, day=LAST)
        port = free_port()
        log = tmp_path_factory.mktemp("open311_log") / "serve.log"
        with open(log, "wb") as out:
            server = subprocess.Popen([sys.executable, "-m", "minqing.cli", "serve", "--port", str(port)],
                                      env={**os.environ, "WAREHOUSE_URL": url}, stdout=out, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"minqing serve did not start: {log.read_text(errors='replace')[-3000:]}")
                time.sleep(0.3)
            yield {"url": url, "base": base, "client": httpx.Client(base_url=base, timeout=30)}
        finally:
            server.terminate()
            server.wait(timeout=30)


def _all_requests(client: httpx.Client, **params) -> list[dict]:
    out, page = [], 1
    while True:
        answer = client.get("/requests.json", params={**params, "page": page, "page_size": 200})
        assert answer.status_code == 200, answer.text
        batch = answer.json()
        out += batch
        if len(batch) < 200:
            return out
        page += 1


def test_every_endpoint_validates_against_the_standard_and_xml_says_what_json_says(served):
    client = served["client"]
    services = client.get("/services.json").json()
    _validator("services.json").validate(services)
    assert len(services) == 15 and {s["type"] for s in services} == {"batch"}
    assert {s["service_code"]: s["service_name"] for s in services}["housing_leak"] == "房屋渗漏"
    assert all(s["metadata"] is False and s["keywords"] and s["group"] for s in services)

    requests = client.get("/requests.json").json()  # the default: the 90 days up to the newest request
    _validator("requests.json").validate(requests)
    assert 0 < len(requests) <= 1000
    for record in requests:
        assert re.fullmatch(r"LLQ-[0-9A-F]{16}", record["service_request_id"])
        for name in open311.TIMES:
            assert record[name] is None or record[name].endswith("+08:00"), record[name]
        assert record["source"] in ("hotline_12345", "hotline_400", "miniprogram", "reception")
    one = requests[0]["service_request_id"]
    single = client.get(f"/requests/{one}.json").json()
    _validator("requests.json").validate(single)
    assert single == [requests[0]]

    discovery = client.get("/discovery.json").json()
    assert discovery["endpoints"][0]["specification"] == open311.SPECIFICATION
    assert discovery["endpoints"][0]["url"] == served["base"]
    assert discovery["endpoints"][0]["formats"] == ["application/json", "text/xml"]
    assert discovery["changeset"].endswith("+08:00") and discovery["contact"]

    xml = ET.fromstring(client.get("/requests.xml").content)
    assert xml.tag == "service_requests"
    from_xml = [{child.tag: child.text for child in request} for request in xml]
    assert [r["service_request_id"] for r in from_xml] == [r["service_request_id"] for r in requests]
    for as_xml, as_json in zip(from_xml, requests):
        assert {k: v or None for k, v in as_xml.items()} == {k: (v if v is None else str(v)) or None
                                                            for k, v in as_json.items()}
    services_xml = ET.fromstring(client.get("/services.xml").content)
    assert [s.findtext("service_code") for s in services_xml] == [s["service_code"] for s in services]
    assert ET.fromstring(client.get("/discovery.xml").content).findtext("endpoints/endpoint/formats/format") == "application/json"


def test_counts_and_filters_agree_with_fct_complaints(served):
    client, url = served["client"], served["url"]
    start, end = "2026-07-03", "2026-07-09T23:59:59+08:00"
    every = _all_requests(client, start_date=start, end_date=end)
    with psycopg.connect(url) as conn:
        expected = conn.execute("select count(*) from marts.fct_complaints where received_at >= '2026-07-03 00:00+08' "
                                "and received_at <= '2026-07-09 23:59:59+08'").fetchone()[0]
        by_code = dict(conn.execute("select category_code, count(*) from marts.fct_complaints "
                                    "where received_at >= '2026-07-03 00:00+08' and received_at <= '2026-07-09 23:59:59+08' "
                                    "group by 1").fetchall())
        total = conn.execute("select count(*) from marts.fct_complaints").fetchone()[0]
    assert len(every) == expected > 0 and len({r["service_request_id"] for r in every}) == expected
    assert _all_requests(client, start_date="2026-07-03", end_date="2026-07-09") == every  # a day as end_date: taken in
    code = max(by_code, key=by_code.get)
    assert len(_all_requests(client, start_date=start, end_date=end, service_code=code)) == by_code[code]
    opened = _all_requests(client, start_date=start, end_date=end, status="open")
    closed = _all_requests(client, start_date=start, end_date=end, status="closed")
    assert len(opened) + len(closed) == expected and {r["status"] for r in opened} <= {"open"}
    # the whole fortnight through pages of 7, in order, none twice
    pages = [client.get("/requests.json", params={"start_date": "2026-06-30", "page": p, "page_size": 7}).json()
             for p in range(1, total // 7 + 3)]
    seen = [r["service_request_id"] for page in pages for r in page]
    assert len(seen) == len(set(seen)) == total
    # several ids override every other filter
    ids = ",".join(r["service_request_id"] for r in every[:3])
    assert [r["service_request_id"] for r in client.get("/requests.json", params={
        "service_request_id": ids, "service_code": "nothing", "start_date": "bad"}).json()] == ids.split(",")


@pytest.mark.parametrize("params, says", [
    ({"start_date": "2026-01-01", "end_date": "2026-07-01"}, "spans 182 days: at most 90"),  # 1 July taken in
    ({"start_date": "2026-13-01"}, "start_date='2026-13-01' is not a W3C datetime"),
    ({"end_date": "2026-07-01", "start_date": "2026-07-05"}, "is before start_date"),
    ({"service_code": "potholes"}, "unknown service_code potholes"),
    ({"page_size": "5000"}, "page_size=5000 is over the limit of 1000"),
    ({"page": "0"}, "page must be 1 or more"),
    ({"status": "pending"}, "a status is open or closed"),
])
def test_a_bad_parameter_is_a_400_with_the_standards_error_list(served, params, says):
    client = served["client"]
    answer = client.get("/requests.json", params=params)
    assert answer.status_code == 400
    (error,) = answer.json()
    assert error["code"] == 400 and says in error["description"]
    as_xml = ET.fromstring(client.get("/requests.xml", params=params).content)
    assert as_xml.tag == "errors" and says in as_xml.findtext("error/description")


def test_unknown_ids_formats_and_paths_are_404s(served):
    client = served["client"]
    for path in ("/requests/LLQ-0000000000000000.json", "/requests.csv", "/nothing.json"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.json()[0]["code"] == 404, path


def test_no_phone_name_or_room_number_leaves_the_api(served):
    """Every request of the month, JSON and XML, scanned for the raw tables' clear phones and names, and each
    complaint's own room number."""
    client, url = served["client"], served["url"]
    every = _all_requests(client, start_date="2026-06-30")
    body = json.dumps(every, ensure_ascii=False) + client.get("/requests.xml", params={"start_date": "2026-06-30"}).text
    with psycopg.connect(url) as conn:
        phones = {re.sub(r"\D", "", p)[-11:] for (p,) in conn.execute(
            "select complainant_phone from raw.hotline_work_orders where complainant_phone is not null "
            "union select user_phone from raw.miniprogram_tickets where user_phone is not null "
            "union select resident_contact from raw.reception_entries where resident_contact is not null")}
        names = {n for (n,) in conn.execute(
            "select complainant_name from raw.hotline_work_orders union select user_nickname from raw.miniprogram_tickets "
            "union select resident_name from raw.reception_entries") if n and n != "匿名" and len(n) >= 2}
        rooms = conn.execute("""select o.service_request_id, substring(h.address from '单元\\s*([0-9]{3,4})')
                                  from raw.hotline_work_orders h
                                  join marts.fct_complaints f on f.source_record_id = h.work_order_id
                                  join marts.rpt_open311_requests o on o.complaint_id = f.complaint_id
                                 where h.address ~ '单元\\s*[0-9]{3,4}'""").fetchall()
    phones = {p for p in phones if len(p) >= 7 and "*" not in p}
    assert phones and names and rooms
    assert not [p for p in phones if p in body]
    assert not [n for n in names if n in body]
    by_id = {r["service_request_id"]: r for r in every}
    leaked = [(i, room) for i, room in rooms if i in by_id
              and re.search(rf"(?<![0-9]){room}(?![0-9])", (by_id[i]["description"] or "") + (by_id[i]["address"] or ""))]
    assert not leaked, leaked[:5]
    assert all("单元" not in (r["address"] or "") for r in every)


def test_the_apis_role_sees_the_open311_marts_only(served):
    with open311.reader_connection(served["url"]) as conn:
        assert conn.execute("select count(*) from marts.rpt_open311_requests").fetchone()[0] > 0
        for table in ("raw.hotline_work_orders", "marts.fct_complaints", "ops.open311_salt"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select 1 from {table} limit 1")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("create temp table x (a int)")


def test_export_writes_the_same_records_as_json_and_rfc4180_csv(served, tmp_path, monkeypatch):
    from minqing import cli

    monkeypatch.setenv("WAREHOUSE_URL", served["url"])
    assert cli.main(["export", "open311", "--start", "2026-07-03", "--end", "2026-07-09",
                     "--out", str(tmp_path / "requests.json")]) == 0
    assert cli.main(["export", "open311", "--start", "2026-07-03", "--end", "2026-07-09",
                     "--out", str(tmp_path / "requests.csv")]) == 0
    records = json.loads((tmp_path / "requests.json").read_text(encoding="utf-8"))
    _validator("requests.json").validate(records)
    assert records == _all_requests(served["client"], start_date="2026-07-03", end_date="2026-07-09T23:59:59.999999+08:00")
    raw = (tmp_path / "requests.csv").read_bytes()
    assert raw.startswith(b"service_request_id,") and b"\r\n" in raw
    with open(tmp_path / "requests.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["service_request_id"] for r in rows] == [r["service_request_id"] for r in records]
    assert rows[0]["description"] == (records[0]["description"] or "")
    with pytest.raises(ValueError, match="a .json or a .csv"):
        cli.main(["export", "open311", "--start", "2026-07-03", "--end", "2026-07-09", "--out", str(tmp_path / "x.txt")])


def test_curl_and_a_bounded_concurrent_loop(served):
    """A real HTTP client, and 200 pages of 100 requests, 8 at a time: no error (the median latency is printed,
    for the record; `minqing bench --open311` owns the figure)."""
    done = subprocess.run(["curl", "-sf", f"{served['base']}/discovery.json"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and json.loads(done.stdout)["endpoints"]

    import asyncio

    from minqing.devtools import open311_load

    figures = asyncio.run(open311_load.load(served["base"], 8, 200, 100, "2026-07-12T23:59:59+08:00"))
    assert figures["errors"] == 0 and figures["requests"] == 200
    print(f"200 pages of 100 requests, 8 at a time: median {figures['median_ms']} ms")
