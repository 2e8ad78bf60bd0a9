"""The page of an intervention's effect (`minqing effect --out`, issue 20) in a real headless Chromium: its four
charts drawn, no console error, nothing fetched, the figures those of the estimate it embeds."""

from __future__ import annotations

import datetime as dt
import json

from conftest import ARTIFACTS, chromium_page, chromium_path
from minqing.analytics import effects
from minqing.devtools import effect_eval
from minqing.devtools.generate import Effect
from minqing.publishing import effect_page


def test_the_effect_page_renders_its_charts_in_headless_chromium(tmp_path):
    chromium_path()
    categories = ("neighbor_dispute", "noise")
    start = effect_eval.FIRST_MONDAY + dt.timedelta(weeks=40)
    panel = effect_eval.simulate_panel(4, 60, 80, Effect("八一厂社区", start, -0.5, categories), categories)
    intervention = effects.Intervention("changlao", "常唠宽心话", ("bayichang",), start, None, categories, "", True)
    result = effects.result_dict(intervention, effects.estimate(panel, "八一厂社区", start))
    path = effect_page.write(result, tmp_path)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with chromium_page((900, 900)) as (page, problems, requests):
        page.goto(path.as_uri(), wait_until="load")
        counts = {chart: page.eval_on_selector_all(f"#{chart} circle, #{chart} rect, #{chart} polyline", "els => els.length")
                  for chart in ("trend-chart", "event-chart", "weights-chart", "placebo-chart")}
        reading = page.inner_text("#reading")
        embedded = json.loads(page.inner_text("#effect-data"))
        real_line = page.get_attribute("#real-estimate", "x1")
        page.screenshot(path=str(ARTIFACTS / "effect_changlao.png"), full_page=True)

    assert problems == [] and requests == [path.as_uri()]
    assert all(n > 0 for n in counts.values()), counts
    assert counts["trend-chart"] >= 2 + len(result["synthetic"]["weeks"])  # two lines and a point a block
    assert counts["event-chart"] == len(result["event_study"])
    assert counts["weights-chart"] == len(result["synthetic"]["weights"])
    assert reading == result["reading"] and embedded["effect_pct"] == result["effect_pct"]
    assert embedded["placebos"] == result["placebos"] and real_line is not None
