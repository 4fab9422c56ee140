"""Bounds on template work: a pull request's manifests cannot stall or exhaust CI.

Input: the template operations Jinja's sandbox hands to its hooks (binary operators, calls,
attribute access, `range`, output chunks) and the filters it calls. Output: a sandboxed
environment whose templates raise `TemplateLimitError` (a plain message, reported at the
value's file:line) instead of running for minutes or allocating gigabytes. No I/O.

The sandbox alone blocks unsafe attribute access, not cost: `9 ** (9 ** 9)` runs for minutes
inside one C call, `'x' * 2**30` allocates gigabytes, nested loops never end. So:
- sizes are checked BEFORE the operation that would create them (integer powers and products,
  string and list repetition and concatenation, padding widths of `%`/`format`/`center`/...,
  `replace` growth), and every value's output is checked while it is produced;
- `range()` is limited per call (Jinja's MAX_RANGE) and in total, counted as it is iterated;
- time: every hook checks a budget of template work for the whole run, and on the main
  thread an interval timer interrupts loops that call no hook at all (`{% for %}` over a
  string with an empty body).
"""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2.sandbox import MAX_RANGE, ImmutableSandboxedEnvironment, safe_range

__all__ = [
    "MAX_INTEGER_BITS",
    "MAX_ITERATIONS",
    "MAX_OUTPUT_CHARS",
    "MAX_SECONDS",
    "MAX_WIDTH",
    "BoundedEnvironment",
    "TemplateLimitError",
]

#: Seconds of template work allowed for a whole run (all values of all manifests together).
MAX_SECONDS = 10.0
#: Characters (or list items) one templated value may produce.
MAX_OUTPUT_CHARS = 1_000_000
#: Bits of any integer a template computes (an Elasticsearch long has 64).
MAX_INTEGER_BITS = 256
#: `range()` items iterated in a whole run.
MAX_ITERATIONS = 1_000_000
#: Largest padding width in `%`/`format()`/`center`/`indent`/... .
MAX_WIDTH = 10_000

_WHAT_TO_DO = "; templates may only build manifest values, not compute at scale"


class TemplateLimitError(Exception):
    """A template exceeded a bound; the message says which and is shown as is."""


class _Timeout(BaseException):
    """Raised by the interval timer (a BaseException: no `except Exception` may swallow it)."""


class _Budget:
    """Seconds of template work used so far, and the iteration count."""

    def __init__(self, seconds: float, iterations: int) -> None:
        self.seconds = seconds
        self.iterations = iterations
        self.used = 0.0
        self.iterated = 0
        self._started: float | None = None

    def check(self) -> None:
        spent = self.used + (time.monotonic() - self._started if self._started else 0.0)
        if spent > self.seconds:
            raise TemplateLimitError(
                f"template work exceeded {self.seconds:g} seconds for this run{_WHAT_TO_DO}"
            )

    def count(self, items: int) -> None:
        self.iterated += items
        if self.iterated > self.iterations:
            raise TemplateLimitError(
                f"templates iterated over more than {self.iterations} range() items in this "
                f"run{_WHAT_TO_DO}"
            )

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Account the block's time; interrupt it on the main thread when the budget ends."""
        self.check()
        self._started = time.monotonic()
        timer = threading.current_thread() is threading.main_thread() and hasattr(
            signal, "setitimer"
        )
        previous: Any = None
        if timer:

            def expire(signum: int, frame: object) -> None:
                raise _Timeout

            previous = signal.signal(signal.SIGALRM, expire)
            signal.setitimer(signal.ITIMER_REAL, max(0.001, self.seconds - self.used))
        try:
            yield
        except _Timeout:
            raise TemplateLimitError(
                f"template work exceeded {self.seconds:g} seconds for this run{_WHAT_TO_DO}"
            ) from None
        finally:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            self.used += time.monotonic() - self._started
            self._started = None


def _too_big(what: str, size: int, limit: int) -> TemplateLimitError:
    return TemplateLimitError(f"{what} would be {size} long, more than the limit of {limit}")


def _check_size(what: str, size: int) -> None:
    if size > MAX_OUTPUT_CHARS:
        raise _too_big(what, size, MAX_OUTPUT_CHARS)


def _check_width(what: str, width: Any) -> None:
    if isinstance(width, int) and not isinstance(width, bool) and width > MAX_WIDTH:
        raise TemplateLimitError(f"{what} width {width} is more than the limit of {MAX_WIDTH}")


def _bits(value: int) -> int:
    return abs(value).bit_length()


