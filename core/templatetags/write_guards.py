"""`{% request_token_input %}`: a hand-written create form's idempotency token
(core/concurrency.py), kept from the submitted form when it is shown again."""

from __future__ import annotations

import uuid
from typing import Any

from django import template
from django.utils.html import format_html

register = template.Library()


@register.simple_tag
def request_token_input(form: Any = None) -> str:
    """The hidden input: the bound form's token when redrawn, else a new one."""
    token = ""
    if form is not None and getattr(form, "is_bound", False):
        token = str(form.data.get("request_token", ""))
    return format_html(
        '<input type="hidden" name="request_token" value="{}">', token or uuid.uuid4()
    )
