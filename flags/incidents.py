"""Incidents: the open flags of one couple that name the same evidence, shown and acknowledged
together (docs/signals.md, "Incidents").

One walk-out after a confrontation in which the therapist had a large part opens three flags
(unresolved rupture, confrontation then absence, high therapist contribution), all naming the
one rupture. A supervisor reads them as one incident and acknowledges it once; each flag keeps
its own open and close history, since each kind closes on its own rule.

The rule, in one place:

- the flags about one rupture (unresolved rupture, confrontation then absence, high therapist
  contribution) belong together when their evidence names the same rupture;
- the flags about one session's measures (alliance drop, report mismatch) belong together
  when they point at the same session (the session of the drop or of the mismatch);
- the flags about a course over many sessions (recurring rupture, split alliance widening,
  gone quiet, stuck in stage 1), and any flag without evidence, stand alone: they are patterns,
  and joining them would fold separate incidents into one.

Only open flags are grouped: a closed flag is history and is shown on its own.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ruptures.models import FlagKind

RUPTURE_KINDS = frozenset(
    {
        FlagKind.UNRESOLVED_RUPTURE,
        FlagKind.CONFRONTATION_THEN_ABSENCE,
        FlagKind.HIGH_THERAPIST_CONTRIBUTION,
    }
)
SESSION_KINDS = frozenset({FlagKind.ALLIANCE_DROP, FlagKind.REPORT_MISMATCH})
KIND_ORDER = {kind: n for n, kind in enumerate(FlagKind.values)}


class FlagLike(Protocol):
    """What grouping reads of a flag: a ruptures.Flag, or the review's packed OpenFlag."""

    @property
    def pk(self) -> Any: ...

    @property
    def kind(self) -> str: ...

    @property
    def evidence(self) -> Any: ...  # {"ruptures": [ids], "sessions": [numbers]}

    @property
    def opened_on(self) -> datetime.date: ...


def evidence_key(flag: FlagLike) -> tuple[str, int]:
    """What the flag is about: ("rupture", id), ("session", number), or ("flag", its own pk)
    when it stands alone."""
    evidence = flag.evidence or {}
    ruptures = evidence.get("ruptures") or []
    sessions = evidence.get("sessions") or []
    if flag.kind in RUPTURE_KINDS and len(ruptures) == 1:
        return ("rupture", int(ruptures[0]))
    if flag.kind in SESSION_KINDS and sessions:
        return ("session", int(sessions[0]))
    return ("flag", int(flag.pk))


@dataclass(frozen=True)
class Incident:
    """Open flags of one couple sharing their evidence; most incidents are one flag.

    `flags` are the FlagLike rows given (Flags, or the review's packed flags), typed Any so
    the screens read what their rows carry (a Flag's acknowledgements)."""

    flags: tuple[Any, ...]  # in the order of the flag definitions (FlagKind)

    @property
    def pk(self) -> int:
        """The lead flag's id: the one the acknowledgement form is addressed to."""
        return min(int(flag.pk) for flag in self.flags)

    @property
    def lead(self) -> Any:
        return next(flag for flag in self.flags if int(flag.pk) == self.pk)

    @property
    def is_shared(self) -> bool:
        return len(self.flags) > 1

    @property
    def kinds(self) -> list[str]:
        return [flag.kind for flag in self.flags]

    @property
    def opened_on(self) -> datetime.date:
        return min(flag.opened_on for flag in self.flags)

    @property
    def sessions(self) -> list[int]:
        """Every session the flags name, by number."""
        return sorted(
            {int(n) for flag in self.flags for n in (flag.evidence or {}).get("sessions") or []}
        )

    @property
    def sessions_text(self) -> str:
        """ "session 1", "sessions 1 and 2", "sessions 1, 4 and 7"; "" without any."""
        return sessions_text(self.sessions)

    def __contains__(self, flag: object) -> bool:
        return any(flag is f or getattr(flag, "pk", None) == f.pk for f in self.flags)


def incidents(open_flags: Iterable[FlagLike]) -> list[Incident]:
    """The couple's open flags grouped into incidents (flags of several couples: give one
    couple's at a time). Most recent incident first, as the flags are listed."""
    groups: dict[tuple[str, int], list[FlagLike]] = {}
    for flag in open_flags:
        groups.setdefault(evidence_key(flag), []).append(flag)
    found = [
        Incident(tuple(sorted(flags, key=lambda f: (KIND_ORDER.get(f.kind, 99), int(f.pk)))))
        for flags in groups.values()
    ]
    return sorted(found, key=_most_recent_first)


def incident_of(flag: FlagLike, open_flags: Iterable[FlagLike]) -> Incident:
    """The incident `flag` belongs to among the couple's `open_flags` (itself alone when it
    is closed, or not among them)."""
    key = evidence_key(flag)
    together = [f for f in open_flags if evidence_key(f) == key]
    if not any(f.pk == flag.pk for f in together):
        return Incident((flag,))
    return next(i for i in incidents(together) if flag in i)


def _most_recent_first(incident: Incident) -> tuple[int, int, int]:
    """Latest opened first; among those opened on one day, the later sessions first."""
    latest_session = max(incident.sessions, default=0)
    return (-incident.opened_on.toordinal(), -latest_session, incident.pk)


def sessions_text(numbers: list[int]) -> str:
    """ "session 1", "sessions 1 and 2", "sessions 1, 4 and 7"; "" for none."""
    if not numbers:
        return ""
    if len(numbers) == 1:
        return f"session {numbers[0]}"
    listed = ", ".join(str(n) for n in numbers[:-1])
    return f"sessions {listed} and {numbers[-1]}"
