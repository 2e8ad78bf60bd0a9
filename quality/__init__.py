"""Data quality with Great Expectations (GX Core 1.x): validate what ingestion loaded, in the warehouse.

- `validate_loaded(file_ids_by_channel, run_name)` / `validate_channel(channel, file_ids, run_name)`:
  one suite per channel on the raw tables; failing rows move to `raw.quarantine` (stage 'validate');
  a channel whose batch fails as a whole comes back with `failed=True`.
- `validate_table(schema, table, suite_name, expectations, run_name, file_column, after_file_id)`: a suite
  on a whole table (dbt marts), or on its rows from files newer than one, stored the same way, without
  quarantine.
- what they found is in `ops.validation_runs` / `ops.validation_results`; `minqing data-docs` renders it as
  one page that opens offline (minqing/publishing/validation_report.py).

The expectations are data, in `quality.suites`. Great Expectations itself is imported only when a
suite runs, so importing this package is cheap.
"""

from quality.channels import ChannelValidation, validate_channel, validate_loaded
from quality.context import TableValidation, validate_table

__all__ = [
    "ChannelValidation",
    "TableValidation",
    "validate_channel",
    "validate_loaded",
    "validate_table",
]
