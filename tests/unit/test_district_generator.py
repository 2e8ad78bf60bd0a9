"""The generated district (minqing/devtools/district.py): its invented streets and communities are distinct
from each other and from the package's, and its reference folder loads as dbt would (issue 23)."""

from __future__ import annotations

import csv

import pytest

from minqing import config, reference
from minqing.devtools import district
from minqing.devtools.generate import COMMUNITIES, LIULIQIAO


def test_the_districts_names_and_ids_are_its_own():
    invented = [c for s in district.INVENTED_STREETS for c in s.communities]
    names = [c.name for c in (*COMMUNITIES, *invented)]
    assert len(names) == len(set(names))
    with open(config.PACKAGED_REFERENCE_DIR / "communities.csv", encoding="utf-8", newline="") as fh:
        packaged = {row["community_id"] for row in csv.DictReader(fh)}
    ids = list(district.COMMUNITY_IDS.values())
    assert len(ids) == len(set(ids)) == len(invented) and not set(ids) & packaged
    assert all(c.street == s.name for s in district.INVENTED_STREETS for c in s.communities)
    assert len({s.id_block for s in district.streets_of(5)}) == 5 and LIULIQIAO.id_block == 0


def test_the_districts_reference_folder_is_sound(tmp_path):
    folder = district.write_reference(tmp_path / "reference", streets=3)
    assert reference.check(folder) == []
    with open(folder / "streets.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["street_id"] for r in rows] == ["liuliqiao", "huaiyuan", "yushu"]
    assert [r["names_invented"] for r in rows] == ["false", "true", "true"]


def test_a_district_has_one_to_five_streets():
    assert district.streets_of(1) == (LIULIQIAO,)
    with pytest.raises(ValueError, match="1 to 5"):
        district.streets_of(6)
