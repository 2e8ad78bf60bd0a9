"""Property mini-program tickets: `miniprogram/*.jsonl`, one ticket version per line.

Times are ISO 8601 with offset or epoch milliseconds; location, images, user, events and rating
may be missing or null; new fields may appear (kept in `extra`); the last line may be cut off.
Bill payments and renovation applications come through the same feed: they are loaded and
counted, marked as not a resident demand.
"""

from __future__ import annotations

import json

from ingestion import pii
from ingestion.common import FileError, ReadResult, Rejected, RowError, clean, decode, parse_datetime

RESIDENT_DEMAND_TYPES = {"repair", "complaint"}
KNOWN_FIELDS = {
    "ticket_id", "type", "submitted_at", "updated_at", "community", "project_code", "location",
    "title", "content", "images", "user", "status", "events", "rating", "rating_comment",
}
MAX_DEPTH = 64


def _depth(value, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level


def _object(value, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise RowError(f"`{name}` should be an object, got {type(value).__name__}")
    return value


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return clean(value)


def _events(value) -> list[dict] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise RowError("`events` should be a list")
    events = []
    for position, event in enumerate(value, start=1):
        if not isinstance(event, dict):
            raise RowError(f"event {position} is not an object")
        at = parse_datetime(event.get("at"), field_name=f"events[{position}].at")
        events.append({**event, "at": at.isoformat() if at else None})
    return events


def _record(ticket: dict) -> dict:
    ticket_id = _text(ticket.get("ticket_id"))
    if not ticket_id:
        raise RowError("ticket_id is missing: a ticket cannot be placed without its id")
    submitted_at = parse_datetime(ticket.get("submitted_at"), field_name="submitted_at")
    if submitted_at is None:
        raise RowError("submitted_at is missing")
    updated_at = parse_datetime(ticket.get("updated_at"), field_name="updated_at") or submitted_at
    location = _object(ticket.get("location"), "location")
    user = _object(ticket.get("user"), "user")
    images = ticket.get("images")
    if images is not None and not isinstance(images, list):
        raise RowError("`images` should be a list")
    ticket_type = _text(ticket.get("type"))
    phone, openid, nickname = _text(user.get("phone")), _text(user.get("openid")), _text(user.get("nickname"))
    key = pii.phone_key(phone) or (pii.keyed_hash("openid", openid) if openid else None)
    extra = {k: v for k, v in ticket.items() if k not in KNOWN_FIELDS}
    return {
        "ticket_id": ticket_id,
        "ticket_type": ticket_type,
        "is_resident_demand": ticket_type in RESIDENT_DEMAND_TYPES,
        "submitted_at": submitted_at,
        "updated_at": updated_at,
        "community": _text(ticket.get("community")),
        "project_code": _text(ticket.get("project_code")),
        "building": _text(location.get("building")),
        "unit": _text(location.get("unit")),
        "room": _text(location.get("room")),
        "title": _text(ticket.get("title")),
        "content": _text(ticket.get("content")),
        "images": images,
        "user_openid": openid,
        "user_nickname": nickname,
        "user_phone": phone,
        "user_key": key,
        "user_nickname_masked": pii.mask_name(nickname),
        "user_phone_masked": pii.mask_phone(phone),
        "status": _text(ticket.get("status")),
        "events": _events(ticket.get("events")),
        "rating": _text(ticket.get("rating")),
        "rating_comment": _text(ticket.get("rating_comment")),
        "extra": extra or None,
    }


def read(data: bytes, name: str) -> ReadResult:
    if not data.strip():
        raise FileError("the file is empty: no ticket lines")
    text, encoding = decode(data)
    result = ReadResult(detail={"encoding": encoding})
    lines = text.split("\n")
    last = len(lines)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        ticket = None
        try:
            try:
                ticket = json.loads(line)
            except (ValueError, RecursionError) as exc:  # ValueError: also an integer of > 4300 digits
                cut = number == last and not text.endswith("\n")
                raise RowError(
                    "the last line is cut off (the pull broke off); it will come again in the next pull"
                    if cut else f"the line is not valid JSON ({exc})"
                ) from None
            if not isinstance(ticket, dict):
                raise RowError(f"the line is JSON but not a ticket object ({type(ticket).__name__})")
            if _depth(ticket) > MAX_DEPTH:
                raise RowError(f"the ticket nests deeper than {MAX_DEPTH} levels")
            if "\ufffd" in line:
                raise RowError(f"the line holds bytes that are not valid {encoding}")
            record = _record(ticket)
        except RowError as exc:
            ticket_id = _text(ticket.get("ticket_id")) if isinstance(ticket, dict) else None
            result.rejected.append(Rejected(number, line, str(exc), source_record_id=ticket_id))
            continue
        record["row_number"] = number
        result.records.append(record)
    return result
