"""Ingestion: one reader per channel, one loader that accounts for every row.

- `hotline`      — 12345 / 400 work-order CSV exports
- `miniprogram`  — property mini-program JSONL pulls
- `reception`    — reception-day / door-knocking / patrol workbooks
- `loader`       — scans the landing folder, de-duplicates files, COPYs rows, keeps the counts
"""
