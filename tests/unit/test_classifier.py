"""The complaint classifier: quality on independently written texts, the CLI, evidence, determinism.

The texts below were written for this test from knowledge of how Beijing residents describe their
problems (12345 work-order transcripts, reception-log lines, mini-program titles); they are not taken
from the evaluation file, the synthetic generator or the keyword seed. `classify_pending` against a
real warehouse is covered by the pipeline's integration tests.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from minqing import config
from minqing.analytics import classifier
from minqing.devtools.evaluate_classifier import score

CASES: list[tuple[str, str]] = [
    # housing_leak
    ("housing_leak", "市民来电反映：丰台区六里桥街道莲怡园小区5号楼顶层住户，每逢下雨屋顶就漏雨，卧室天花板大面积洇湿，"
                     "墙皮一块一块往下掉，已经找过物业多次但一直没人来修，诉求人希望尽快对屋面防水进行维修。"),
    ("housing_leak", "6号楼602顶楼漏雨"),
    ("housing_leak", "外墙渗水 北面卧室外墙渗水，墙角全发霉长毛了，孩子住着不放心，请安排维修"),
    ("housing_leak", "老房子窗户边上一下雨就往里渗水，窗台底下的墙皮都泡起鼓了"),
    ("housing_leak", "来电人称其家阳台顶上楼板渗漏，怀疑楼上阳台防水层损坏，要求产权单位查看。"),
    ("housing_leak", "居民反映楼顶保温层破损，冬天屋里返潮结露"),
    # drainage
    ("drainage", "市民来电反映：金二社区8号楼东侧污水井往外冒污水，臭气熏天，已经持续三天，污水流到了人行道上，"
                 "诉求人要求排水集团尽快疏通。"),
    ("drainage", "2单元下水道堵了"),
    ("drainage", "【报修】厨房下水不通 洗菜池的水下不去，自己用皮搋子捅了也没用"),
    ("drainage", "一楼住户反映马桶往上返水，整栋楼的污水都从他家冒出来"),
    ("drainage", "小区化粪池满了好久没清掏，井盖边上都溢出来了"),
    ("drainage", "反映楼前排水管道破裂塌陷，地面出现一个坑，污水渗出"),
    # waterlogging
    ("waterlogging", "市民来电反映：六里桥南里小区门口低洼处，每次下大雨就积水严重，昨晚暴雨后积水没过膝盖，居民出行只能蹚水，"
                     "车辆熄火，诉求人希望增设雨水篦子、解决排水问题。"),
    ("waterlogging", "雨后小区主路积水排不出去"),
    ("waterlogging", "地下车库进水 昨天的雨太大了，车库入口雨水倒灌，好几辆车被淹"),
    ("waterlogging", "7号楼门前一下雨就汪一大片水，老人出门得绕着走"),
    ("waterlogging", "汛期将至，居民反映西门桥下去年淹过，希望提前做好防汛准备"),
    ("waterlogging", "暴雨过后平房院里进水，水深二十多公分"),
    # road_facilities
    ("road_facilities", "市民来电反映：丰台路口社区西侧马路上有一个大坑，路面破损已经有一个多月，晚上骑车的人好几次差点摔倒，"
                        "诉求人要求相关部门尽快修补路面。"),
    ("road_facilities", "小区门口路灯不亮"),
    ("road_facilities", "人行道方砖松动翘起，下雨踩上去溅一裤腿泥水"),
    ("road_facilities", "井盖丢失 8号楼北侧井盖没了，只剩个黑洞，太危险了"),
    ("road_facilities", "胡同里的路坑坑洼洼，坑里全是碎石"),
    ("road_facilities", "辅路上的减速带被压坏了，钉子露出来扎轮胎"),
    # heating
    ("heating", "市民来电反映：西局玉园小区12号楼住户，自供暖开始以来暖气一直不热，室内温度只有十四五度，家中有老人和婴儿，"
                "多次联系热力公司未果，诉求人要求尽快解决供暖问题。"),
    ("heating", "暖气不热"),
    ("heating", "暖气片漏水 卧室的暖气片接口处一直滴水，地板都泡了，能不能先关阀门"),
    ("heating", "咨询今年采暖费的缴费时间和标准"),
    ("heating", "供暖都半个月了屋里还是冷得穿棉袄"),
    ("heating", "暖气立管阀门坏了，一整个单元都不热"),
    # utilities
    ("utilities", "市民来电反映：六北社区21号楼自今天早上起一直停水，没有接到任何停水通知，家里做饭洗漱都成问题，"
                  "诉求人要求尽快恢复供水并说明原因。"),
    ("utilities", "14号楼停电了"),
    ("utilities", "自来水发黄 最近几天打开水龙头流出来的水是黄的，还有一股铁锈味，不敢喝"),
    ("utilities", "高层水压太低，到晚上做饭的时候十几楼基本没水"),
    ("utilities", "燃气灶打不着火，燃气表里明明有钱，怀疑是燃气管道问题"),
    ("utilities", "一到晚上就跳闸，电压不稳，家里冰箱都坏了"),
    # property_service
    ("property_service", "市民来电反映：保利益丰小区物业服务质量差，楼道长期无人打扫，保安不在岗，外来人员随便进出，"
                         "业主多次找物业经理反映无果，诉求人要求物业公司整改。"),
    ("property_service", "4号楼电梯坏了三天没人修"),
    ("property_service", "门禁卡失灵 单元门门禁坏了，刷卡开不开，快递员也进不来"),
    ("property_service", "物业费年年涨，服务越来越差，要求公示收支"),
    ("property_service", "我们这个老旧小区没有物业，出了事都找不到人管"),
    ("property_service", "3号楼楼道灯不亮"),
    ("property_service", "报修了好几次，物业维修师傅就是不来，态度还很差"),
    # sanitation
    ("sanitation", "市民来电反映：京铁家园小区东门垃圾站的垃圾连续几天没有清运，垃圾桶都满了，堆在地上，夏天气温高，"
                   "臭味很大，招来很多苍蝇，诉求人希望尽快清理。"),
    ("sanitation", "楼下绿地里杂草长得比人还高"),
    ("sanitation", "小区里老鼠成灾 最近晚上经常能看见老鼠在垃圾桶边上窜，希望组织灭鼠"),
    ("sanitation", "有人在楼后空地乱倒建筑垃圾，堆成一座小山"),
    ("sanitation", "院里的树长得太茂密，挡住了一楼的采光，希望修剪一下"),
    ("sanitation", "楼道里到处贴满了开锁、通下水道的小广告"),
    # noise
    ("noise", "市民来电反映：小区旁边的工地每天夜里十一点以后还在施工，挖掘机和渣土车的声音特别大，严重影响周边居民休息，"
              "诉求人要求执法部门查处夜间施工扰民行为。"),
    ("noise", "广场舞音响太吵"),
    ("noise", "楼下烧烤店噪音扰民 每天营业到凌晨两三点，喝酒划拳的声音吵得根本睡不着"),
    ("noise", "楼上每天半夜拖拽桌椅，咚咚响，上去沟通也没用"),
    ("noise", "商铺门口大喇叭循环播放促销广告，从早响到晚"),
    ("noise", "对面楼新装的空调外机嗡嗡响，整夜都能听到"),
    # neighbor_dispute
    ("neighbor_dispute", "市民来电反映：其楼上邻居装修时将卫生间防水破坏，导致其家天花板渗水，多次与对方协商赔偿，"
                         "对方拒不承认，诉求人希望社区居委会出面调解。"),
    ("neighbor_dispute", "邻居在楼道堆放杂物占用公共空间，沟通多次不听"),
    ("neighbor_dispute", "遛狗不拴绳 小区里有人遛大型犬从来不牵绳，孩子被吓哭好几次了，说了还骂人"),
    ("neighbor_dispute", "对门邻居在门口装了摄像头正对着我家门，侵犯隐私"),
    ("neighbor_dispute", "楼下住户私自圈占楼前绿地种菜，其他居民不满"),
    ("neighbor_dispute", "两户居民因为楼道里放鞋柜的事情吵起来了，需要调解"),
    # elderly_care
    ("elderly_care", "市民来电反映：其母亲八十多岁独居，行动不便，希望了解社区养老驿站能否提供上门助餐和助浴服务，"
                     "以及如何申请居家养老服务补贴。"),
    ("elderly_care", "老年餐桌的饭菜太咸，希望改进"),
    ("elderly_care", "加装扶手 我家老人腿脚不好，楼道里没有扶手，上下楼很危险，能不能帮忙装个扶手"),
    ("elderly_care", "六南社区能不能办个老年食堂，附近吃饭太不方便了"),
    ("elderly_care", "申请适老化改造，卫生间需要安装扶手和防滑地面"),
    ("elderly_care", "空巢老人家里没人照顾，希望社区定期上门探望"),
    # parking_traffic
    ("parking_traffic", "市民来电反映：小区内乱停车现象严重，私家车停在主干道两侧，早晚高峰车辆进出困难，经常堵车，"
                        "诉求人希望物业和社区规范停车管理。"),
    ("parking_traffic", "车位被别人占了"),
    ("parking_traffic", "僵尸车 小区里停了一辆好几年没动的破车，落满了灰，占着车位"),
    ("parking_traffic", "六里桥长途站附近公交车站太远，建议调整公交线路"),
    ("parking_traffic", "路口红绿灯时间太短，老人过马路来不及"),
    ("parking_traffic", "门口有人装地锁占公共车位"),
    # livelihood
    ("livelihood", "市民来电反映：小区附近的菜市场拆除后，周边居民买菜需要走两公里以上，老年人尤其不便，"
                   "诉求人希望街道尽快引进便民菜店或设置早市。"),
    ("livelihood", "附近没有早餐店"),
    ("livelihood", "想咨询一下社区有没有就业岗位，失业半年了"),
    ("livelihood", "希望小区周边增加修鞋、配钥匙、理发这样的便民服务点"),
    ("livelihood", "楼下便利店关门了，买个日用品都得坐车"),
    ("livelihood", "我在附近工地干活，老板拖欠工资三个月不给"),
    # safety_hazard
    ("safety_hazard", "市民来电反映：9号楼有住户从楼上私拉电线到楼下给电动车充电，电线横穿人行道，下雨天极易漏电，"
                      "存在严重安全隐患，诉求人要求相关部门立即拆除飞线。"),
    ("safety_hazard", "消防通道被车堵死了"),
    ("safety_hazard", "大树倾斜 小区西门有棵大杨树往楼这边歪，刮风的时候晃得厉害，怕砸到人"),
    ("safety_hazard", "楼道里电动车充电，晚上插着一整夜"),
    ("safety_hazard", "楼道堆满纸箱和旧家具，消防隐患很大"),
    ("safety_hazard", "楼顶的广告牌铁架子锈断了一半，随时可能掉下来"),
    # other
    ("other", "市民来电表示：非常感谢六里桥街道和社区工作人员，之前反映的问题很快得到了解决，特此表扬。"),
    ("other", "咨询居住证怎么办理"),
    ("other", "请问社区开具无犯罪记录证明需要带什么材料"),
    ("other", "居民送来锦旗，感谢社区网格员帮忙找回走失的老人"),
    ("other", "想问一下社区这周的志愿服务活动怎么报名"),
    ("other", "来电咨询人口普查工作人员上门的具体时间"),
]


def _categories() -> list[str]:
    with open(config.SEEDS_DIR / "issue_categories.csv", encoding="utf-8", newline="") as fh:
        return [row["category_code"] for row in csv.DictReader(fh)]


def test_cases_cover_every_category():
    counts = Counter(code for code, _ in CASES)
    assert len(CASES) >= 60
    assert set(counts) == set(_categories())
    assert min(counts.values()) >= 4


def test_macro_f1_on_independent_texts():
    gold = [code for code, _ in CASES]
    predicted = [classifier.classify(text).category_code for _, text in CASES]
    report = score(gold, predicted)
    misses = [(g, p, t[:40]) for (g, t), p in zip(CASES, predicted) if g != p]
    assert report.macro_f1 >= 0.9, misses


def test_keyword_seed_is_well_formed():
    codes = set(_categories())
    with open(config.SEEDS_DIR / "category_keywords.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["category_code", "keyword", "weight", "note"]
    seen = set()
    for row in rows:
        assert row["category_code"] in codes, row
        assert row["keyword"].strip() == row["keyword"] and row["keyword"], row
        assert float(row["weight"]) != 0, row
        assert (row["category_code"], row["keyword"]) not in seen, row
        seen.add((row["category_code"], row["keyword"]))
    per_category = Counter(row["category_code"] for row in rows if float(row["weight"]) > 0)
    assert set(per_category) == codes
    assert min(per_category.values()) >= 24


def test_result_shape_and_evidence():
    result = classifier.classify("暖气不热")
    assert result.category_code == "heating"
    assert 0 < result.confidence <= 1
    assert result.evidence and all(isinstance(word, str) and word for word in result.evidence)
    with pytest.raises(AttributeError):
        result.category_code = "other"  # frozen


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_an_empty_text_is_other_with_no_confidence_and_needs_review(text):
    assert classifier.classify(text) == classifier.Classification("other", 0.0, (), (), True)


@pytest.mark.parametrize("text", ["", "   ", "12345", "abc"])
def test_the_rules_alone_match_nothing_in_these(text):
    assert classifier.classify_with(text, classifier.rules()) == classifier.Classification("other", 0.0, ())


def test_evidence_comes_from_the_text():
    for _, text in CASES:
        result = classifier.classify(text)
        for word in result.evidence:
            assert word in text.lower()


def test_a_phrase_overrides_the_words_inside_it():
    # a leaking radiator is a heating problem, not a leaking building
    result = classifier.classify("暖气片漏水")
    assert result.category_code == "heating"
    assert "漏水" not in result.evidence


def test_confidence_falls_with_the_margin():
    for classify in (classifier.classify, lambda text: classifier.classify_with(text, classifier.rules())):
        clear = classify("暖气不热，室温只有十五度，供暖不达标")
        mixed = classify("暖气不热，楼道里还堆满了垃圾")
        assert clear.category_code == mixed.category_code == "heating"
        assert clear.confidence > mixed.confidence
    for _, text in CASES:
        assert 0 <= classifier.classify(text).confidence <= 1


def test_deterministic():
    first = [classifier.classify(text) for _, text in CASES]
    second = [classifier.classify(text) for _, text in reversed(CASES)]
    assert first == list(reversed(second))
    assert classifier.classifier_version() == classifier.classifier_version()
    assert re.fullmatch(r"[0-9a-f]{12}", classifier.classifier_version())


def test_version_follows_the_rules():
    seed = (config.SEEDS_DIR / "category_keywords.csv").read_text(encoding="utf-8")
    assert classifier.version_of(seed) == classifier.rules().version
    assert classifier.version_of(seed.replace("\n", "\r\n")) == classifier.rules().version
    assert classifier.version_of(seed + "other,测试词,1,\n") != classifier.rules().version


def test_version_follows_the_model_and_the_review_threshold(monkeypatch):
    version = classifier.classifier_version()
    monkeypatch.setattr(classifier.model(), "sha256", "0" * 64)
    assert classifier.classifier_version() != version
    monkeypatch.undo()
    assert classifier.classifier_version() == version
    monkeypatch.setattr(classifier, "review_below", lambda: 0.99)
    assert classifier.classifier_version() != version


def test_main_stdin_in_process():
    out = io.StringIO()
    assert classifier.main_stdin(stdin=io.StringIO("暖气不热\n\n2单元下水道堵了\n"), stdout=out) == 0
    assert out.getvalue().splitlines() == ["heating", "other", "drainage"]


def test_cli_round_trip():
    texts = [text for _, text in CASES[:20]] + [""]
    stdin = "\n".join(texts) + "\n"
    run = subprocess.run([sys.executable, "-m", "minqing.cli", "-q", "classify"], input=stdin.encode("utf-8"),
                         capture_output=True, check=True, timeout=120)
    lines = run.stdout.decode("utf-8").splitlines()
    assert lines == [classifier.classify(text).category_code for text in texts]
    assert lines[-1] == "other"

    run = subprocess.run([sys.executable, "-m", "minqing.cli", "-q", "classify", "--explain"],
                         input="暖气不热\n\n".encode("utf-8"), capture_output=True, check=True, timeout=120)
    first, empty = run.stdout.decode("utf-8").splitlines()
    code, confidence, evidence, candidates, review = first.split("\t")
    assert code == "heating" and 0 < float(confidence) <= 1 and "暖气不热" in evidence.split(",")
    assert candidates.split()[0] == f"heating:{confidence}" and len(candidates.split()) == 3
    assert review == ("review" if float(confidence) < classifier.review_below() else "")
    assert empty.split("\t") == ["other", "0.000", "", "", "review"]


def test_score_metrics():
    report = score(["a", "a", "b", "c"], ["a", "b", "b", "c"])
    assert report.accuracy == pytest.approx(0.75)
    by_code = {c.code: c for c in report.per_category}
    assert by_code["a"].recall == pytest.approx(0.5) and by_code["a"].precision == pytest.approx(1.0)
    assert by_code["b"].precision == pytest.approx(0.5)
    assert report.macro_f1 == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert report.confusions == [("a", "b", 1)]


# --- bounded work per text: the longest-match sweep and the prefix cap ------------------------------------


def _keep_longest_pairwise(found):
    """The reference: the quadratic comparison of every pair of matches that _keep_longest replaced."""
    kept = []
    for start, end, keyword in found:
        covered = any(s <= start and end <= e and (e - s) > (end - start) for s, e, _ in found)
        if not covered:
            kept.append((start, end, keyword))
    return kept


# small ranges, so that equal starts, equal ends, duplicates and nested spans are common
_SPANS = st.lists(st.tuples(st.integers(-3, 30), st.integers(-3, 30), st.sampled_from("abc")), max_size=60)


@given(_SPANS)
def test_keep_longest_equals_the_pairwise_reference(found):
    assert classifier._keep_longest(found) == _keep_longest_pairwise(found)


def _seed_text() -> str:
    return (config.SEEDS_DIR / "category_keywords.csv").read_text(encoding="utf-8")


def _seed_keywords() -> list[str]:
    return sorted(classifier.rules().weights)


@hypothesis_settings(deadline=None, max_examples=150)
@given(st.data())
def test_keep_longest_equals_the_reference_on_real_matches(data):
    pieces = data.draw(st.lists(st.sampled_from(_seed_keywords()) | st.sampled_from("的了在楼里号，。3a ")
                                | st.text(alphabet="暖气漏水堵噪音车位垃圾施工", max_size=4), max_size=40))
    normal = classifier.normalise("".join(pieces))
    r = classifier.rules()
    for found in (classifier._matches(normal, classifier._segment(normal), r), classifier._loose_matches(normal, r)):
        assert classifier._keep_longest(found) == _keep_longest_pairwise(found)


def test_only_the_prefix_is_classified():
    seed = _seed_text()
    categories = classifier.rules().categories
    text = "1234567890" + "暖气不热"
    assert classifier.classify_with(text, classifier.parse_rules(seed, categories, max_chars=10)) == \
        classifier.Classification("other", 0.0, ())
    assert classifier.classify_with(text, classifier.parse_rules(seed, categories, max_chars=14)).category_code == "heating"


def test_a_huge_text_classifies_as_its_prefix():
    cap = classifier.rules().max_text_chars
    assert cap == config.settings()["classifier"]["max_text_chars"] == classifier.max_text_chars()
    text = "".join(text for _, text in CASES)
    huge = (text * (3_000_000 // len(text) + 1))[:3_000_000]
    assert classifier.classify(huge) == classifier.classify(huge[:cap])
    # what lies past the cap does not count, however much of it there is
    assert classifier.classify("暖气不热" + "。" * cap + "下水道堵了" * 100_000).category_code == "heating"


def test_the_cap_is_part_of_the_version():
    seed = _seed_text()
    cap = classifier.max_text_chars()
    assert classifier.version_of(seed, cap) == classifier.rules().version
    assert classifier.version_of(seed, cap + 1) != classifier.rules().version
    assert classifier.parse_rules(seed, classifier.rules().categories, max_chars=cap + 1).version == \
        classifier.version_of(seed, cap + 1)
