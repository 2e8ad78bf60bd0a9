"""What a channel's contract states: the shape every contract module fills in.

A contract is the one place a fact about a source is written down: the header (or JSON field)
each raw column comes from, which columns a file cannot do without, the raw table and its columns
in order with their types, the id patterns, the person key, and the vocabularies its values come
in. Readers, the loader, the GX suites, key rotation, the generator, the bench and the tests read
it; the vocabularies dbt maps are dbt seeds, read here (`seed_values`) so that both sides see one list.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

from minqing import config


@dataclass(frozen=True)
class Column:
    """One column of the channel's raw table."""

    name: str
    type: str = "text"  # the PostgreSQL type in the raw table (tests/unit: equal to the migrations')
    source: str | None = None  # the header (or JSON field) the source sends it under; None: made by ingestion
    nullable: bool = True
    personal: bool = False  # clear personal data: only in `raw`, never beyond staging

    @property
    def is_time(self) -> bool:
        return self.type == "timestamptz"


# The loader's bookkeeping, in every raw table: the file a row came from and its place in it, and
# what the source sent beyond its contract.
FILE_ID = Column("file_id", "bigint", nullable=False)
ROW_NUMBER = Column("row_number", "integer", nullable=False)
EXTRA = Column("extra", "jsonb")


@dataclass(frozen=True)
class PersonKey:
    """How a record's person is pseudonymised (`minqing.privacy.pseudonymise`): the key column, the
    clear columns it is computed from (a phone, else a platform account), and the name that is masked."""

    column: str
    phone: str
    name: str
    account: str | None = None

    def columns(self, *clear: "Column") -> tuple["Column", ...]:
        """The raw columns of the person: the clear ones as the source sends them (personal), then
        what ingestion makes of them — the key, the masked name and the masked phone."""
        return (*clear, Column(self.column), Column(f"{self.name}_masked"), Column(f"{self.phone}_masked"))

    @property
    def clear(self) -> tuple[str, ...]:
        """The clear columns, in the order `minqing.privacy.person_key` takes them."""
        return (self.phone, self.account) if self.account else (self.phone,)


@dataclass(frozen=True)
class Contract:
    channel: str
    label_zh: str  # the channel's name for people (alerts, held files)
    folder: str  # the landing folder's name
    suffixes: tuple[str, ...]
    table: str  # schema-qualified raw table
    columns: tuple[Column, ...]
    key_columns: tuple[str, ...]  # a row's identity (the raw table's primary key adds dated_by, its partition column)
    record_id: str  # the column naming the record (copied to raw.quarantine.source_record_id)
    dated_by: str  # the column holding the moment or day a record belongs to
    required: tuple[str, ...]  # source headers a file cannot be read without
    id_pattern: str  # what `record_id` looks like
    person: PersonKey
    # The complaint text: these columns joined by one space. The classifier hashes the same
    # expression (`text_sql`) that the staging model builds with the dbt macro complaint_text().
    text_columns: tuple[str, ...]
    vocabularies: Mapping[str, Sequence[str]] = field(default_factory=dict)  # raw column -> values it may hold

    def __post_init__(self):
        object.__setattr__(self, "vocabularies", MappingProxyType(dict(self.vocabularies)))
        names = self.column_names
        unknown = {*self.key_columns, self.record_id, self.dated_by, self.person.column, *self.person.clear,
                   self.person.name, *self.text_columns, *self.vocabularies} - set(names)
        if unknown:
            raise ValueError(f"the {self.channel} contract names columns its raw table lacks: {sorted(unknown)}")
        if missing := set(self.required) - set(self.header):
            raise ValueError(f"the {self.channel} contract requires headers it does not map: {sorted(missing)}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def header(self) -> dict[str, str]:
        """Source header (or field) -> raw column, in the order of the raw table."""
        return {c.source: c.name for c in self.columns if c.source}

    @property
    def time_sources(self) -> frozenset[str]:
        return frozenset(c.source for c in self.columns if c.source and c.is_time)

    @property
    def json_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if c.type == "jsonb")

    def text_sql(self) -> str:
        """The complaint text as SQL over the raw table (as macros/text_helpers.sql complaint_text() builds it)."""
        if len(self.text_columns) == 1:
            return self.text_columns[0]
        return " || ' ' || ".join(f"coalesce({c}, '')" for c in self.text_columns)

    def text_present_sql(self) -> str:
        """SQL: the record has a complaint text (a single column may be empty; joined columns always give one)."""
        return f"{self.text_columns[0]} is not null" if len(self.text_columns) == 1 else "true"

    @property
    def personal_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.personal)


def _seed(name: str) -> tuple[dict, ...]:
    return _seed_file(config.seed_path(name))  # the reference folder in force (MINQING_REFERENCE_DIR)


@lru_cache(maxsize=None)
def _seed_file(path: Path) -> tuple[dict, ...]:
    with open(path, encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


class SeedValues(Sequence):
    """The values of `column` in a dbt seed's rows matching `where`, in the seed's order, read when they are
    used: a reference seed (street_aliases) is the reference folder's in force then (MINQING_REFERENCE_DIR),
    not the one a process happened to import the contracts under (the bench points a process at a city's
    folder after importing them). Each file is read once (`_seed_file`)."""

    def __init__(self, seed: str, column: str, where: dict[str, str]):
        self.seed, self.column, self.where = seed, column, where

    def _values(self) -> tuple[str, ...]:
        return tuple(row[self.column] for row in _seed(self.seed)
                     if all(row[k] == v for k, v in self.where.items()))

    def __getitem__(self, index):
        return self._values()[index]

    def __len__(self) -> int:
        return len(self._values())

    def __iter__(self):
        return iter(self._values())

    def __repr__(self) -> str:
        return f"SeedValues({self.seed}.{self.column}, {self.where}: {self._values()!r})"


def seed_values(seed: str, column: str, **where: str) -> SeedValues:
    """The values of `column` in a dbt seed's rows matching `where`, in the seed's order (`SeedValues`)."""
    return SeedValues(seed, column, where)


def seed_mapping(seed: str, key: str, value: str, **where: str) -> dict[str, str]:
    return {row[key]: row[value] for row in _seed(seed) if all(row[k] == v for k, v in where.items())}
