"""Logs carry ids, never clinical content (checklist: nothing clinical in logs).

Database errors quote the failing row ("DETAIL: Failing row contains (…, 'the progress note
text', …)") and exception messages can quote form values, so the formatter writes an
exception's type and the code locations of its traceback, never its message or locals.
Our own log calls pass ids and counts only.
"""

from __future__ import annotations

import logging
import traceback
from types import TracebackType


class RedactingFormatter(logging.Formatter):
    def formatException(
        self,
        ei: tuple[type[BaseException], BaseException, TracebackType | None]
        | tuple[None, None, None],
    ) -> str:
        kind, error, trace = ei
        if kind is None:
            return ""
        frames = traceback.extract_tb(trace)
        lines = [f'  File "{f.filename}", line {f.lineno}, in {f.name}' for f in frames]
        chain: list[str] = []
        cause = error.__cause__ or error.__context__ if error is not None else None
        while cause is not None and len(chain) < 5:
            chain.append(type(cause).__name__)
            cause = cause.__cause__ or cause.__context__
        caused_by = f" (from {' <- '.join(chain)})" if chain else ""
        return "\n".join(["Traceback (message withheld):", *lines, f"{kind.__name__}{caused_by}"])

    def format(self, record: logging.LogRecord) -> str:
        record.exc_text = None  # never reuse a cached, unredacted rendering
        return super().format(record)
