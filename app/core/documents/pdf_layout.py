"""Reading order of a PDF page's text: the columns of a multi-column page one after the other, not line by line
across the gutter.

PDFium gives the page's text segments as rectangles (`FPDFText_CountRects` / `GetRect`: one per run of characters
on a line). They are grouped into rows (segments whose vertical extents overlap), and a gutter is a vertical strip
free of text in several consecutive rows with text on both sides. Consecutive rows that keep the gutter clear form a
column block, read left column first (each column searched again for its own gutter, so three columns work too);
rows that cross it (a title, a full-width figure caption or paragraph) are read where they stand. Each region's text
then comes from PDFium's `FPDFText_GetBoundedText`, so characters, spaces and line breaks are PDFium's own.
This is a restricted recursive X-Y cut (Nagy & Seth, "Hierarchical representation of optically scanned documents",
1984) that only cuts vertically at a gutter shared by at least three rows, so tables and code with a wide space in
one or two lines keep their row order. A page with no such gutter is read in one piece, exactly as before.

The analysis runs in text space: the page's coordinates turned by the dominant character angle, so a page rotated
with /Rotate or drawn sideways is read along its lines. Vertical writing (tategaki) is left in PDFium's order.
"""

from __future__ import annotations

import math

MIN_SPLIT_ROWS = 3  # rows with text on both sides of a gutter before it counts as one
MIN_SIDE_SHARE = 0.25  # each column at least this share of the region's width (not a label or number column)
FULL_LINE = 0.6  # in a column of running text most lines fill at least this share of the column's width

# A box is (left, bottom, right, top, i) in text space; i indexes the page's PDFium rects (page coordinates).
Box = tuple


def page_text(textpage) -> str:
    """The page's text in reading order. `textpage` is a pypdfium2 PdfTextPage; call with the PDFium lock held."""
    count = textpage.count_rects()
    if count < 2 * MIN_SPLIT_ROWS:
        return textpage.get_text_bounded()
    rects = _rects(textpage, count)
    turns = _dominant_angle(textpage)
    boxes = _text_space(rects, turns)
    if boxes is None:
        return textpage.get_text_bounded()
    regions = reading_order(boxes)
    if len(regions) <= 1 and turns == 0:
        return textpage.get_text_bounded()
    if turns == 0:
        return "\n".join(textpage.get_text_bounded(*_page_bounds(region, rects)) for region in regions)
    # Turned text: PDFium puts no line breaks between its lines, so each line is read on its own.
    return "\n".join(textpage.get_text_bounded(*_page_bounds(row, rects))
                     for region in regions for row in _rows(region))


def _rects(textpage, count: int) -> list[tuple[float, float, float, float]]:
    """(left, bottom, right, top) of each text rectangle; PdfTextPage.get_rect with its four c_doubles made once."""
    import ctypes

    import pypdfium2.raw as pdfium_c

    left, top, right, bottom = (ctypes.c_double() for _ in range(4))
    refs = [ctypes.byref(v) for v in (left, top, right, bottom)]
    out = []
    for index in range(count):
        if pdfium_c.FPDFText_GetRect(textpage.raw, index, *refs):
            out.append((left.value, bottom.value, right.value, top.value))
    return out


