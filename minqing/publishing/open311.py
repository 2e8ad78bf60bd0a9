"""Open311 GeoReport v2 (issue 21): the street's service requests in the open standard civic tools read.

The records are marts.rpt_open311_requests and marts.rpt_open311_services (dbt, README: Open311), read
through the role open311_reader (migration 0020) and shaped here for both the HTTP API
(minqing/publishing/open311_api.py, `minqing serve`) and the bulk export (`minqing export open311`):

- `RequestQuery.parse` checks the standard's filters and says what is wrong with a 400 (`Open311Error`);
- `requests`, `services` and `discovery` read and shape the records;
- `to_xml` writes any of them as the standard's XML, `errors_body` the standard's error list.

Settings (settings.yml `open311`): the longest date range (90 days), the largest page (1,000), the
jurisdiction and the contact the discovery document names.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from minqing import config

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
ROLE = "open311_reader"
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address")
EXTENSION_FIELDS = ("source", "status_description", "problem_id")  # the GeoReport bulk draft's, where they fit
FIELDS = REQUEST_FIELDS + EXTENSION_FIELDS
TIMES = ("requested_datetime", "updated_datetime", "expected_datetime")
SERVICE_FIELDS = ("service_code", "service_name", "description", "metadata", "type", "keywords", "group")
STATUSES = ("open", "closed")


def settings() -> dict:
    return config.settings()["open311"]


class Open311Error(Exception):
    """A request the API cannot answer: its HTTP status and a description a client's developer can act on."""

    def __init__(self, status: int, description: str):
        super().__init__(description)
        self.status, self.description = status, description


def _bad(description: str) -> Open311Error:
    return Open311Error(400, description)


