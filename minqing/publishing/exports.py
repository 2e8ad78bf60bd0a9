"""Tables that leave the warehouse for a spreadsheet (CSV exports, the briefing's downloadable tables).

A cell a spreadsheet would read as a formula (text starting with =, +, -, @, or a tab or carriage
return before one of them) is neutralised with a leading apostrophe, the OWASP "CSV injection"
advice: Excel and LibreOffice then show the text as typed and run nothing. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(value):
    """A cell that cannot run as a formula: text starting with a formula character gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def restore(value: str) -> str:
    """A cell read back from a spreadsheet as it was before `neutralise`: the apostrophe it put before a
    formula character is dropped (any other apostrophe is the person's own and stays)."""
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        return value[1:]
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """CSV text (with a BOM, so that Excel reads the Chinese as UTF-8), every text cell neutralised."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in header])
    for row in rows:
        writer.writerow(["" if cell is None else neutralise(cell) for cell in row])
    return buffer.getvalue()
