"""The supervisor's acknowledgement of a flag: a comment and, if wanted, a follow-up date."""

from __future__ import annotations

import datetime
from typing import Any

from django import forms

from core.concurrency import CreateForm
from core.dates import DateTextField

COMMENT_MAX = 2000


class AcknowledgeForm(CreateForm):
    """Only these two fields are read from the POST: the flag comes from the URL (checked
    against what the supervisor may acknowledge), the author is the signed-in supervisor."""

    comment = forms.CharField(
        max_length=COMMENT_MAX,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Write a comment for the therapist."},
    )
    # Typed in the practice's date format, or ISO (core.dates).
    follow_up_on = DateTextField(label="Follow up on", required=False)

    def __init__(self, *args: Any, today: datetime.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today

    def clean_follow_up_on(self) -> datetime.date | None:
        follow_up_on: datetime.date | None = self.cleaned_data.get("follow_up_on")
        if follow_up_on is not None and follow_up_on < self.today:
            raise forms.ValidationError("Choose today or a later date.")
        return follow_up_on
