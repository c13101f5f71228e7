"""Documents the pool's workers kept, visible to every worker: the exact-duplicate shortcut across workers.

Each worker remembers the raw-text hashes it kept and skips all work on a later copy (`Processor.outcomes`).
With one worker that catches every repeat; with N workers a copy whose original went to another worker
was cleaned, signed and shipped in full, only for the main process to drop it: on duplicate-heavy input
(Debian's copyright files repeat the same licence hundreds of times) that extra work is what kept
`--workers 2` from being twice as fast as `--workers 1`.

The table lives in an anonymous shared mapping made before the workers fork. Each worker writes only its
own section (no write races, no locks) and reads the others'. A slot is written once: the value, then the
key, so a reader sees an empty slot, a key without its value (treated as a miss) or the whole entry, never
another document's value. Only "kept in source S" is shared, and a worker uses an entry only when S comes
before its own source: the document the one-worker build keeps is then still the one kept, and a copy that
sees no entry in time is processed in full and dropped by the main process, as before. A cache, not a
verdict: a full table, or no fork (spawn platforms), only loses the shortcut.
"""
from __future__ import annotations

import mmap

import numpy as np

SLOTS_PER_WORKER = 1 << 19  # 8 MB per worker; past half full a worker stops adding (its own dict still works)
MAX_PROBES = 16


class SharedOutcomes:
    def __init__(self, workers: int, slots: int = SLOTS_PER_WORKER):
        if slots & (slots - 1):
            raise ValueError(f"slots must be a power of two, got {slots}")
        self.workers, self.slots = workers, slots
        self._map = mmap.mmap(-1, 2 * 8 * workers * slots)  # MAP_SHARED | MAP_ANONYMOUS: shared with forks
        table = np.frombuffer(self._map, dtype=np.uint64).reshape(2, workers, slots)
        self.keys, self.values = table[0], table[1]  # value = source index + 1 (0: not written yet)
        self.mine: int | None = None  # this process's section, set in the worker after the fork
        self.used = 0

    def claim(self, section: int) -> None:
        self.mine, self.used = section, int(np.count_nonzero(self.keys[section]))

    def add(self, key: int, source_index: int) -> None:
        """Record that this worker kept a document with raw-text hash `key`, read from `source_index`."""
        if self.mine is None or self.used * 2 >= self.slots:
            return
        key = key or 1  # 0 marks an empty slot
        keys, values = self.keys[self.mine], self.values[self.mine]
        slot = key & (self.slots - 1)
        for _ in range(MAX_PROBES):
            if keys[slot] == 0:
                values[slot] = source_index + 1
                keys[slot] = key
                self.used += 1
                return
            if keys[slot] == key:
                return
            slot = (slot + 1) & (self.slots - 1)

    def kept_before(self, key: int, source_index: int) -> bool:
        """Did another worker keep this document from a source before `source_index`?"""
        key = key or 1
        for section in range(self.workers):
            if section == self.mine:
                continue
            keys, values = self.keys[section], self.values[section]
            slot = key & (self.slots - 1)
            for _ in range(MAX_PROBES):
                found = int(keys[slot])
                if found == 0:
                    break
                if found == key:
                    value = int(values[slot])
                    if value and value - 1 < source_index:
                        return True
                    break
                slot = (slot + 1) & (self.slots - 1)
        return False