def parse_time(name: str, value: str, end: bool = False) -> dt.datetime:
    """A W3C / ISO 8601 datetime (2026-07-15T08:00:00+08:00, …Z) or a date (2026-07-15: its start, or with
    `end` its end — an end_date of a day takes the day in); without an offset, Beijing time."""
    text = value.strip()
    try:
        if len(text) == 10:
            moment = dt.datetime.combine(dt.date.fromisoformat(text) + dt.timedelta(days=int(end)), dt.time())
        else:
            moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise _bad(f"{name}={value!r} is not a W3C datetime (e.g. 2026-07-15T08:00:00+08:00) or a date "
                   "(2026-07-15)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=config.BEIJING)


def _list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _positive(name: str, value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _bad(f"{name}={value!r} is not a whole number") from None
    if number < 1:
        raise _bad(f"{name} must be 1 or more, not {number}")
    return number


@dataclass
class RequestQuery:
    """GET /requests' filters, checked: service_request_id (several, comma-separated: the others are then
    ignored), service_code (several), start_date / end_date on requested_datetime (at most `max_days` apart;
    one alone reaches `max_days` from it; neither: the `max_days` up to the newest request on record),
    status (open, closed), page and page_size (the common extension, at most `max_page_size`)."""

    ids: list[str] = field(default_factory=list)
    service_codes: list[str] = field(default_factory=list)
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: list[str] = field(default_factory=list)
    page: int = 1
    page_size: int | None = 1000  # None: every request (the bulk export)

    @classmethod
    def parse(cls, params: dict[str, str], known_codes: set[str]) -> RequestQuery:
        cfg = settings()
        max_days, max_size = int(cfg["max_days"]), int(cfg["max_page_size"])
        query = cls(page=_positive("page", params.get("page"), 1),
                    page_size=_positive("page_size", params.get("page_size"), max_size))
        if query.page_size > max_size:
            raise _bad(f"page_size={query.page_size} is over the limit of {max_size}")
        query.ids = _list(params.get("service_request_id"))
        if query.ids:
            return query  # the standard: the ids override every other filter
        query.service_codes = _list(params.get("service_code"))
        unknown = [c for c in query.service_codes if c not in known_codes]
        if unknown:
            raise _bad(f"unknown service_code {', '.join(unknown)}: GET /services lists the {len(known_codes)} codes")
        query.statuses = _list(params.get("status"))
        wrong = [s for s in query.statuses if s not in STATUSES]
        if wrong:
            raise _bad(f"status={','.join(wrong)}: a status is open or closed")
        start = parse_time("start_date", params["start_date"]) if params.get("start_date") else None
        end = parse_time("end_date", params["end_date"], end=True) if params.get("end_date") else None
        span = dt.timedelta(days=max_days)
        if start and end:
            if end < start:
                raise _bad(f"end_date {params['end_date']} is before start_date {params['start_date']}")
            if end - start > span:
                raise _bad(f"start_date to end_date spans {(end - start).days} days: at most {max_days}")
        query.start = start or (end - span if end else None)
        query.end = end or (start + span if start else None)
        return query


def _iso(value) -> str | None:
    """ISO 8601 with the Beijing offset (+08:00), to the second."""
    if value is None:
        return None
    return value.astimezone(config.BEIJING).replace(microsecond=0).isoformat()


def _request(row: dict) -> dict:
    record = {name: row.get(name) for name in FIELDS}
    for name in TIMES:
        record[name] = _iso(record[name])
    return record


REQUESTS_SQL = """
    select service_request_id, status, status_notes, service_name, service_code, description, agency_responsible,
           null::text as service_notice, requested_datetime, updated_datetime, expected_datetime, address,
           source, status_description, problem_id
    from marts.rpt_open311_requests
    where {where}
    order by requested_datetime desc, service_request_id
    limit %(limit)s offset %(offset)s
"""


def _where(query: RequestQuery, conn) -> tuple[str, dict]:
    if query.ids:
        return "service_request_id = any(%(ids)s)", {"ids": query.ids}
    clauses, params = [], {}
    start, end = query.start, query.end
    if start is None:  # the default: the max_days up to the newest request on record
        newest = conn.execute("select max(requested_datetime) from marts.rpt_open311_requests").fetchone()[0]
        if newest is None:
            return "false", {}
        end = newest + dt.timedelta(microseconds=1)
        start = end - dt.timedelta(days=int(settings()["max_days"]))
    clauses.append("requested_datetime >= %(start)s and requested_datetime < %(end)s")
    params.update(start=start, end=end)
    if query.service_codes:
        clauses.append("service_code = any(%(codes)s)")
        params["codes"] = query.service_codes
    if query.statuses:
        clauses.append("status = any(%(statuses)s)")
        params["statuses"] = query.statuses
    return " and ".join(clauses), params


def requests(conn, query: RequestQuery) -> list[dict]:
    where, params = _where(query, conn)
    cur = conn.execute(REQUESTS_SQL.format(where=where),
                       {**params, "limit": query.page_size, "offset": (query.page - 1) * (query.page_size or 0)})
    names = [d.name for d in cur.description]
    return [_request(dict(zip(names, row))) for row in cur.fetchall()]


def request_by_id(conn, service_request_id: str) -> dict:
    found = requests(conn, RequestQuery(ids=[service_request_id], page_size=1))
    if not found:
        raise Open311Error(404, f"no service request {service_request_id}")
    return found[0]


def services(conn) -> list[dict]:
    cur = conn.execute('select service_code, service_name, description, metadata, type, keywords, "group" '
                       "from marts.rpt_open311_services order by service_code")
    return [dict(zip(SERVICE_FIELDS, row)) for row in cur.fetchall()]


def service_codes(conn) -> set[str]:
    return {row[0] for row in conn.execute("select service_code from marts.rpt_open311_services").fetchall()}


def discovery(conn, base_url: str) -> dict:
    """The service discovery document: the changeset is the newest update of any request served."""
    cfg = settings()
    changed = conn.execute("select max(updated_datetime) from marts.rpt_open311_requests").fetchone()[0]
    changeset = _iso(changed) or _iso(dt.datetime.now(config.BEIJING))
    return {
        "changeset": changeset,
        "contact": cfg["contact"],
        "key_service": cfg["key_service"],
        "endpoints": [{"specification": SPECIFICATION, "url": base_url.rstrip("/"), "changeset": changeset,
                       "type": "production", "formats": ["application/json", "text/xml"]}],
    }


# --- XML and errors -----------------------------------------------------------------------------------

def _text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _element(tag: str, value) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, item in value.items():
            element.append(_element(key, item))
    elif isinstance(value, list):
        child = tag[:-1] if tag.endswith("s") else "item"  # endpoints/endpoint, formats/format
        for item in value:
            element.append(_element(child, item))
    else:
        element.text = _text(value)
    return element


def to_xml(root: str, item: str | None, payload) -> bytes:
    """The standard's XML: `root` holding one `item` element per record (service_requests/request,
    services/service, errors/error), or `root` itself for a single document (discovery)."""
    if item is None:
        element = _element(root, payload)
    else:
        element = ET.Element(root)
        for record in payload:
            element.append(_element(item, record))
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def errors_body(status: int, description: str) -> list[dict]:
    return [{"code": status, "description": description}]


# --- the bulk export ------------------------------------------------------------------------------------

def as_reader(conn) -> None:
    """Make a connection the API's: the role open311_reader, read-only (the role's own settings hold for a
    login as it, not for `set role`)."""
    conn.autocommit = True
    conn.execute(f"set role {ROLE}")
    conn.execute("set default_transaction_read_only = on")
    conn.execute("set statement_timeout = '30s'")


def reader_connection(url: str | None = None):
    """A connection to the warehouse as the API reads it."""
    import psycopg

    from minqing import warehouse

    conn = psycopg.connect(url or warehouse.url())
    as_reader(conn)
    return conn


def export(path, start: dt.date, end: dt.date, url: str | None = None) -> int:
    """Every request received from `start` to `end` (Beijing days, both included) into `path`: .json (a list
    of requests, as GET /requests.json gives them) or .csv (RFC 4180, UTF-8, a header of the field names, CRLF
    line ends; for machines, cells as served). Any range: the API's limit of max_days is for one answer.
    Returns the requests written."""
    import csv
    import json
    from pathlib import Path

    path = Path(path)
    if path.suffix not in (".json", ".csv"):
        raise ValueError(f"{path}: the export is a .json or a .csv file")
    if end < start:
        raise ValueError(f"--end {end} is before --start {start}")
    query = RequestQuery(start=dt.datetime.combine(start, dt.time(), config.BEIJING),
                         end=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), config.BEIJING),
                         page_size=None)
    with reader_connection(url) as conn:
        records = requests(conn, query)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".json":
        path.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(FIELDS), lineterminator="\r\n")
            writer.writeheader()
            writer.writerows(records)
    return len(records)
