"""`--target` patterns: `KIND/ID` with short kind names and shell-style globs in the id.

Input: the `--target` values, and the addresses the manifests and the cluster know. Output: the
concrete `Ref`s to plan. Pure, no I/O.

Kinds may be written in full (`AnomalyDetectionJob`) or short (`job`, `datafeed`, `dfa`,
`filter`, `calendar`), any case; `*` is every kind. The id may use `*`, `?` and `[...]`
(`job/web_*`, `DataFrameAnalytics/*`). A pattern that matches nothing is an error: planning
"No changes" for a typo would tell a CI job that all is well.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from reconciler.errors import UsageError
from reconciler.model import Kind, Ref

#: Accepted spellings of each kind (compared case-insensitively).
KIND_NAMES: dict[str, Kind] = {
    **{k.value.lower(): k for k in Kind},
    "job": Kind.JOB,
    "datafeed": Kind.DATAFEED,
    "dfa": Kind.DFA,
    "filter": Kind.FILTER,
    "calendar": Kind.CALENDAR,
}
_SPELLINGS = "job, datafeed, dfa, filter, calendar, the full kind names, or *"


@dataclass(frozen=True)
class Target:
    """One parsed `--target` value."""

    text: str
    kinds: frozenset[Kind]
    id_pattern: str

    def matches(self, ref: Ref) -> bool:
        """True when `ref` is one of the resources this pattern names."""
        return ref.kind in self.kinds and fnmatchcase(ref.id, self.id_pattern)


def parse_target(text: str) -> Target:
    """Parse `KIND/ID`; raises UsageError naming the accepted spellings."""
    kind_text, sep, ident = text.strip().partition("/")
    if not sep or not ident or not kind_text:
        raise UsageError(f"--target {text!r}: expected KIND/ID, for example job/web_latency")
    if kind_text == "*":
        kinds = frozenset(Kind)
    elif kind_text.lower() in KIND_NAMES:
        kinds = frozenset({KIND_NAMES[kind_text.lower()]})
    else:
        raise UsageError(f"--target {text!r}: unknown kind {kind_text!r}; use {_SPELLINGS}")
    return Target(text=text, kinds=kinds, id_pattern=ident)


def parse_targets(values: Sequence[str]) -> tuple[Target, ...]:
    """Parse every `--target` value (before anything is sent to a cluster)."""
    return tuple(parse_target(v) for v in values)


def expand_targets(targets: Sequence[Target], known: Iterable[Ref]) -> tuple[Ref, ...]:
    """The known addresses the patterns match, sorted; UsageError for a pattern matching none."""
    refs = sorted(set(known), key=lambda r: r.sort_key)
    chosen: set[Ref] = set()
    unmatched: list[str] = []
    for target in targets:
        hits = [r for r in refs if target.matches(r)]
        if not hits:
            unmatched.append(target.text)
        chosen.update(hits)
    if unmatched:
        raise UsageError(
            f"--target {', '.join(unmatched)}: matches no resource in the manifests or on the "
            "cluster; check the kind and id (mlsync plan without --target lists them)"
        )
    return tuple(sorted(chosen, key=lambda r: r.sort_key))
