"""The ownership registry's search window, set before an apply writes a member.

Input: a client and the plan's steps. Output: None, or a warning when the window could not be
set. I/O: one or two index requests on `mlsync-registry` through the client.

Elasticsearch answers at most `index.max_result_window` hits per search, 10 000 by default, and
the registry is made by its first member write unless mlsync makes it first. A fleet of 8,000
jobs with datafeeds has 16,000 members, which one plan must read in its one registry search
(`reconciler.registry.WINDOW`). So before the first registry write of an apply: the settings
update (one request), and when there is no registry yet (404), the index made with the window
(once per cluster). Not fatal when refused (a key without `manage` on the index): members are
written either way, and a plan reads up to 10 000 of them with one request more.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler import registry
from reconciler.apply.waits import Client, send
from reconciler.client.errors import BadRequestError, ClientError, NotFoundError, describe_error
from reconciler.model import Step


def widen_registry(client: Client, steps: Iterable[Step]) -> str | None:
    """Give the registry mlsync's window if these steps write to it; a warning if refused."""
    if not registry.writes_registry(step.call for step in steps):
        return None
    update, create = registry.settings_calls()
    try:
        try:
            send(client, update)
        except NotFoundError:
            try:
                send(client, create)
            except BadRequestError as exc:
                if exc.message != "resource_already_exists_exception":
                    raise
                send(client, update)  # another apply made it in between: it may lack the window
    except ClientError as exc:
        return (
            f"could not set the search window of the ownership registry "
            f"{registry.REGISTRY_INDEX} ({describe_error(exc)}); plans read at most "
            f"{registry.PAGE} of its members until an apply can (it needs the create_index and "
            "manage privileges on that index)"
        )
    return None
