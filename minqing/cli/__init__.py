"""The `minqing` command."""

from __future__ import annotations

import argparse
import logging
import sys

from minqing.cli import admin, classification, data, dev, serving, tooling


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="minqing", description=__doc__)
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more detail: the libraries' logging at INFO (GX, dbt, Airflow, ...) and their "
                             "warnings, the project's at DEBUG, per-file lines; -vv: DEBUG everywhere")
    sub = parser.add_subparsers(dest="command", required=True)

    for group in (admin, data, classification, serving, tooling, dev):
        group.register(sub)

    # -v and -q after the subcommand too (`minqing demo -v`); SUPPRESS keeps a subcommand from resetting
    # the value given before it
    for command in sub.choices.values():
        if "-v" not in command._option_string_actions:
            command.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                                 help="more detail (see minqing --help)")
        if "-q" not in command._option_string_actions:
            command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                                 help="only warnings and errors on stderr")
    return parser


# The project's own loggers: the only ones at INFO by default (progress lines); every library
# (great_expectations, airflow, cosmos, dbt, sqlalchemy, alembic, jieba, asyncio, ...) at WARNING.
OWN_LOGGERS = ("minqing", "ingestion", "quality")


# The project's own loggers: the only ones at INFO by default (progress lines); every library
# (great_expectations, airflow, cosmos, dbt, sqlalchemy, alembic, jieba, asyncio, ...) at WARNING.
OWN_LOGGERS = ("minqing", "ingestion", "quality")


def _own_record(record: logging.LogRecord) -> bool:
    return record.name.partition(".")[0] in OWN_LOGGERS


def configure_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Logging and warnings of the `minqing` command.

    Default: the root logger at WARNING, the project's loggers at INFO. The handler also drops INFO
    from any other logger, for libraries that set their own loggers' level (GX sets some to INFO,
    and names others by file path, outside `great_expectations`). Python warnings attributed to a
    library are ignored; the project's own are shown. `verbose` 1: everything at INFO, the project
    at DEBUG, library warnings shown; 2: DEBUG everywhere. `quiet`: WARNING everywhere."""
    import warnings

    if quiet:
        root_level, own_level = logging.WARNING, logging.WARNING
    elif verbose >= 2:
        root_level, own_level = logging.DEBUG, logging.DEBUG
    elif verbose == 1:
        root_level, own_level = logging.INFO, logging.DEBUG
    else:
        root_level, own_level = logging.WARNING, logging.INFO
    terse = quiet or not verbose
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_minqing_cli", False)]:
        root.removeHandler(old)  # configured before in this process
    if not root.handlers:  # as logging.basicConfig: an embedding process (pytest) keeps its own
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._minqing_cli = True
        if terse:
            handler.addFilter(lambda record: record.levelno >= logging.WARNING or _own_record(record))
        root.addHandler(handler)
    root.setLevel(root_level)
    # library noise (FutureWarning, UserWarning, DeprecationWarning raised inside GX, airflow, dbt,
    # statsmodels, ...): off unless -v; a warning attributed to the project's code stays
    library_warnings = r"(?!(%s)(\.|$))" % "|".join(OWN_LOGGERS)
    if terse:
        warnings.filterwarnings("ignore", module=library_warnings)
    for name in OWN_LOGGERS:
        logging.getLogger(name).setLevel(own_level)
    if root_level > logging.INFO:
        for noisy in ("jieba", "great_expectations", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    else:
        for noisy in ("great_expectations", "asyncio"):
            logging.getLogger(noisy).setLevel(logging.NOTSET)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        return args.func(args) or 0
    except (FileNotFoundError, RuntimeError) as exc:
        print(f"minqing: {exc}", file=sys.stderr)
        return 2
