"""`minqing bench --open311`: the Open311 API's latency under a bounded concurrent load (issue 21).

Starts the API (minqing/publishing/open311_api.py) in this process on a free loopback port, over the
current warehouse (the demo's after `make demo`), then for each concurrency sends a fixed number of
GET /requests.json pages of `page_size` requests from one asyncio client (httpx) — no thread per client, so
the figure is the server's and not the load generator's — and prints the median, the 95th percentile and the
throughput. Stops by itself; nothing listens beyond loopback. The issue's target: a median under 50 ms for
a page of 100.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time

TARGET_MEDIAN_MS = 50.0


def _server(url: str | None):
    import uvicorn

    from minqing.airflow_stack import free_port
    from minqing.publishing import open311_api

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(open311_api.create_app(url), host="127.0.0.1", port=port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the Open311 API did not start")
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


async def load(base: str, concurrency: int, requests: int, page_size: int, newest: str) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> None:
            nonlocal errors
            async with gate:
                started = time.perf_counter()
                answer = await client.get("/requests.json", params={"page": 1 + i % 3, "page_size": page_size,
                                                                   "end_date": newest})
                latencies.append(time.perf_counter() - started)
                errors += answer.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(requests)))
        wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {"concurrency": concurrency, "requests": requests, "errors": errors,
            "median_ms": round(1000 * statistics.median(ordered), 1),
            "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
            "per_second": round(requests / wall, 1)}


def run(url: str | None = None, concurrencies=(1, 4, 8), requests: int = 400, page_size: int = 100) -> dict:
    from minqing.publishing import open311

    with open311.reader_connection(url) as conn:
        total, newest = conn.execute("select count(*), max(requested_datetime) from marts.rpt_open311_requests").fetchone()
    if not total:
        raise RuntimeError("marts.rpt_open311_requests is empty: run the pipeline (make demo) first")
    server, thread, base = _server(url)
    try:
        rounds = [asyncio.run(load(base, c, requests, page_size, newest.isoformat())) for c in concurrencies]
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    return {"requests_served": total, "page_size": page_size, "target_median_ms": TARGET_MEDIAN_MS, "rounds": rounds}


def lines(result: dict) -> list[str]:
    out = [f"Open311 GET /requests.json, pages of {result['page_size']} over {result['requests_served']} requests "
           f"(target: median under {result['target_median_ms']:g} ms)"]
    for r in result["rounds"]:
        verdict = "meets" if r["median_ms"] < result["target_median_ms"] else "MISSES"
        out.append(f"  {r['concurrency']} at a time: median {r['median_ms']} ms, p95 {r['p95_ms']} ms, "
                   f"{r['per_second']} pages/s, {r['errors']} errors of {r['requests']} ({verdict} the target)")
    return out
