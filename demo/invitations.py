"""The demo's remote answer links (invitations/): the seed case's partners have invented
addresses, so a therapist trying the demo can send a link from the couple page ("Partners
answer remotely"). With `make run` the e-mail is printed in the terminal: open its link in
another browser to answer as the partner. Every address is invented, at example.invalid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from invitations import services

if TYPE_CHECKING:
    from demo.data import BuiltCouple


def add_partner_addresses(built: list[BuiltCouple]) -> None:
    for entry in built:
        if not entry.spec.seed_case:
            continue
        for partner in entry.couple.partners.all():
            address = f"{partner.display_name.split()[0].lower()}@example.invalid"
            services.contact_set(couple=entry.couple, partner=partner.label, email=address)
