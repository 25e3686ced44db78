"""CSV exports streamed a line at a time, every cell safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """A cell a spreadsheet won't run as a formula: one starting with = + - @, a tab or a
    carriage return gets a leading single quote (OWASP's advice on CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    """A file-like object whose write hands the line back: csv.writer into a generator."""

    def write(self, value: str) -> str:
        return value


def streamed_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header, then each row, as CSV lines for a StreamingHttpResponse; cells made safe."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for cells in rows:
        yield writer.writerow([csv_safe(cell) for cell in cells])
