"""Phone numbers typed into free text are redacted by one definition, util.redact_phones (migration 0007),
which every staging model calls through the dbt macro redact_phones.

Three layers, all on the real warehouse:
  - a property: mobiles, landlines and cued local numbers in many typed forms (+86 / 0086 / 86 / (+86)
    prefixes, space and dash separators, (010) and （010） brackets, full-width digits), several in a
    list (、 / , ， ； 和, a space, or nothing before a bracket or a plus), embedded in Chinese text with
    house numbers, order ids, dates and amounts: each number becomes its marker, every other character
    survives (after NFKC), and no digit of a number is left;
  - the cases the old regular expression missed, and the numbers that must stay;
  - end to end: texts holding those forms go through ingest and one `dbt build`, and no text column of
    any relation in staging, intermediate or marts holds a planted number; the hashes the classifier
    joins on are still those of the original texts.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from conftest import HOTLINE_HEADER, write_csv
from ingestion.loader import ingest
from minqing import transform

MOBILE = "[手机号已隐藏]"
PHONE = "[电话已隐藏]"


def nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@pytest.fixture()
def redact(fresh_warehouse):
    """util.redact_phones on the migrated test database, one text or a list of texts per call."""
    with psycopg.connect(fresh_warehouse, autocommit=True) as conn:
        def call(texts):
            if isinstance(texts, str):
                return conn.execute("select util.redact_phones(%s)", (texts,)).fetchone()[0]
            return conn.execute("select array(select util.redact_phones(t) from unnest(%s::text[]) "
                                "with ordinality as u (t, n) order by n)", (list(texts),)).fetchone()[0]
        yield call


# --- the property ---------------------------------------------------------------------------------

digit = st.sampled_from("0123456789")
SEPARATORS = ["", " ", "-", "—"]  # inside a number


def digits(n: int):
    return st.text(digit, min_size=n, max_size=n)


@st.composite
def full_width(draw, number: str) -> str:
    """None (half the time), all or some of a number's characters typed full width (０-９ ＋ （ ） － and the
    ideographic space)."""
    wide = {**{str(d): chr(0xFF10 + d) for d in range(10)}, "+": "＋", "(": "（", ")": "）", "-": "－", " ": "\u3000"}
    mode = draw(st.sampled_from(["none", "none", "all", "some"]))
    mask = (draw(st.lists(st.booleans(), min_size=len(number), max_size=len(number))) if mode == "some"
            else [mode == "all"] * len(number))
    return "".join(wide.get(ch, ch) if on else ch for ch, on in zip(number, mask))


@st.composite
def mobile(draw) -> tuple[str, str, str]:
    """(as typed, its digits, marker): 1[3-9]x xxxx xxxx, 3-4-4, with or without a country or trunk prefix."""
    number = "1" + draw(st.sampled_from("3456789")) + draw(digits(9))
    first, second = draw(st.sampled_from(SEPARATORS)), draw(st.sampled_from(SEPARATORS))
    prefix = draw(st.sampled_from(["", "", "+86", "+86 ", "+86-", "0086", "0086 ", "86", "86-", "(+86)", "0"]))
    typed = f"{prefix}{number[:3]}{first}{number[3:7]}{second}{number[7:]}"
    return draw(full_width(typed)), number, MOBILE


@st.composite
def local_number(draw) -> str:
    """7 or 8 digits, the first 2-9, perhaps split 3-4 / 4-4."""
    number = draw(st.sampled_from("23456789")) + draw(digits(draw(st.sampled_from([6, 7]))))
    split = draw(st.sampled_from(["", "", " ", "-"]))
    return number[:-4] + split + number[-4:] if split else number


@st.composite
def landline(draw) -> tuple[str, str, str]:
    """(as typed, its digits, marker): an area code (010, 02x, 0xxx) in one of its written forms, a local number."""
    area = draw(st.sampled_from(["010", "021", "022", "020", "0755", "0571", "0311", "0898"])
                | st.builds(lambda a, b: "0" + a + b, st.sampled_from("3456789"), digits(2)))
    local = draw(local_number())
    form = draw(st.sampled_from(["{a}-{n}", "{a} {n}", "{a}{n}", "{a}—{n}", "({a}){n}", "({a}) {n}",
                                 "（{a}）{n}", "+86 {b} {n}", "+86-{b}-{n}", "0086{b}{n}"]))
    typed = form.format(a=area, b=area[1:], n=local)
    return draw(full_width(typed)), area + re.sub("[^0-9]", "", local), PHONE


@st.composite
def cued_local(draw) -> tuple[str, str, str]:
    local = draw(local_number())
    return draw(full_width(local)), re.sub("[^0-9]", "", local), PHONE


CUES = ["座机", "电话", "电话：", "联系电话是", "固话 ", "手机号码:", "tel:", "Tel ", "TEL：", "拨打", "回电", "电话(座机)", "电话（座机）："]
LIST_SEPARATORS = ["、", "/", ",", "，", "；", ";", " ", "和", " / ", "、 "]
# text around the numbers that must come back as it was (NFKC aside): house numbers, ids, dates, amounts
CONTEXT = ["居民反映", "楼上卫生间漏水，", "望园社区3号楼2单元502室", "工单GD2026071500001已受理", "于2026-07-15反映",
           "日期20260715前", "共计1380元", "物业费3500元每年", "400-20260715-0001号工单", "12345热线转来", "请尽快处理。",
           "装修噪音，孩子睡不着。"]


@st.composite
def text_with_numbers(draw) -> tuple[str, str, list[str]]:
    """(text, expected redacted text, the numbers' digits): 1-4 numbers in a list inside Chinese text.

    A local number without an area code is a phone only after a cue word or another number of the
    list, so it is never first without a cue; "no separator" is drawn only before a number that
    starts with a bracket or a plus (two numbers whose digits touch are one longer digit run)."""
    kinds = draw(st.lists(st.sampled_from([mobile, landline, cued_local]), min_size=1, max_size=4))
    numbers = [draw(kind()) for kind in kinds]
    cue = draw(st.sampled_from(CUES)) if kinds[0] is cued_local else draw(st.sampled_from(["", ""] + CUES))
    typed, expected = cue, cue
    for position, (number, _, marker) in enumerate(numbers):
        if position:
            starts_with_sign = nfkc(number[0]) in "(+"
            separator = draw(st.sampled_from(LIST_SEPARATORS + ([""] if starts_with_sign else [])))
            typed, expected = typed + separator, expected + separator
        typed, expected = typed + number, expected + marker
    before = draw(st.sampled_from(CONTEXT))
    after = draw(st.sampled_from(CONTEXT))
    text = f"{before}{typed}，{after}"
    return text, nfkc(f"{before}{expected}，{after}"), [n[1] for n in numbers]


@settings(max_examples=400, derandomize=True, database=None, deadline=None, print_blob=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cases=st.lists(text_with_numbers(), min_size=1, max_size=5))
def test_every_typed_phone_is_redacted_and_nothing_else_changes(redact, cases):
    texts = [case[0] for case in cases]
    for (text, expected, numbers), got in zip(cases, redact(texts)):
        assert got == expected, text
        # no digit of the numbers is left: the digit runs are exactly those of the surrounding text
        assert re.findall("[0-9]+", got) == re.findall("[0-9]+", nfkc(expected)), text
        for number in numbers:
            assert number[-7:] not in re.sub(r"[\s\-—()+]", "", got), (text, number)


# --- the cases the old expression missed, and numbers that must stay ------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("请回电13812345678谢谢", f"请回电{MOBILE}谢谢"),
    ("(010)63456789", PHONE),
    ("（010）63456789", PHONE),
    ("010 63456789", PHONE),
    ("010-63456789", PHONE),
    ("01063456789", PHONE),
    ("0755-2345678", PHONE),
    ("+86 10 6345 6789", PHONE),
    ("13912345678、13987654321", f"{MOBILE}、{MOBILE}"),
    ("13700001111/13700002222", f"{MOBILE}/{MOBILE}"),
    ("13700001111/13700002222/13700003333", f"{MOBILE}/{MOBILE}/{MOBILE}"),
    ("１３６１１１１２２２２", MOBILE),
    ("１３８－１２３４－５６７８", MOBILE),
    ("座机63456789", f"座机{PHONE}"),
    ("座机号码是：63456789", f"座机号码是:{PHONE}"),
    ("电话：6345 6789、63456790/6345-6791", f"电话:{PHONE}、{PHONE}/{PHONE}"),
    ("Tel: 63456789", f"Tel: {PHONE}"),
    ("13812345678、63456789", f"{MOBILE}、{PHONE}"),
    ("+86 138 1234 5678", MOBILE),
    ("+8613812345678", MOBILE),
    ("0086-13812345678", MOBILE),
    ("(+86)13812345678", MOBILE),
    ("013812345678", MOBILE),
    ("138-1234-5678", MOBILE),
    ("138 1234 5678", MOBILE),
    ("电话 138 1234 5678 和 6345 6789", f"电话 {MOBILE} 和 {PHONE}"),
    # numbers that are not phones stay
    ("丰台区六里桥街道望园社区3号楼2单元502", "丰台区六里桥街道望园社区3号楼2单元502"),
    ("工单GD2026071500001于2026-07-15受理", "工单GD2026071500001于2026-07-15受理"),
    ("400-20260715-0001", "400-20260715-0001"),
    ("日期20260715，共计13500元，面积150平米", "日期20260715,共计13500元,面积150平米"),
    ("电话费12345678元", "电话费12345678元"),
    ("身份证110101199003071234", "身份证110101199003071234"),
    ("订单号MP20260715000123", "订单号MP20260715000123"),
    ("拨打12345热线", "拨打12345热线"),
    ("", ""),
])
def test_known_forms(redact, text, expected):
    assert redact(text) == expected


def test_null_stays_null(redact):
    assert redact([None, "座机63456789"]) == [None, f"座机{PHONE}"]


# --- end to end: ingest, dbt build, scan every text column ----------------------------------------

AS_OF = "2026-07-16T12:00:00+08:00"
# every planted number, as digits; each is typed into a free-text field below in one of its forms
PLANTED = {
    "13912345678": "13912345678", "13987654321": "13987654321", "13700001111": "13700001111",
    "13700002222": "13700002222", "13611112222": "１３６１１１１２２２２", "13812345678": "+86 138 1234 5678",
    "13855556666": "138-5555-6666", "01063456789": "(010)63456789", "01063451111": "010 63451111",
    "01063452222": "（010）63452222", "63453333": "座机63453333", "63454444": "6345 4444",
    "13544445555": "13544445555", "13566667777": "13566667777", "075523456789": "0755-23456789",
}
HOTLINE_CONTENT = ("市民来电反映楼上卫生间漏水，请回电13912345678、13987654321，或拨打座机63453333；"
                   "家属+86 138 1234 5678，工单GD2026071500001，于2026-07-15反映")


def _write_landing(root: Path) -> dict[str, str]:
    """Three channels with phones in every free-text field; returns the original complaint texts by record."""
    base = {h: "" for h in HOTLINE_HEADER}
    orders = [
        {**base, "工单编号": "GD2026071500001", "来源": "12345", "来电时间": "2026-07-15 08:00:00", "诉求人": "张伟",
         "联系电话": "13800001111", "诉求类型": "投诉", "诉求内容": HOTLINE_CONTENT,
         "诉求地址": "丰台区六里桥街道望园社区3号楼2单元502 电话(010)63456789", "所属街道": "六里桥街道",
         "所属社区": "望园社区", "承办单位": "望园社区居委会 固话 010 63451111", "派单时间": "2026-07-15 08:10:00",
         "办理状态": "已派单", "更新时间": "2026-07-15 08:10:00"},
        {**base, "工单编号": "400-20260715-0001", "来源": "400", "来电时间": "2026-07-15 09:00:00", "诉求人": "李娜",
         "联系电话": "", "诉求类型": "投诉", "诉求内容": "物业不打扫楼道，请联系１３６１１１１２２２２或138-5555-6666",
         "诉求地址": "丰台区六里桥街道保利益丰社区2号楼", "所属街道": "六里桥街道", "所属社区": "保利益丰社区",
         "承办单位": "物业公司", "办理状态": "已派单", "派单时间": "2026-07-15 09:05:00", "更新时间": "2026-07-15 09:05:00"},
    ]
    write_csv(root / "hotline/12345_20260715.csv", HOTLINE_HEADER, orders)

    ticket = {"ticket_id": "MP20260715000123", "type": "repair", "submitted_at": "2026-07-15T08:03:11+08:00",
              "updated_at": "2026-07-15T10:00:00+08:00", "community": "保利益丰社区", "project_code": "PLYF-01",
              "location": {"building": "3", "unit": "2", "room": "502 电话13544445555"},
              "title": "卫生间漏水 13700001111/13700002222", "content": "楼上漏水，顺着墙往下流（010）63452222",
              "user": {"openid": "oX3fA9kLm2QwE7rT5yU1iO8pZc4V", "nickname": "小雨点", "phone": "13522017788"},
              "status": "closed", "rating": 5, "rating_comment": "师傅很好，有事打他电话13566667777",
              "events": [{"status": "submitted", "at": "2026-07-15T08:03:11+08:00"},
                         {"status": "dispatched", "at": "2026-07-15T08:03:12+08:00", "by": "工程部 0755-23456789"},
                         {"status": "closed", "at": "2026-07-15T10:00:00+08:00", "by": "维修师傅 138-5555-6666"}]}
    (root / "miniprogram").mkdir()
    (root / "miniprogram/tickets_20260715.jsonl").write_text(json.dumps(ticket, ensure_ascii=False) + "\n",
                                                             encoding="utf-8")

    issue = "8号楼楼道灯坏了，居民留电话6345 4444、13912345678"
    (root / "reception").mkdir()
    (root / "reception/reception_望园社区_202607.csv").write_text(
        "望园社区民意接待日登记表（2026年7月）,,,,,,,,,,,\n"
        "序号,日期,方式,接待人员,居民姓名,联系方式,住址,反映问题,问题类别,处理情况,是否办结,备注\n"
        f"1,2026-07-13,敲门,何敏 13700001111,罗建华,13366001122,望园社区8号楼 座机63453333,{issue},道路设施,"
        "已电话回复（010）63452222,否,居民另一号码13987654321/13566667777\n",
        encoding="utf-8")
    return {"GD2026071500001": HOTLINE_CONTENT, "MP20260715000123": f"{ticket['title']} {ticket['content']}",
            "reception": issue}


@pytest.mark.slow
def test_no_typed_phone_reaches_staging_or_the_marts(fresh_warehouse, tmp_path):
    texts = _write_landing(tmp_path / "landing")
    reports = ingest(tmp_path / "landing", progress=False)
    assert all(r.status == "loaded" and r.rows_quarantined == 0 for r in reports), [r.as_json() for r in reports]
    outcome = transform.build(as_of=AS_OF)
    assert outcome.success, outcome.failures
    personal = ["13800001111", "13522017788", "13366001122"]  # the contact fields, masked by ingestion
    with psycopg.connect(fresh_warehouse) as conn:
        # the numbers did go in, in clear, in raw
        raw = conn.execute("select string_agg(t, ' ') from (select content from raw.hotline_work_orders union all "
                           "select rating_comment from raw.miniprogram_tickets union all "
                           "select remarks from raw.reception_entries) r (t)").fetchone()[0]
        assert "13912345678" in raw and "13566667777" in raw and "13987654321" in raw

        columns = conn.execute(
            """select table_schema, table_name, column_name from information_schema.columns
               where table_schema in ('staging', 'intermediate', 'marts')
                 and data_type in ('text', 'character varying', 'jsonb', 'ARRAY')
               order by 1, 2, 3""").fetchall()
        assert {c[0] for c in columns} == {"staging", "intermediate", "marts"}
        assert {("staging", "stg_reception__entries", "remarks"), ("staging", "stg_miniprogram__tickets", "rating_comment"),
                ("marts", "fct_complaints", "complaint_text")} <= {c for c in columns}
        needles = sorted({*PLANTED, *PLANTED.values(), *map(nfkc, PLANTED.values()), *personal})
        for schema, table, column in columns:
            # as typed, and as digits once the separators a number may carry are dropped
            found = conn.execute(
                f"""select distinct v from "{schema}"."{table}" as r, unnest(%s::text[]) as v
                    where strpos(r."{column}"::text, v) > 0
                       or strpos(regexp_replace(normalize(r."{column}"::text, NFKC), '[\\s()+\\-—]', '', 'g'), v) > 0""",
                (needles,)).fetchall()
            assert not found, f"{[f[0] for f in found]} readable in {schema}.{table}.{column}"

        # the texts reached the marts, redacted, and the classifier's join key is the hash of the original
        rows = dict(conn.execute("select source_record_id, complaint_text from marts.fct_complaints").fetchall())
        assert MOBILE in rows["GD2026071500001"] and PHONE in rows["GD2026071500001"]
        assert "GD2026071500001" in rows["GD2026071500001"] and "2026-07-15" in rows["GD2026071500001"]
        hashes = dict(conn.execute("select source_record_id, text_sha256 from marts.fct_complaints").fetchall())
        (reception_id,) = conn.execute("select entry_id from raw.reception_entries").fetchone()
        originals = {"GD2026071500001": texts["GD2026071500001"], "MP20260715000123": texts["MP20260715000123"],
                     reception_id: texts["reception"]}
        assert {record: hashes.get(record) for record in originals} == {
            record: hashlib.sha256(text.encode("utf-8")).hexdigest() for record, text in originals.items()}
        remarks = conn.execute("select remarks, staff, address from staging.stg_reception__entries").fetchone()
        assert remarks == (f"居民另一号码{MOBILE}/{MOBILE}", f"何敏 {MOBILE}", f"望园社区8号楼 座机{PHONE}")
        events = conn.execute("select events from staging.stg_miniprogram__tickets").fetchone()[0]
        assert [e.get("by") for e in events] == [None, f"工程部 {PHONE}", f"维修师傅 {MOBILE}"]

        # the pipeline's own role (not a superuser) reads the staging views that call the function
        conn.execute("set role minqing_pipeline")
        assert conn.execute("select remarks from staging.stg_reception__entries").fetchone()[0] == remarks[0]
        conn.execute("reset role")