def _check_integer(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and _bits(value) > MAX_INTEGER_BITS:
        raise TemplateLimitError(
            f"a template integer has more than {MAX_INTEGER_BITS} bits{_WHAT_TO_DO}"
        )


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*:([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")


def _check_format(fmt: str, percent: bool) -> None:
    """Refuse `%`/`format` specifications whose widths are too large or computed."""
    if percent:
        for width, precision in _PERCENT_SPEC.findall(fmt):
            for number in (width, precision):
                if number == "*":
                    raise TemplateLimitError("a '*' width in a % format is not allowed")
                if number:
                    _check_width("the % format", int(number))
        return
    for spec in _FORMAT_SPEC.findall(fmt):
        if "{" in spec:
            raise TemplateLimitError("a computed width in a format() specification is not allowed")
        for number in re.findall(r"\d+", spec):
            _check_width("the format() specification", int(number))


def _replace_size(text: Any, old: Any, new: Any, count: Any = -1) -> int:
    if not isinstance(text, str) or not isinstance(old, str) or not isinstance(new, str):
        return 0
    hits = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


def _estimate(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Check a string filter or method call before it runs (`name` is the filter/method)."""
    if name == "replace":
        _check_size("the result of replace()", _replace_size(value, *args[:3]))
    elif name in ("center", "ljust", "rjust", "zfill", "indent"):
        width = args[0] if args else kwargs.get("width", kwargs.get("length"))
        _check_width(f"the {name}()", width)
        if name == "indent" and isinstance(value, str) and isinstance(width, int):
            _check_size("the result of indent()", len(value) + width * (value.count("\n") + 1))
    elif name == "expandtabs" and isinstance(value, str):
        size = args[0] if args else kwargs.get("tabsize", 8)
        _check_width("the expandtabs()", size)
    elif name == "format" and isinstance(value, str):
        _check_format(value, percent="{" not in value)


class _CountedRange:
    """`range()` as the sandbox allows it, counting the items iterated against the budget."""

    def __init__(self, items: range, budget: _Budget) -> None:
        self._items = items
        self._budget = budget

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, value: object) -> bool:
        return value in self._items

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[int]:
        for position, item in enumerate(self._items):
            if position % 1000 == 0:
                self._budget.count(min(1000, len(self._items) - position))
                self._budget.check()
            yield item


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with bounded time, sizes, integers and loops."""

    intercepted_binops = frozenset({"*", "**", "+", "%", "//", "-"})
    intercepted_unops = frozenset({"-"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.budget = _Budget(MAX_SECONDS, MAX_ITERATIONS)
        self.globals["range"] = self._range
        for name in ("replace", "center", "indent", "format"):
            self.filters[name] = _guarded_filter(name, self.filters[name])

    def _range(self, *args: int) -> _CountedRange:
        for value in args:
            _check_integer(value)
        try:
            items = safe_range(*args)
        except OverflowError:  # Jinja's own per-call bound (MAX_RANGE)
            raise TemplateLimitError(
                f"range() may have at most {MAX_RANGE} items{_WHAT_TO_DO}"
            ) from None
        return _CountedRange(items, self.budget)

    def concat(self, chunks: Iterable[str]) -> str:
        """Join a template's output, checking its size and the budget on every chunk."""
        out: list[str] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            _check_size("the template's output", size)
            self.budget.check()
            out.append(chunk)
        return "".join(out)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse an operation whose result would be too large, before computing it."""
        self.budget.check()
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (left, right))
        if operator == "**" and ints and right > 0 and _bits(left) > 1:
            if (_bits(left) - 1) * right > MAX_INTEGER_BITS:
                raise TemplateLimitError(
                    f"{left} ** {right} has more than {MAX_INTEGER_BITS} bits{_WHAT_TO_DO}"
                )
        elif operator == "*" and ints:
            if _bits(left) + _bits(right) > MAX_INTEGER_BITS + 1:
                raise TemplateLimitError(
                    f"a template integer has more than {MAX_INTEGER_BITS} bits{_WHAT_TO_DO}"
                )
        elif operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    _check_size("a repeated string or list", len(seq) * max(0, times))
        elif operator == "+" and isinstance(left, str | list | tuple):
            if isinstance(right, str | list | tuple):
                _check_size("a joined string or list", len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _check_format(left, percent=True)
        result = super().call_binop(context, operator, left, right)
        _check_integer(result)
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """Check a call's cost where it can be known before it runs (`str.replace`, ...)."""
        __self.budget.check()
        # The sandbox hands `str.format` out wrapped (functools keeps the method as __wrapped__).
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            _estimate(name, owner, args, kwargs)
        for value in args:
            _check_integer(value)
        result = super().call(__context, __obj, *args, **kwargs)
        if isinstance(result, str | list | tuple):
            _check_size("a call's result", len(result))
        _check_integer(result)
        return result

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Attribute access (also counts against the time budget)."""
        self.budget.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Item access (also counts against the time budget)."""
        self.budget.check()
        return super().getitem(obj, argument)


def _guarded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` checking its cost first; Jinja's pass-context markers are kept (functools)."""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        # Filters marked pass_environment / pass_eval_context receive that object first.
        values = [a for a in args if isinstance(a, str | int | float | list | tuple)]
        if values:
            _estimate(name, values[0], tuple(values[1:]), kwargs)
        result = func(*args, **kwargs)
        if isinstance(result, str):
            _check_size(f"the result of {name}()", len(result))
        return result

    return guarded
