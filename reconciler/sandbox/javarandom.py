"""Java's `String.hashCode` and `java.util.Random`, enough to derive datafeed defaults.

Input: a job id. Output: the default datafeed `query_delay` in milliseconds, exactly as
`DatafeedConfig.Builder.defaultRandomQueryDelay` computes it (es-ml-api.md §2.2). Also a seeded
random long for DFA `randomize_seed`. No I/O.
"""

from __future__ import annotations

_MASK48 = (1 << 48) - 1
_MASK64 = (1 << 64) - 1


def java_string_hash(text: str) -> int:
    """`String.hashCode()` over UTF-16 code units, as a signed 32-bit int."""
    h = 0
    data = text.encode("utf-16-be")
    for i in range(0, len(data), 2):
        h = (31 * h + ((data[i] << 8) | data[i + 1])) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


class JavaRandom:
    """The 48-bit LCG of `java.util.Random`."""

    def __init__(self, seed: int) -> None:
        self._seed = (seed ^ 0x5DEECE66D) & _MASK48

    def _next(self, bits: int) -> int:
        self._seed = (self._seed * 0x5DEECE66D + 0xB) & _MASK48
        r = self._seed >> (48 - bits)
        return r - (1 << bits) if r >= 1 << (bits - 1) else r

    def next_long(self) -> int:
        """`Random.nextLong()` as a signed 64-bit value."""
        v = ((self._next(32) << 32) + self._next(32)) & _MASK64
        return v - (1 << 64) if v >= 1 << 63 else v

    def bounded_long(self, origin: int, bound: int) -> int:
        """`RandomSupport.boundedNextLong(rng, origin, bound)` (Java 17+, `longs(o, b)`)."""
        n = bound - origin
        m = n - 1
        r = self.next_long()
        if n & m == 0:
            return (r & m) + origin
        u = (r & _MASK64) >> 1
        while True:
            r = u % n
            # Java rejects when u + m - r overflows a signed long.
            if u + m - r < (1 << 63):
                return r + origin
            u = (self.next_long() & _MASK64) >> 1


def default_query_delay_ms(job_id: str) -> int:
    """The job-id-derived default `query_delay` (60000..119999 ms), es-ml-api.md §2.2."""
    return JavaRandom(java_string_hash(job_id)).bounded_long(60_000, 120_000)
