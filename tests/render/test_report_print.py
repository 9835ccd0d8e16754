"""The printed report (Chromium's "print to PDF", A4) has no blank or nearly blank page.

The PDF is read with the standard library: each page's content stream is inflated and its drawing counted (text as
the bytes of its glyph strings, images as ``Do``). A page before the last that draws no image and only a line or two
of text is a page the reader turns over for nothing (a table pushed whole onto the next page leaves one behind:
page 2 of 8 drew 30 glyphs before the fix).
"""

from __future__ import annotations

import re
import zlib

#: fewest glyph bytes on a page without an image, the last page excepted (a full page of tables draws thousands)
MIN_GLYPHS = 150


def page_drawing(pdf: bytes) -> list[dict[str, int]]:
    """Per page of a (Skia-written) PDF: glyph bytes and images its content stream draws."""
    objs = {int(m.group(1)): m.group(2) for m in re.finditer(rb"(\d+) 0 obj\s*(.*?)endobj", pdf, re.S)}
    pages = [b for b in objs.values() if re.search(rb"/Type\s*/Page\b", b)]
    out = []
    for body in pages:
        ops = {"text": 0, "images": 0}
        for ref in re.findall(rb"(\d+) 0 R", (re.search(rb"/Contents\s*(\[.*?\]|\d+ 0 R)", body, re.S) or [b""])[0]):
            stream = objs[int(ref)]
            data = re.search(rb"stream\r?\n(.*?)\r?\nendstream", stream, re.S).group(1)
            text = zlib.decompress(data) if b"FlateDecode" in stream else data
            ops["text"] += sum(len(h) // 2 for h in re.findall(rb"<([0-9A-Fa-f]*)>", text))
            ops["images"] += len(re.findall(rb"\bDo\b", text))
        out.append(ops)
    return out


def _print(open_page, path) -> bytes:
    seen = open_page(path, "document.readyState === 'complete'")
    return seen.page.pdf(format="A4", print_background=True, prefer_css_page_size=True)


def test_printed_report_has_no_blank_page(run_dir, open_page):
    pdf = _print(open_page, run_dir / "report.html")
    pages = page_drawing(pdf)
    assert len(pages) >= 2 and len(pages) == len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pages[0]["images"] >= 1  # the map opens the report
    for i, p in enumerate(pages[:-1], 1):
        assert p["images"] or p["text"] >= MIN_GLYPHS, f"page {i} of {len(pages)} is (nearly) blank: {pages}"
    assert pages[-1]["images"] or pages[-1]["text"] > 0, pages
