"""What the command groups share."""

from __future__ import annotations

import datetime as dt


def _summary_line(reports) -> str:
    by_status = {s: sum(1 for r in reports if r.status == s)
                 for s in ("loaded", "duplicate", "quarantined", "unreadable")}
    rows_in = sum(r.rows_in for r in reports)
    loaded = sum(r.rows_loaded for r in reports)
    quarantined = sum(r.rows_quarantined for r in reports)
    unreadable = f", {by_status['unreadable']} UNREADABLE" if by_status["unreadable"] else ""
    return (f"ingest: {len(reports)} files ({by_status['loaded']} loaded, {by_status['duplicate']} duplicate, "
            f"{by_status['quarantined']} quarantined{unreadable}); "
            f"rows: {rows_in} in = {loaded} loaded + {quarantined} quarantined")


def _print_reports(reports) -> None:
    width = max((len(r.file) for r in reports), default=10)
    for r in reports:
        note = f"  — {r.reason}" if r.reason else (f"  (same bytes as {r.duplicate_of})" if r.duplicate_of else "")
        print(f"{r.file:<{width}}  {r.channel:<11} {r.status:<11} in {r.rows_in:>6}  loaded {r.rows_loaded:>6}  "
              f"quarantined {r.rows_quarantined:>5}{note}")


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
