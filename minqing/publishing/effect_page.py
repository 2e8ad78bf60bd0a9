"""The page of an intervention's effect (`minqing effect --out DIR`, issue 20): one self-contained Chinese HTML
file — no script, no font or library fetched — with the reading and four charts drawn as inline SVG:

- the community against its synthetic control over time (each indexed to its pre-period level);
- the event study: the difference by blocks of weeks around the start, with intervals;
- the synthetic control's donor weights;
- the placebo estimates (in space and in time) with the real estimate marked.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from minqing.publishing import pages


WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 720, 260, 56, 16, 14, 40
EVENT_TOP = 300.0  # the event study's axis stops here (%): a longer interval is drawn to the top


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round ticks covering [low, high]."""
    span = (high - low) or 1.0
    raw = span / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if step * m >= raw)
    first = math.floor(low / step) * step
    return [round(first + i * step, 10) for i in range(int(math.ceil((high - first) / step)) + 1)]


class _Scale:
    def __init__(self, values: list[float], pixels_from: float, pixels_to: float, include: tuple[float, ...] = ()):
        finite = [v for v in [*values, *include] if v is not None and math.isfinite(v)] or [0.0, 1.0]
        self.ticks = _ticks(min(finite), max(finite))
        self.low, self.high = self.ticks[0], self.ticks[-1]
        self.a, self.b = pixels_from, pixels_to

    def __call__(self, value: float) -> float:
        return round(self.a + (value - self.low) / ((self.high - self.low) or 1) * (self.b - self.a), 2)


