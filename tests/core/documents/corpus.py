"""Test documents with known text on known pages, made here (fpdf2, python-docx)."""

from __future__ import annotations

from pathlib import Path

# Page texts of the multi-page manual: each page is about one distinct topic.
MANUAL_PAGES = [
    "Installing the Lumen heater. Mount the heater on a solid wall at least thirty centimetres above the floor. "
    "Use the four screws supplied in the box. Keep curtains and furniture away from the front grille.",
    "Cleaning and maintenance. Unplug the heater and let it cool down before cleaning. Wipe the casing with a damp "
    "cloth. Vacuum the dust filter every month so that warm air can flow freely.",
    "Troubleshooting error codes. Error code XK-4471-Q means the tilt sensor tripped: stand the unit upright and "
    "press reset. A blinking amber light indicates that the thermostat probe is disconnected.",
    "Warranty and recycling. The warranty covers manufacturing defects for five years from the date of purchase. "
    "At the end of its life, take the heater to an electronics recycling centre instead of household waste.",
]

GARDEN_TEXT = """# Growing tomatoes

Tomatoes need at least six hours of direct sunlight each day. Water the soil deeply twice a week rather than a
little every day.

## Pests

Aphids gather under the leaves. Spray them off with water or invite ladybirds into the garden.
"""


def make_pdf(path: Path, pages: list[str]) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
    pdf.output(str(path))
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF whose only page content is a picture: no text layer."""
    from fpdf import FPDF
    from PIL import Image

    image = path.with_suffix(".png")
    Image.new("RGB", (200, 100), (200, 200, 200)).save(image)
    pdf = FPDF()
    pdf.add_page()
    pdf.image(str(image), x=10, y=10, w=100)
    pdf.output(str(path))
    image.unlink()
    return path


def make_encrypted_pdf(path: Path, *, user_password: str = "secret", pages: list[str] = MANUAL_PAGES) -> Path:
    """RC4-encrypted; with user_password "" it opens without one (only printing/copying are restricted)."""
    from fpdf import FPDF
    from fpdf.enums import EncryptionMethod

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 8, text)
    pdf.set_encryption(owner_password="owner", user_password=user_password, encryption_method=EncryptionMethod.RC4)
    pdf.output(str(path))
    return path


def make_malformed_pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not a real pdf\n%%EOF\n")
    return path


def make_docx(path: Path) -> Path:
    import docx

    document = docx.Document()
    document.add_heading("Bread baking", level=1)
    document.add_paragraph("Knead the dough for ten minutes until it is smooth and elastic.")
    document.add_heading("Proofing", level=2)
    document.add_paragraph("Let the dough rise in a warm place until it has doubled in size, about one hour.")
    document.save(str(path))
    return path


def make_corpus(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "manual": make_pdf(folder / "lumen-manual.pdf", MANUAL_PAGES),
        "garden": folder / "garden.md",
        "notes": folder / "notes.txt",
        "page": folder / "page.html",
        "bread": make_docx(folder / "bread.docx"),
    }
    files["garden"].write_text(GARDEN_TEXT, encoding="utf-8")
    files["notes"].write_text("The library opens at nine in the morning and closes at six in the evening.\n\n"
                              "Members may borrow up to eight books for three weeks.", encoding="utf-8")
    files["page"].write_text("<html><head><title>Bikes</title><style>p{color:red}</style>"
                             "<script>var x = 'hidden script text';</script></head><body>"
                             "<h1>Bicycle care</h1><p>Oil the chain every two hundred kilometres.</p>"
                             "<h2>Tyres</h2><p>Inflate road tyres to about seven bar.</p></body></html>",
                             encoding="utf-8")
    return files