def _dominant_angle(textpage) -> int:
    """How many clockwise quarter turns (0-3) bring most characters upright; 0 when none can be read. PDFium
    measures a character's angle clockwise (text running up the page reads 3π/2)."""
    import pypdfium2.raw as pdfium_c

    chars = textpage.count_chars()
    votes = [0, 0, 0, 0]
    for index in range(0, chars, max(1, chars // 24)):
        angle = pdfium_c.FPDFText_GetCharAngle(textpage.raw, index)
        if angle >= 0:  # -1: error
            votes[round(angle / (math.pi / 2)) % 4] += 1
    return (4 - max(range(4), key=votes.__getitem__)) % 4 if any(votes) else 0


def _text_space(rects, quarter_turns: int) -> list[Box] | None:
    """Boxes turned so the text runs left to right, lines top to bottom; None for vertical writing."""
    if quarter_turns == 0:
        boxes = [(r[0], r[1], r[2], r[3], i) for i, r in enumerate(rects)]
    else:
        boxes = []
        for i, (left, bottom, right, top) in enumerate(rects):
            corners = [_turn(x, y, quarter_turns) for x in (left, right) for y in (bottom, top)]
            xs, ys = [c[0] for c in corners], [c[1] for c in corners]
            boxes.append((min(xs), min(ys), max(xs), max(ys), i))
    width = sum(b[2] - b[0] for b in boxes)
    height = sum(b[3] - b[1] for b in boxes)
    return boxes if width >= height else None


def _turn(x: float, y: float, quarter_turns: int) -> tuple[float, float]:
    """(x, y) turned clockwise by quarter_turns × 90° about the origin."""
    for _ in range(quarter_turns):
        x, y = y, -x
    return x, y


def _page_bounds(region: list[Box], rects) -> tuple[float, float, float, float]:
    page = [rects[b[4]] for b in region]
    return (min(r[0] for r in page), min(r[1] for r in page), max(r[2] for r in page), max(r[3] for r in page))


def _rows(boxes: list[Box]) -> list[list[Box]]:
    """Boxes grouped by overlapping vertical extent, top row first."""
    rows: list[list[Box]] = []
    floor = math.inf
    for box in sorted(boxes, key=lambda b: -b[3]):
        if rows and box[3] > floor:
            rows[-1].append(box)
            floor = min(floor, box[1])
        else:
            rows.append([box])
            floor = box[1]
    return rows


def _gaps(row: list[Box], min_gap: float) -> list[tuple[float, float]]:
    """The horizontal gaps of at least min_gap between a row's segments."""
    if len(row) < 2:
        return []
    gaps, reach = [], None
    for box in sorted(row):
        if reach is not None and box[0] - reach >= min_gap:
            gaps.append((reach, box[0]))
        reach = box[2] if reach is None else max(reach, box[2])
    return gaps


def _gutters(rows, min_gap: float) -> list[float]:
    """Candidate gutters, most supported first: the x of the middle of a gap that at least MIN_SPLIT_ROWS rows
    share, narrowed to what they all leave free."""
    row_gaps = [g for g in (_gaps(row, min_gap) for row in rows) if g]
    if len(row_gaps) < MIN_SPLIT_ROWS:
        return []
    found: list[tuple[int, float]] = []
    for gaps in row_gaps:
        for lo, hi in gaps:
            support = 0
            for other in row_gaps:
                for o in other:
                    if min(hi, o[1]) - max(lo, o[0]) >= min_gap:
                        lo, hi = max(lo, o[0]), min(hi, o[1])
                        support += 1
                        break
            if support >= MIN_SPLIT_ROWS and all(abs((lo + hi) / 2 - x) > min_gap for _, x in found):
                found.append((support, (lo + hi) / 2))
    return [x for _, x in sorted(found, key=lambda f: -f[0])]


def reading_order(boxes: list[Box], depth: int = 0) -> list[list[Box]]:
    """Regions of boxes in reading order; each region is read as one rectangle."""
    rows = _rows(boxes)
    if depth >= 4 or len(rows) < MIN_SPLIT_ROWS:
        return [boxes]
    heights = sorted(b[3] - b[1] for b in boxes)
    min_gap = max(4.0, heights[len(heights) // 2])  # a gutter is at least about one line height wide
    for line in _gutters(rows, min_gap):
        regions = _split_at(rows, line, depth)
        if len(regions) > 1:
            return regions
    return [boxes]


def _split_at(rows: list[list[Box]], line: float, depth: int) -> list[list[Box]]:
    """Regions in reading order when the page is cut at the gutter x = line where column blocks qualify."""
    width = max(b[2] for row in rows for b in row) - min(b[0] for row in rows for b in row)
    regions: list[list[Box]] = []
    flow: list[Box] = []
    run: list[list[Box]] = []

    def close_run():
        nonlocal flow
        split = [i for i, row in enumerate(run) if any(b[2] <= line for b in row) and any(b[0] >= line for b in row)]
        if len(split) >= MIN_SPLIT_ROWS:
            block = run[split[0]:]  # one-sided rows above the first split row (a page number, a heading) lead
            left = [[b for b in row if b[2] <= line] for row in block]
            right = [[b for b in row if b[0] >= line] for row in block]
            if _is_column(left, width) and _is_column(right, width):
                flow.extend(b for row in run[:split[0]] for b in row)
                if flow:
                    regions.append(flow)
                    flow = []
                regions.extend(reading_order([b for row in left for b in row], depth + 1))
                regions.extend(reading_order([b for row in right for b in row], depth + 1))
                run.clear()
                return
        flow.extend(b for row in run for b in row)
        run.clear()

    for row in rows:
        if all(b[2] <= line or b[0] >= line for b in row):
            run.append(row)
        else:  # crosses the gutter: a title or a full-width paragraph
            close_run()
            flow.extend(row)
    close_run()
    if flow:
        regions.append(flow)
    return regions


def _is_column(rows: list[list[Box]], width: float) -> bool:
    """Running text: wide enough, and most of its lines fill the column (a list of short terms, page numbers or
    labels beside a gutter does not)."""
    rows = [row for row in rows if row]
    if len(rows) < MIN_SPLIT_ROWS:
        return False
    left = min(b[0] for row in rows for b in row)
    extent = max(b[2] for row in rows for b in row) - left
    if extent < MIN_SIDE_SHARE * width:
        return False
    full = sum(1 for row in rows if max(b[2] for b in row) - min(b[0] for b in row) >= FULL_LINE * extent)
    return full * 2 >= len(rows)
