"""Sign-in page wording that follows the settings: why someone was signed out."""

from __future__ import annotations

from django import template

from people.middleware import signed_out_message

register = template.Library()


@register.simple_tag
def signed_out_reason(reason: str) -> str:
    """`{% signed_out_reason request.GET.signed_out %}`: the sentence, or "" for no reason."""
    return signed_out_message(reason)
