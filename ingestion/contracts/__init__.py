"""Each channel's contract with the warehouse, one module a channel (see `schema.py`)."""

from __future__ import annotations

from ingestion.contracts import hotline, miniprogram, reception
from ingestion.contracts.schema import Column, Contract, PersonKey

CONTRACTS: dict[str, Contract] = {c.channel: c for c in (hotline.CONTRACT, miniprogram.CONTRACT, reception.CONTRACT)}
CHANNELS: tuple[str, ...] = tuple(CONTRACTS)



def complaint_texts_sql(where: str = "true") -> str:
    """SQL: every complaint text of the raw tables (a `text` column), one select per channel, `where`
    added to each (it may name `file_id`); `union` drops texts that stand in several places."""
    return "\nunion\n".join(f"select {c.text_sql()} from {c.table} where {c.text_present_sql()} and ({where})"
                             for c in CONTRACTS.values())


__all__ = ["CHANNELS", "CONTRACTS", "Column", "Contract", "PersonKey", "complaint_texts_sql"]
