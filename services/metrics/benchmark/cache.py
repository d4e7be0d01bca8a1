"""A per-process cache of rendered results responses.

What is cached is the *rendered body* of a response (JSON or CSV bytes), never an access
decision: every request still authenticates, checks role, organisation scope, that the
cycle is published and that today is inside the access window, using the cycle row read
fresh for the request by a snapshot query sent after it arrived (``snapshots.py``). Only
then is the cache consulted.

Keys name everything a body depends on: the endpoint and format, the organisation, the
cycle, the peer group's canonical key, the metric, and whether the caller is an admin
(trends list unpublished cycles to admins only). Each entry also carries the data
version read by the same snapshot query; an entry is only served to a request that read
the same version, so a finished recompute or a changed cycle is never answered from
older figures. Why a version query and not a TTL: the query is exact in every worker
process and, shared by the requests that arrive together (``snapshots.py``), cheap; a TTL
would serve stale figures for its whole length, and LISTEN/NOTIFY would answer from
older figures until the notification arrived.

A body built from data newer than the version it is filed under (a recompute committing
between the snapshot and the build) is harmless: the next request reads the newer
version and misses. The reverse cannot happen: the build reads after the snapshot.

Only bodies with codes are filed. A named view (a results workshop's members seeing each
other's names) is built for its request alone and never filed here (``router._answer``),
so no key or lifetime can let a name reach a principal who may not see it, or outlive
the workshop.

Bounded: least recently used entries are evicted beyond ``size`` entries; ``size`` 0
turns the cache off. Thread-safe: hits are looked up on the event loop, bodies built on
a miss are filed from the thread pool.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from shared.observability import record_cache_lookup


@dataclass(frozen=True)
class Body:
    content: bytes
    media_type: str
    filename: str | None = None  # CSV attachments
    total: int | None = None  # rows in the whole result (a paged CSV's X-Total-Count)


class ResultCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Hashable, tuple[Hashable, Body]] = OrderedDict()
        self._lock = threading.Lock()
        self._version: Hashable = None
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def get(self, key: Hashable, version: Hashable) -> Body | None:
        with self._lock:
            if version != self._version:
                # The data changed (or this request read an older snapshot than another):
                # whatever is filed under another version will not be served again by a
                # request that read this one; drop it all rather than let it age out.
                self._entries.clear()
                self._version = version
            entry = self._entries.get(key)
            if entry is None or entry[0] != version:
                self.misses += 1
                record_cache_lookup(hit=False)
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            record_cache_lookup(hit=True)
            return entry[1]

    def put(self, key: Hashable, version: Hashable, body: Body) -> None:
        if self.size <= 0:
            return
        with self._lock:
            if self._version is None:
                self._version = version
            if version != self._version:
                return  # built from an older snapshot than the latest seen: not worth keeping
            self._entries[key] = (version, body)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