def trend_chart(synthetic: dict, start: str) -> dict:
    """Two lines: the treated community's indexed series and its synthetic control's, by block of weeks."""
    weeks, mine, twin = synthetic.get("weeks", []), synthetic.get("treated_index", []), synthetic.get("synthetic_index", [])
    if not weeks:
        return {}
    x = _Scale(list(range(len(weeks))), LEFT, WIDTH - RIGHT)
    y = _Scale([*mine, *twin], HEIGHT - BOTTOM, TOP, include=(0.0,))
    cut = next((i for i, w in enumerate(weeks) if w >= start), len(weeks)) - 0.5
    return {
        "width": WIDTH, "height": HEIGHT,
        "mine": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(mine)),
        "twin": " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(twin)),
        "points": [{"x": x(i), "y": y(v), "title": f"{w} 起 {synthetic.get('block_weeks', 4)} 周：本社区 {v:.2f}，合成对照 {t:.2f}"}
                   for i, (w, v, t) in enumerate(zip(weeks, mine, twin))],
        "start_x": x(cut), "top": TOP, "bottom": HEIGHT - BOTTOM, "left": LEFT, "right": WIDTH - RIGHT,
        "yticks": [{"y": y(t), "label": f"{t:g}"} for t in y.ticks],
        "xlabels": [{"x": x(i), "label": w[:7]} for i, w in enumerate(weeks) if i % max(1, len(weeks) // 8) == 0],
    }


def event_chart(blocks: list[dict], block_weeks: int) -> dict:
    """Points with interval bars: the effect (%) by block of weeks relative to the start."""
    if not blocks:
        return {}
    blocks = [b for b in blocks if b["effect_pct"] is not None]
    # a block of few complaints has an interval to +1000% and more: the axis stops at EVENT_TOP
    values = [min(v, EVENT_TOP) for b in blocks for v in (b["effect_pct"], b["ci_low_pct"], b["ci_high_pct"])
              if v is not None]
    x = _Scale([b["block"] for b in blocks], LEFT + 8, WIDTH - RIGHT - 8)
    y = _Scale(values, HEIGHT - BOTTOM, TOP, include=(0.0,))
    return {
        "width": WIDTH, "height": HEIGHT, "zero_y": y(0), "left": LEFT, "right": WIDTH - RIGHT,
        "start_x": round((x(-1) + x(0)) / 2, 2), "top": TOP, "bottom": HEIGHT - BOTTOM,
        "marks": [{"x": x(b["block"]), "y": y(min(b["effect_pct"], EVENT_TOP)),
                   "y_low": y(b["ci_low_pct"] if b["ci_low_pct"] is not None else y.low),
                   "y_high": y(min(b["ci_high_pct"], EVENT_TOP) if b["ci_high_pct"] is not None else y.high),
                   "title": f"第 {b['from_week']} 至 {b['to_week']} 周：{b['effect_pct']:+.0f}%"
                            + ("（区间无界）" if b["ci_high_pct"] is None or b["ci_low_pct"] is None
                               else f"（{b['ci_low_pct']:+.0f}% 至 {b['ci_high_pct']:+.0f}%）")}
                  for b in blocks],
        "yticks": [{"y": y(t), "label": f"{t:+g}%"} for t in y.ticks],
        "xlabels": [{"x": x(b["block"]), "label": str(b["from_week"])} for b in blocks
                    if b["block"] % max(1, len(blocks) // 10) == 0 or b["block"] == -1],
        "block_weeks": block_weeks,
    }


def weights_chart(weights: dict[str, float]) -> dict:
    """Horizontal bars: the synthetic control's donor weights."""
    rows = sorted(weights.items(), key=lambda kv: -kv[1])
    row_h, left = 26, 130
    return {"width": WIDTH, "height": 10 + row_h * len(rows), "left": left,
            "bars": [{"y": 10 + i * row_h, "w": round((WIDTH - left - 70) * w, 2), "name": name, "label": f"{w:.0%}"}
                     for i, (name, w) in enumerate(rows)]}


def placebo_chart(placebos: list[dict], real: float) -> dict:
    """A histogram of the placebo estimates (%), space and time stacked, with the real estimate marked."""
    placebos = [p for p in placebos if p["effect_pct"] is not None]
    values = [p["effect_pct"] for p in placebos]
    if not values:
        return {}
    x = _Scale([*values, real], LEFT, WIDTH - RIGHT, include=(0.0,))
    edges = x.ticks
    width = (edges[1] - edges[0]) / 5 if len(edges) > 1 else 1.0
    bins = [edges[0] + i * width for i in range(int(round((edges[-1] - edges[0]) / width)) + 1)]
    counts = []
    for lo, hi in zip(bins, bins[1:]):
        inside = [p for p in placebos if lo <= p["effect_pct"] < hi or (hi == bins[-1] and p["effect_pct"] == hi)]
        counts.append((lo, hi, sum(p["kind"] == "space" for p in inside), sum(p["kind"] == "time" for p in inside)))
    y = _Scale([s + t for _, _, s, t in counts], HEIGHT - BOTTOM, TOP, include=(0.0,))
    bars = []
    for lo, hi, space, time in counts:
        for kind, n, base in (("space", space, 0), ("time", time, space)):
            if n:
                bars.append({"x": x(lo) + 1, "w": max(1.0, x(hi) - x(lo) - 2), "y": y(base + n), "h": y(base) - y(base + n),
                             "kind": kind, "title": f"{lo:+g}% 至 {hi:+g}%：{n} 个{'空间' if kind == 'space' else '时间'}安慰剂"})
    return {"width": WIDTH, "height": HEIGHT, "bars": bars, "real_x": x(real), "real": real, "top": TOP,
            "bottom": HEIGHT - BOTTOM, "left": LEFT, "right": WIDTH - RIGHT,
            "xticks": [{"x": x(t), "label": f"{t:+g}%"} for t in edges], "yticks": [{"y": y(t), "label": f"{t:g}"} for t in y.ticks]}


def render(result: dict) -> str:
    """The page of `minqing.analytics.effects.result_dict`'s output."""
    env = pages.environment()
    synthetic = result.get("synthetic") or {}
    charts = {
        "trend": trend_chart(synthetic, result["start"]),
        "event": event_chart(result.get("event_study") or [], synthetic.get("block_weeks", 4)),
        "weights": weights_chart(synthetic.get("weights") or {}),
        "placebo": placebo_chart(result.get("placebos") or [], result["effect_pct"]) if result.get("effect_pct") is not None else {},
    }
    return env.get_template("effect.html.j2").render(r=result, charts=charts,
                                                     data=json.dumps(result, ensure_ascii=False, default=str))


def write(result: dict, out: Path) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"effect_{result['intervention_id']}_{result['start']}.html"
    path.write_text(render(result), encoding="utf-8")
    return path
