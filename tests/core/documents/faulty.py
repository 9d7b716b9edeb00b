"""Files of the kinds real users hand Hearth and that used to go wrong, made here: OLE2 compound files (what Office
writes for a password-protected .docx and for a Word 97-2003 .doc), truncated packages, a two-column PDF whose
content stream runs line by line across the gutter, a file of repeated filler."""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

FREE, END, FAT_SECTOR, NO_STREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def compound_file(streams: dict[str, bytes]) -> bytes:
    """A version-3 OLE2 compound file ([MS-CFB]) holding the given root-level streams, each padded to 4096 bytes
    so it lives in regular sectors (no mini stream). At most 3 streams (one directory sector), 64 kB in all."""
    assert 1 <= len(streams) <= 3
    names = sorted(streams, key=lambda n: (len(n), n.upper()))  # [MS-CFB] 2.6.4 ordering
    sector = 512
    data_start = 2  # sector 0: FAT, sector 1: directory
    fat = [FAT_SECTOR, END]
    entries, body, next_sector = [], b"", data_start
    for name in names:
        content = streams[name].ljust(4096, b"\0")
        content = content.ljust(-(-len(content) // sector) * sector, b"\0")
        count = len(content) // sector
        fat += [next_sector + i + 1 for i in range(count - 1)] + [END]
        entries.append((name, next_sector, len(content)))
        body += content
        next_sector += count
    fat += [FREE] * (sector // 4 - len(fat))

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", left, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IQ", start, size))

    # A balanced enough tree: the middle name is the root's child, the others its left and right siblings.
    middle = len(entries) // 2
    directory = entry("Root Entry", 5, NO_STREAM, NO_STREAM, 1 + middle, END, 0)
    for i, (name, start, size) in enumerate(entries):
        left = 1 + i - 1 if i == middle and i > 0 else NO_STREAM
        right = 1 + i + 1 if i == middle and i + 1 < len(entries) else NO_STREAM
        directory += entry(name, 2, left, right, NO_STREAM, start, size)
    directory = directory.ljust(sector, b"\0")
    for unused in range(len(entries) + 1, 4):  # unused entries: empty, no siblings
        offset = unused * 128
        directory = (directory[:offset] + b"\0" * 68 + struct.pack("<III", NO_STREAM, NO_STREAM, NO_STREAM)
                     + directory[offset + 80:])
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + b"\0" * 6 + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, END, 0, END, 0)
              + struct.pack("<I", 0) + struct.pack("<I", FREE) * 108)
    assert len(header) == 512
    return header + struct.pack("<128I", *fat) + directory + body


def encrypted_docx(path: Path) -> Path:
    """What Word writes for a password-protected .docx: an OLE2 file with EncryptionInfo + EncryptedPackage."""
    path.write_bytes(compound_file({"EncryptionInfo": b"\x04\x00\x04\x00\x40\x00\x00\x00" + b"\x01" * 200,
                                    "EncryptedPackage": b"\x9a" * 3000}))
    return path


def word97_doc(path: Path) -> Path:
    """A Word 97-2003 binary document (WordDocument + 1Table streams), saved under whatever name `path` has."""
    path.write_bytes(compound_file({"WordDocument": b"\xec\xa5\xc1\x00" + b"\0" * 1000, "1Table": b"\0" * 600}))
    return path


ZERO_BYTE = ("a.txt", "b.pdf", "c.docx")


def folder_with_empty_files(folder: Path) -> Path:
    """A new folder holding three zero-byte files (ZERO_BYTE): a text file, a PDF and a DOCX."""
    folder.mkdir()
    for name in ZERO_BYTE:
        (folder / name).write_bytes(b"")
    return folder


def zip_named(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        for name, data in members.items():
            package.writestr(name, data)
    return path


def cut(path: Path, target: Path, fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


LEFT_COLUMN = ("Kestrels hover above motorway verges while they hunt for voles. The kestrel column describes "
               "birds of prey, their hunting habits across open farmland and the way they nest in old towers. "
               "Ornithologists count the kestrels every spring along the same transects.")
RIGHT_COLUMN = ("Sourdough starters need feeding with rye flour and water every day. The bakery column covers "
                "hydration ratios, the slow cold proof overnight and the oven spring of a crusty loaf. "
                "Bakers score the loaf before it goes into the oven.")


def two_column_pdf(path: Path, *, rotate: bool = False) -> Path:
    """Page 1: one plain paragraph. Page 2: a full-width title, two columns written line by line across the
    gutter (the content stream interleaves them, as many exporters do), a full-width footer. With rotate, page 2
    is drawn turned 90° (text running up the page), as in a landscape page of a portrait document."""
    import textwrap

    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    pdf.add_page()
    pdf.multi_cell(0, 6, "An introduction page in a single column about nothing in particular.")
    pdf.add_page()
    left, right = textwrap.wrap(LEFT_COLUMN, 40), textwrap.wrap(RIGHT_COLUMN, 40)

    top = 100 if rotate else 15  # turned about the page's centre, the block must stay on the page

    def draw():
        pdf.set_font("Helvetica", "B", 14)
        pdf.set_xy(10, top)
        pdf.cell(190, 10, "The Parish Newsletter: birds and bread")
        pdf.set_font("Helvetica", size=11)
        for i in range(max(len(left), len(right))):
            pdf.set_xy(10, top + 15 + 6 * i)
            pdf.cell(85, 6, left[i] if i < len(left) else "")
            pdf.set_xy(110, top + 15 + 6 * i)
            pdf.cell(85, 6, right[i] if i < len(right) else "")
        pdf.set_xy(10, top + 21 + 6 * max(len(left), len(right)))
        pdf.cell(190, 6, "Printed by volunteers of the parish hall, free of charge.")

    if rotate:
        with pdf.rotation(90, x=105, y=148.5):
            draw()
    else:
        draw()
    pdf.output(str(path))
    return path


FILLER = "lorem ipsum dolor "


def filler_file(path: Path, repeats: int = 6000, needle: str = "the secret word is marmalade") -> Path:
    """One line, no sentence breaks: `repeats` × filler, a needle, then more filler of another kind."""
    path.write_text(FILLER * repeats + needle + " sit amet" * (repeats // 2), encoding="utf-8")
    return path
