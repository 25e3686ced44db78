"""Records kept in revisions (the cycle map, the treatment plan): which two a history page
compares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def compared(query: Mapping[str, str], newest_first: Sequence[int]) -> tuple[int, int] | None:
    """(older, newer): the revision numbers the page's `from` and `to` name, or, when it names
    none, the latest two; None when it names one that doesn't exist or there is no pair."""
    try:
        older, newer = int(query.get("from", "")), int(query.get("to", ""))
    except ValueError:
        if len(newest_first) < 2:
            return None
        return newest_first[1], newest_first[0]
    if older not in newest_first or newer not in newest_first:
        return None
    return older, newer
