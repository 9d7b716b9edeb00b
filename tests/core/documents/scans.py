"""Scanned documents made by the tests: text rendered to a picture with Pillow, put into PDFs with no text layer
(Pillow's PDF writer, pypdfium2 for page /Rotate and for a page with a real text layer) and into image files."""

from __future__ import annotations

import textwrap
from pathlib import Path

DPI = 150

# One paragraph per scanned page, with words a search can find.
SCAN_PAGES = [
    "Chapter one. The outdoor unit of the heat pump stands on a concrete pad, at least thirty centimetres from "
    "the wall, so that air can flow freely around the evaporator.",
    "Chapter two. Clean the evaporator coil every spring with a soft brush and mild soap, and check the "
    "refrigerant pressure once a year.",
    "Chapter three. If the outdoor unit ices over for more than an hour, switch to emergency heat and call the "
    "service line printed on the warranty card.",
]


def picture(text: str, size: tuple[int, int] = (1240, 620), font_size: int = 34, word_space: float = 1.0):
    """A white greyscale picture of `text` (wrapped) in black, like a scanned page. `word_space`: the width of
    the spaces between words, as a share of the font's own (below 1: narrow spacing, as in justified or condensed
    print, where PP-OCR runs words together)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    space = draw.textlength(" ", font=font) * word_space
    y = 60
    for line in textwrap.wrap(text, max(20, int(size[0] / (font_size * 0.56)))):
        if word_space == 1.0:
            draw.text((60, y), line, fill=0, font=font)
        else:
            x = 60.0
            for word in line.split(" "):
                draw.text((x, y), word, fill=0, font=font)
                x += draw.textlength(word, font=font) + space
        y += int(font_size * 1.5)
    return image


def blank(size: tuple[int, int] = (1240, 620)):
    from PIL import Image

    return Image.new("L", size, 255)


def scanned_pdf(path: Path, pictures: list, rotate: dict[int, int] | None = None, text_page: str | None = None
                ) -> Path:
    """A PDF with one picture per page and no text layer (Pillow). `rotate`: {0-based page: /Rotate degrees} set
    with pypdfium2; `text_page`: a first page with a real text layer (fpdf2) inserted before the pictures."""
    first, *rest = [p.copy() for p in pictures]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=DPI)
    if not rotate and text_page is None:
        return path
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(str(path))
    try:
        if text_page is not None:
            from fpdf import FPDF

            pdf = FPDF()
            pdf.add_page()
            pdf.set_font("Helvetica", size=12)
            pdf.multi_cell(0, 8, text_page)
            text_doc = pdfium.PdfDocument(bytes(pdf.output()))
            document.import_pages(text_doc, [0], 0)
            text_doc.close()
        for index, degrees in (rotate or {}).items():
            document[index + (text_page is not None)].set_rotation(degrees)
        out = path.with_suffix(".tmp.pdf")
        document.save(str(out))
    finally:
        document.close()
    out.replace(path)
    return path
