"""Work spread over forked processes with memory bounded: what the loader's parsers and the
classifier's large rounds share."""

from __future__ import annotations

import multiprocessing
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(fn: Callable[[Item], Result], items: Iterable[Item], processes: int) -> Iterator[tuple[Item, Result]]:
    """(item, fn(item)) for every item, in the items' order, computed by `processes` forked workers
    with at most two items per worker in flight, so that memory stays bounded however many there are.
    Forked, not spawned: a spawned worker imports the caller's __main__ again, which would re-run a
    script that calls the pipeline without a main guard; what the parent loaded (rules, a model, a
    dictionary) is inherited."""
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        in_flight: deque = deque()
        try:
            for item in items:
                in_flight.append((item, pool.submit(fn, item)))
                if len(in_flight) >= 2 * processes:
                    item, future = in_flight.popleft()
                    yield item, future.result()
            while in_flight:
                item, future = in_flight.popleft()
                yield item, future.result()
        finally:
            for _, future in in_flight:
                future.cancel()
