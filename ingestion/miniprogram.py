"""Property mini-program tickets: `miniprogram/*.jsonl`, one ticket version per line.

Times are ISO 8601 with offset or epoch milliseconds; location, images, user, events and rating
may be missing or null; new fields may appear (kept in `extra`); the last line may be cut off.
Bill payments and renovation applications come through the same feed: they are loaded and
counted, marked as not a resident demand.
"""

from __future__ import annotations

import json

from ingestion.common import Layout, ReadResult, Rejected, RowError, clean, parse_datetime, read_whole
from ingestion.contracts.miniprogram import CONTRACT, FIELDS, RESIDENT_DEMAND_TYPES, TIME_FORMS
from minqing import privacy

MAX_DEPTH = 64
_EPOCH_MILLIS_MIN = 1e11  # 1973-03-03 in milliseconds; a smaller number is not a time in this feed


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """json object_pairs_hook: a key given twice in one object is two values for one field."""
    ticket = dict(pairs)
    if len(ticket) < len(pairs):
        seen: set[str] = set()
        twice = sorted({k for k, _ in pairs if k in seen or seen.add(k)})
        raise _DuplicateKey(f"the line gives {', '.join(repr(k) for k in twice)} more than once in one object, "
                            "with no way to tell which value is meant")
    return ticket


def _time(value, field_name: str):
    """A time of the feed: a number is epoch milliseconds; text goes to the common parser."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if abs(value) < _EPOCH_MILLIS_MIN:
            hint = " (it looks like epoch seconds)" if 1e9 <= abs(value) < 1e10 else ""
            raise RowError(f"{field_name} {value!r} is not a time this feed sends{hint}: the mini-program "
                           f"sends {TIME_FORMS}")
    try:
        return parse_datetime(value, field_name=field_name)
    except RowError as exc:
        raise RowError(f"{exc}; the mini-program sends {TIME_FORMS}") from None


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
        at = _time(event.get("at"), f"events[{position}].at")
        events.append({**event, "at": at.isoformat() if at else None})
    return events


def _record(ticket: dict) -> dict:
    ticket_id = _text(ticket.get("ticket_id"))
    if not ticket_id:
        raise RowError("ticket_id is missing: a ticket cannot be placed without its id")
    submitted_at = _time(ticket.get("submitted_at"), "submitted_at")
    if submitted_at is None:
        raise RowError("submitted_at is missing")
    updated_at = _time(ticket.get("updated_at"), "updated_at") or submitted_at
    objects = {name: _object(ticket.get(name), name) for name in ("location", "user")}
    images = ticket.get("images")
    if images is not None and not isinstance(images, list):
        raise RowError("`images` should be a list")
    ticket_type = _text(ticket.get("type"))
    made = {  # the columns that are more than the text the contract names them from
        "ticket_id": ticket_id,
        "is_resident_demand": ticket_type in RESIDENT_DEMAND_TYPES,
        "submitted_at": submitted_at,
        "updated_at": updated_at,
        "images": images,
        "events": _events(ticket.get("events")),
        "extra": {k: v for k, v in ticket.items() if k not in FIELDS} or None,
    }

    def sent(source: str):  # a field of the ticket, or of one of its objects ("location.building")
        parent, _, name = source.rpartition(".")
        return (objects[parent] if parent else ticket).get(name)

    record = {column.name: made[column.name] if column.name in made else _text(sent(column.source))
              for column in CONTRACT.columns if column.name in made or column.source}
    record.update(privacy.pseudonymise(CONTRACT.person, record))
    return record


def layout_of(head: bytes, name: str, size: int) -> Layout:
    """One ticket per line, cut into chunks at line ends; a UTF-8 byte-order mark is passed over."""
    bom = 3 if head.startswith(b"\xef\xbb\xbf") else 0
    return Layout(detail={"encoding": "utf-8-sig" if bom else "utf-8"}, split="lines", body_start=bom,
                  empty_reason="the file is empty: no ticket lines")


def parse(body: bytes, first_line: int, layout: Layout, last: bool):
    """Every line of a chunk of the pull (whole lines, the first numbered `first_line`), each decoded
    on its own as UTF-8 (the feed's only encoding): a line that is not valid UTF-8 is quarantined,
    and the lines around it are read. The file's last line may be cut off."""
    lines = body.split(b"\n")
    if not last:
        lines.pop()  # a chunk other than the last ends with a line end: nothing follows it
    final = first_line + len(lines) - 1
    cut_off = last and not body.endswith(b"\n")
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        ticket = None
        line = raw.decode("utf-8", errors="replace")
        try:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise RowError(
                    "the last line is cut off inside a character (the pull broke off); it will come again in the next pull"
                    if number == final and cut_off else
                    f"the line is not valid UTF-8 (byte {exc.start} of the line, {raw[exc.start:exc.start + 4]!r}); "
                    "the feed sends UTF-8 only") from None
            try:
                ticket = json.loads(line, object_pairs_hook=_unique_keys)
            except _DuplicateKey as exc:
                raise RowError(str(exc)) from None
            except (ValueError, RecursionError) as exc:  # ValueError: also an integer of > 4300 digits
                raise RowError(
                    "the last line is cut off (the pull broke off); it will come again in the next pull"
                    if number == final and cut_off else f"the line is not valid JSON ({exc})"
                ) from None
            if not isinstance(ticket, dict):
                raise RowError(f"the line is JSON but not a ticket object ({type(ticket).__name__})")
            if _depth(ticket) > MAX_DEPTH:
                raise RowError(f"the ticket nests deeper than {MAX_DEPTH} levels")
            record = _record(ticket)
        except RowError as exc:
            ticket_id = _text(ticket.get("ticket_id")) if isinstance(ticket, dict) else None
            yield Rejected(number, line, str(exc), source_record_id=ticket_id)
            continue
        record["row_number"] = number
        yield record


def read(data: bytes, name: str) -> ReadResult:
    return read_whole(layout_of, parse, data, name)
