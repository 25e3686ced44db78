"""Helpers the consultation-group tests share: reading pages and PDFs as text."""

from __future__ import annotations

import html
import io
import re

import pypdf


def squeeze(text: str) -> str:
    """Lower case without whitespace: a PDF may break a name across lines or spaces."""
    return re.sub(r"\s+", "", text).lower()


def found_in(text: str, needles: list[str]) -> list[str]:
    """The needles that occur in the text, whitespace and case aside."""
    haystack = squeeze(text)
    return [needle for needle in needles if squeeze(needle) in haystack]


def page_text(content: bytes) -> str:
    """The HTML as sent, and with entities decoded: a leak may hide in either form."""
    raw = content.decode()
    return raw + "\n" + html.unescape(raw)


def pdf_text(content: bytes) -> str:
    """Every page's text and the document's metadata (title, author, subject, keywords)."""
    reader = pypdf.PdfReader(io.BytesIO(content))
    metadata = [str(value) for value in (reader.metadata or {}).values()]
    return "\n".join([*(p.extract_text() for p in reader.pages), *metadata])
