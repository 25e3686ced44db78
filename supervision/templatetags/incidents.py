"""The couple page's open flags as incidents (flags.incidents), for its flags list:
`{% for incident in open_flags|incidents %}`; `flag|as_incident` makes one flag (a closed one,
or one shown alone) an incident of its own, so one template shows either."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import template

from flags.incidents import Incident
from supervision.review import ShownIncident, shown, shown_incidents

if TYPE_CHECKING:
    from ruptures.models import Flag

register = template.Library()


@register.filter
def incidents(open_flags: list[Flag]) -> list[ShownIncident]:
    """One couple's open flags, their acknowledgements prefetched, grouped: no query."""
    return shown_incidents(open_flags, with_acknowledgements=True)


@register.filter
def as_incident(value: Any) -> ShownIncident:
    if isinstance(value, ShownIncident):
        return value
    return shown(Incident((value,)), with_acknowledgements=True)
