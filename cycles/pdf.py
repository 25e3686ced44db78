"""PDF rendering with WeasyPrint: server-side HTML and SVG, no network fetches.

WeasyPrint (and Debian's Pango underneath it) is imported only when a PDF is asked for, so the
rest of the app runs where Pango isn't installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

PDF_CSS = Path(settings.BASE_DIR) / "static" / "css" / "pdf.css"


def _no_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError("PDFs fetch nothing: every image and style is inline.")


def render_pdf(
    request: HttpRequest, template: str, context: dict[str, Any], filename: str
) -> HttpResponse:
    from weasyprint import HTML

    html = render_to_string(template, context | {"pdf_css": PDF_CSS.read_text()}, request=request)
    pdf = HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
