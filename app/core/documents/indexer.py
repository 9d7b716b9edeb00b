"""Index a collection: scan its sources, drop what vanished, (re)index what is new or changed.

Work is a three-stage pipeline so parsing, embedding and storing overlap:
    parse thread (read + chunk files)  →  this thread (embed in batches)  →  writer thread (Chroma + SQLite)
A file is unchanged when size and mtime match, or when its content hash matches. Cancelling stops after the
current batch: files already written stay indexed; a half-written file is purged and left pending.

Scanned PDF pages and image files are read by OCR in the parse thread (scanned.py), page by page: progress says
"OCR page 3 of 12 — scan.pdf" and a cancel stops between pages. An indexed file whose pages gave no text keeps a
note in its reason ("no text found on page 2 …"); the pages OCR read are recorded (Store.set_ocr_pages) so search
results and citations can mark them. A file skipped or partly skipped because OCR was off is read again by the
next scan with OCR on.

A file with no text (0 bytes, a blank PDF, an empty document) is listed as *empty*, never as a duplicate of
another empty file. A file with the same bytes as another is a *duplicate* of it only when that one indexed;
otherwise it shares its outcome (failed, empty) and reason. A chunk identical to one already stored (repeated
filler in one file, the same disclaimer in many) is embedded and stored once (Store.add_chunks).
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.core.documents import embedder as embedders
from app.core.documents import headers
from app.core.documents import ocr as ocr_engine
from app.core.documents.chunker import chunk_sections
from app.core.documents.parsers import EmptyDocument, ParseFailure, parse_document
from app.core.documents.store import (DUPLICATE, EMPTY, FAILED, INDEXED, PENDING, CollectionInfo, IndexingProgress,
                                      Store, chunk_key)
from app.core.errors import UserError
from app.core.jobs import format_duration

# Chunk size in embedder tokens, for the text; the header line (headers.py) comes on top, and header + text stay
# within the embedder's max_seq_length. Chosen on the independent dev set (shared/eval/devset, exp/rag/REPORT.md
# §4.1): dense MRR@10 0.66 at 128 tokens, 0.71 at 200, 0.76 at 248 (no header); 128 lost to a naive 1000-character
# script on unseen questions. 200 leaves room for a header of ~50 tokens in MiniLM's 256.
DEFAULT_CHUNK_TOKENS = 200
DEFAULT_CHUNK_OVERLAP = 40
HEADER_TOKENS = 54  # room kept for the header line (at most headers.MAX_HEADER_CHARS characters)
BATCH = 64


@dataclass
class IndexRequest:
    collection: str
    add: list[str] = field(default_factory=list)  # files or folders to add to the collection's sources
    model: str = ""  # embedder for a new collection ("" = built-in)
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP
    create: bool = True
    stemming: bool | None = None  # English stemming in keyword search (None: keep the collection's; new: on)
    rechunk: bool = False  # re-chunk and re-embed every file at chunk_tokens/chunk_overlap, in the current format
    root: Path | None = None  # store folder (None = paths.documents_dir())
    batch_size: int = BATCH
    ocr: bool | None = None  # read scanned pages and images (None: settings.documents.ocr); HEARTH_OCR overrides


@dataclass
class IndexReport:
    collection: str
    files: int = 0  # files in the collection after this run
    indexed: int = 0  # (re)indexed in this run
    unchanged: int = 0
    removed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    empty: list[tuple[str, str]] = field(default_factory=list)  # (file, reason): files with no text
    notes: list[tuple[str, str]] = field(default_factory=list)  # (file, note): indexed, but pages gave no text
    ocr_pages: int = 0  # pages (and images) read by OCR in this run
    chunks: int = 0  # chunks written in this run
    pages: int = 0
    seconds: float = 0.0
    cancelled: bool = False

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class FileIndexed:
    """Partial: one file finished — indexed (with its passage and page counts, and a note on pages that gave no
    text), failed or empty (with the reason)."""

    file: str
    state: str  # store.INDEXED | store.FAILED | store.EMPTY
    chunks: int = 0
    pages: int = 0
    reason: str = ""


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def scan_sources(sources: list[str]) -> tuple[dict[str, os.stat_result], list[str]]:
    """Every file under the sources (hidden files and folders skipped) with its stat; and missing sources."""
    found: dict[str, os.stat_result] = {}
    missing: list[str] = []
    for source in sources:
        path = Path(source)
        if path.is_file():
            found[str(path)] = path.stat()
        elif path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith(".") or name.startswith("~$"):
                        continue
                    full = os.path.join(dirpath, name)
                    try:
                        st = os.stat(full)
                    except OSError:
                        continue
                    found[full] = st
        else:
            missing.append(source)
    return found, missing


def open_collection(store: Store, request: IndexRequest) -> CollectionInfo:
    info = store.find(request.collection)
    if info is None:
        if not request.create:
            store.get(request.collection)  # raises the helpful UserError
        model = request.model or embedders.BUILTIN
        embedders.resolve(model)  # fail early on an unknown model
        stemming = True if request.stemming is None else request.stemming
        info = store.create(request.collection, model, request.chunk_tokens, request.chunk_overlap, stemming)
    elif request.model and request.model != info.model:
        raise UserError(f"collection '{info.name}' uses the embedding model '{info.model}'; changing it to "
                        f"'{request.model}' re-embeds every file (in the Documents tab, or remove and re-create)")
    elif request.stemming is not None and request.stemming != info.stemming:
        info = store.set_stemming(info, request.stemming)  # rebuilds the keyword index from the stored text
    if request.rechunk:  # every file pending again: re-read from its source at this run
        info = store.set_chunking(info, request.chunk_tokens, request.chunk_overlap)
    return info


def ocr_enabled(request: IndexRequest) -> bool:
    """Whether this run reads scanned pages and images: the request's choice, else the setting; HEARTH_OCR
    overrides both."""
    if request.ocr is None:
        from app.core.settings import Settings

        return ocr_engine.enabled(Settings.load().documents.ocr)
    return ocr_engine.enabled(request.ocr)


def index_collection(request: IndexRequest, state) -> IndexReport:
    started = time.monotonic()
    request.ocr = ocr_enabled(request)
    store = Store(request.root)
    items = []
    for raw in request.add:  # checked before the collection is made: a typo leaves no empty collection behind
        path = Path(raw).expanduser().resolve()
        if not path.exists():
            raise UserError(f"{path} does not exist")
        items.append(str(path))
    info = open_collection(store, request)
    if items:
        store.add_sources(info, items)
    report = IndexReport(info.name)

    state.progress(None, "scanning files")
    found, missing = scan_sources(store.sources(info))
    rows = {r.path: r for r in store.files(info)}

    # Files that vanished, and leftovers of an interrupted run.
    for path, row in rows.items():
        state.check()
        if path not in found:
            store.purge_file(info, path, forget=True)
            report.removed += 1
        elif row.state == PENDING:
            store.purge_file(info, path)
    store.reconcile(info)

    indexed_hashes = {r.hash: p for p, r in rows.items() if r.state == INDEXED and p in found and r.hash}
    work: list[tuple[str, os.stat_result, str]] = []
    copies: dict[str, tuple[str, os.stat_result, str]] = {}  # same bytes as a file indexed in this run
    work_paths: set[str] = set()
    for path, st in found.items():
        state.check()
        row = rows.get(path)
        same_stat = row is not None and row.size == st.st_size and row.mtime == st.st_mtime
        if same_stat and request.ocr and ocr_engine.OCR_OFF in row.reason:
            same_stat = False  # pages skipped while OCR was off: read them now
        if same_stat and row.state in (INDEXED, FAILED, EMPTY):
            report.unchanged += 1
            continue
        if same_stat and row.state == DUPLICATE and indexed_hashes.get(row.hash, path) != path:
            report.unchanged += 1
            continue
        if st.st_size == 0:  # never a duplicate: every empty file has the same hash
            if row is not None and row.state in (INDEXED, PENDING):
                store.purge_file(info, path)
            store.set_file(info, path, size=0, mtime=st.st_mtime, hash=None, state=EMPTY,
                           reason="empty file (0 bytes)")
            report.empty.append((path, "empty file (0 bytes)"))
            continue
        try:
            digest = file_hash(Path(path))
        except OSError as exc:
            store.set_file(info, path, size=st.st_size, mtime=st.st_mtime, hash=None, state=FAILED,
                           reason=f"cannot read the file ({exc.strerror or exc})")
            report.failed.append((path, f"cannot read the file ({exc.strerror or exc})"))
            continue
        if row is not None and row.hash == digest and row.state in (INDEXED, FAILED, EMPTY) and not \
                (request.ocr and ocr_engine.OCR_OFF in row.reason):
            store.touch_file(info, path, st.st_size, st.st_mtime)
            report.unchanged += 1
            continue
        original = indexed_hashes.get(digest)
        if original is not None and original != path:
            if row is not None and row.state == INDEXED:
                store.purge_file(info, path)
            if original not in work_paths:  # indexed in an earlier run
                store.set_file(info, path, size=st.st_size, mtime=st.st_mtime, hash=digest, state=DUPLICATE,
                               reason=f"same content as {original} (indexed once)")
            else:  # its original is in this run's work: settled once that one has its outcome
                copies[path] = (original, st, digest)
            continue
        indexed_hashes[digest] = path
        work.append((path, st, digest))
        work_paths.add(path)

    if work:
        had_chunks = {p for p, r in rows.items() if r.state in (INDEXED, PENDING)}
        _run_pipeline(store, info, work, request, report, state, had_chunks)
    _settle_copies(store, info, copies, report)
    report.files = len(found)
    report.seconds = time.monotonic() - started
    if missing:
        report.failed.extend((m, "source folder or file is missing (moved, deleted or unmounted)") for m in missing)
    state.progress(1.0, _summary(report))
    if report.cancelled:
        state.check()
    return report


def _settle_copies(store: Store, info: CollectionInfo, copies, report: IndexReport) -> None:
    """Files with the same bytes as a file indexed in this run: a duplicate of it when it indexed, else the same
    outcome (failed or empty, same reason); left pending when the run stopped before it."""
    outcome = {row.path: row for row in store.files(info)}
    for path, (original, st, digest) in copies.items():
        first = outcome.get(original)
        if first is None or first.state == PENDING:
            continue
        if first.state == INDEXED:
            store.set_file(info, path, size=st.st_size, mtime=st.st_mtime, hash=digest, state=DUPLICATE,
                           reason=f"same content as {original} (indexed once)")
            continue
        store.set_file(info, path, size=st.st_size, mtime=st.st_mtime, hash=digest, state=first.state,
                       reason=first.reason)
        (report.empty if first.state == EMPTY else report.failed).append((path, first.reason))


def _summary(report: IndexReport) -> str:
    text = f"{report.indexed} indexed, {report.unchanged} unchanged, {report.removed} removed"
    if report.failed:
        text += f", {len(report.failed)} failed"
    if report.empty:
        text += f", {len(report.empty)} empty"
    if report.ocr_pages:
        text += f", {report.ocr_pages} page{'s' if report.ocr_pages != 1 else ''} read by OCR"
    return text + f" · {report.chunks} chunks in {report.seconds:.1f} s"


_DONE = object()


def _run_pipeline(store: Store, info: CollectionInfo, work, request: IndexRequest, report: IndexReport, state,
                  had_chunks: set[str]) -> None:
    model = embedders.get_embedder(info.model)
    with_headers = info.chunk_format >= 2
    # Header + text + [CLS]/[SEP] within the embedder's window: what is past it would be cut off unseen.
    budget = max(16, min(info.chunk_tokens, model.max_seq_length - 2 - (HEADER_TOKENS if with_headers else 6)))
    overlap = info.chunk_overlap
    total_bytes = sum(max(1, st.st_size) for _, st, _ in work) or 1
    stop = threading.Event()
    parsed: queue.Queue = queue.Queue(maxsize=8)
    writes: queue.Queue = queue.Queue(maxsize=8)
    errors: list[BaseException] = []
    extras: dict[str, tuple[str, set[int]]] = {}  # path -> (note on pages without text, pages OCR read)
    shown = [0.0]  # the fraction last shown, for OCR progress lines

    def ocr_progress(n: int, total: int, name: str) -> None:
        state.progress(shown[0], f"OCR page {n} of {total} — {name}" if total > 1 else f"OCR — {name}")

    options = ocr_engine.OcrOptions(bool(request.ocr), ocr_progress, lambda: stop.is_set() or state.cancelled)

    def parse_stage():
        try:
            for path, st, digest in work:
                if stop.is_set():
                    break
                outcome, notes, ocr_pages = FAILED, "", set()
                try:
                    document = parse_document(Path(path), options)
                    sections = document.sections
                    notes, ocr_pages = "; ".join(document.notes), document.ocr_pages
                    chunks = chunk_sections(sections, model.count_tokens, budget, overlap)
                    if with_headers:
                        add_headers(Path(path), sections, chunks)
                    pages = len({s.page for s in sections if s.page is not None})
                    reason = "" if chunks else "no text in the file"
                    outcome = FAILED if chunks else EMPTY
                except ocr_engine.OcrCancelled:
                    break
                except EmptyDocument as exc:
                    chunks, pages, reason, outcome = [], 0, str(exc), EMPTY
                except ParseFailure as exc:
                    chunks, pages, reason = [], 0, str(exc)
                except Exception as exc:  # noqa: BLE001 - one bad file must not stop the collection
                    chunks, pages, reason = [], 0, f"could not be read: {type(exc).__name__}: {exc}"
                extras[path] = (notes, ocr_pages)
                parsed.put((path, st, digest, chunks, pages, reason, outcome))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            parsed.put(_DONE)

    done_bytes = 0
    chunks_written = 0
    files_done = 0
    t0 = time.monotonic()

    pages_finished = 0  # pages of the files finished so far
    pages_in_file: dict[str, int] = {}  # path -> last page stored so far, for the files still being written

    def write_stage():
        nonlocal done_bytes, chunks_written, files_done, pages_finished
        try:
            while True:
                item = writes.get()
                if item is _DONE:
                    return
                if errors:
                    continue
                op = item[0]
                if op == "begin":
                    _, path, st, digest = item
                    store.set_file(info, path, size=st.st_size, mtime=st.st_mtime, hash=digest, state=PENDING)
                    if path in had_chunks:  # a new file has nothing to purge
                        store.purge_file(info, path)
                elif op == "chunks":
                    _, path, digest, start, chunks, vectors = item
                    chunks_written += store.add_chunks(info, path, digest, start, chunks, vectors)
                    # A long PDF's pages count as they are stored, not only when the whole file is done: a search
                    # meanwhile finds them, so "Indexing 0 of 317 pages" would be wrong.
                    last = max((c.page_end or c.page_start or 0 for c in chunks), default=0)
                    if last > pages_in_file.get(path, 0):
                        pages_in_file[path] = last
                        live.chunks_done = chunks_written
                        live.pages_done = pages_finished + last
                        store.set_indexing(info, live)
                elif op == "end":
                    _, path, st, digest, count, pages, reason, outcome = item
                    files_done += 1
                    done_bytes += max(1, st.st_size)
                    notes, ocr_pages = extras.pop(path, ("", set()))
                    store.set_ocr_pages(info, path, () if reason else ocr_pages)
                    live.files_done, live.chunks_done = files_done, chunks_written
                    pages_in_file.pop(path, None)
                    pages_finished += 0 if reason else pages
                    live.pages_done = pages_finished
                    store.set_indexing(info, live)  # before the partial: a search it triggers sees it
                    if reason:
                        if count or path in had_chunks:
                            store.purge_file(info, path)
                        store.set_file(info, path, size=st.st_size, mtime=st.st_mtime, hash=digest, state=outcome,
                                       reason=reason)
                        (report.empty if outcome == EMPTY else report.failed).append((path, reason))
                        state.partial(FileIndexed(path, outcome, reason=reason))
                    else:
                        store.set_file(info, path, size=st.st_size, mtime=st.st_mtime, hash=digest, state=INDEXED,
                                       reason=notes, chunks=count, pages=pages)
                        report.indexed += 1
                        report.pages += pages
                        report.ocr_pages += len(ocr_pages)
                        if notes:
                            report.notes.append((path, notes))
                        state.partial(FileIndexed(path, INDEXED, count, pages, reason=notes))
                    _progress()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            stop.set()

    def _progress():
        elapsed = time.monotonic() - t0
        fraction = done_bytes / total_bytes
        rate = chunks_written / elapsed if elapsed > 0 else 0.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else None
        eta_text = f" · ETA {format_duration(eta)}" if eta is not None and fraction < 1 else ""
        shown[0] = fraction
        state.progress(fraction, f"{files_done}/{len(work)} files · {chunks_written} chunks · {rate:.0f} chunks/s"
                                 f"{eta_text}")

    parser = threading.Thread(target=parse_stage, name="hearth-docs-parse", daemon=True)
    writer = threading.Thread(target=write_stage, name="hearth-docs-write", daemon=True)
    live = IndexingProgress(len(work), 0, _pdf_pages(work), 0, 0)
    store.set_indexing(info, live)  # searches made meanwhile say how far it is
    parser.start()
    writer.start()
    state.progress(0.0, f"0/{len(work)} files")

    pending: list[tuple] = []  # (path, st, digest, chunk, index, total, pages, repeat)

    def flush(final: bool) -> None:
        nonlocal pending
        while pending and (final or len(pending) >= request.batch_size):
            batch, pending = pending[:request.batch_size], pending[request.batch_size:]
            fresh = [i for i, b in enumerate(batch) if not b[7]]  # a repeat of an earlier chunk is not embedded
            encoded = model.encode([_embed_text(batch[i][3]) for i in fresh], batch_size=request.batch_size)
            vectors: list = [None] * len(batch)
            for i, vector in zip(fresh, encoded):
                vectors[i] = vector
            # Group consecutive chunks of one file into one write.
            start = 0
            while start < len(batch):
                end = start
                while end < len(batch) and batch[end][0] == batch[start][0]:
                    end += 1
                path, st, digest, _, index, total, pages, _ = batch[start]
                writes.put(("chunks", path, digest, index, [b[3] for b in batch[start:end]], vectors[start:end]))
                if batch[end - 1][4] == total - 1:
                    writes.put(("end", path, st, digest, total, pages, "", INDEXED))
                start = end
            if state.cancelled or errors:
                return

    try:
        while True:
            if state.cancelled or errors:
                break
            try:
                item = parsed.get(timeout=0.2)
            except queue.Empty:
                continue
            if item is _DONE:
                flush(final=True)
                break
            path, st, digest, chunks, pages, reason, outcome = item
            writes.put(("begin", path, st, digest))
            if reason or not chunks:
                writes.put(("end", path, st, digest, 0, pages, reason or "no text in the file", outcome))
                continue
            seen: set[str] = set()
            for i, chunk in enumerate(chunks):
                key = chunk_key(chunk.heading, chunk.text)
                pending.append((path, st, digest, chunk, i, len(chunks), pages, key in seen))
                seen.add(key)
            flush(final=False)
    finally:
        stop.set()
        writes.put(_DONE)
        writer.join()
        store.set_indexing(info, None)
        while parser.is_alive():  # unblock a parser waiting on a full queue
            try:
                parsed.get(timeout=0.1)
            except queue.Empty:
                pass
        parser.join()
        report.chunks = chunks_written
    if errors:
        raise errors[0]
    if state.cancelled:
        report.cancelled = True
        # Half-written files: purge their chunks, keep them pending for the next run.
        for row in store.files(info):
            if row.state == PENDING:
                store.purge_file(info, row.path)


def _pdf_pages(work) -> int:
    """Pages of the run's files when all of them are PDFs (PDFium page counts, milliseconds), else 0."""
    import pypdfium2 as pdfium

    from app.core.documents.parsers import _PDFIUM_LOCK

    total = 0
    for path, _, _ in work:
        if not path.lower().endswith(".pdf"):
            return 0
        try:
            with open(path, "rb") as fh, _PDFIUM_LOCK:
                document = pdfium.PdfDocument(fh)
                total += len(document)
                document.close()
        except Exception:  # noqa: BLE001 - an unreadable PDF is reported by the parser
            continue
    return total


def add_headers(path: Path, sections, chunks) -> None:
    """Give each chunk its document's title and, in a PDF with bookmarks, the outline path at its start as its
    heading (headers.py)."""
    suffix = path.suffix.lower()
    outline: list = []
    if suffix == ".pdf":
        title, outline = headers.pdf_title_and_outline(path, sections[0].text if sections else "")
    elif suffix in (".html", ".htm", ".xhtml"):
        from app.core.documents.decoding import decode_text

        title = headers.html_title(decode_text(path.read_bytes(), html=True)[:65536])
    else:
        title = headers.text_title(sections)
    # No file-name fallback: words of a name like "one_huge_line" would match queries through the title field.
    pages = {s.page: s.text for s in sections if s.page is not None}
    for chunk in chunks:
        chunk.title = title
        if outline and chunk.page_start in pages and not chunk.heading:
            chunk.heading = headers.outline_path(outline, chunk.page_start, pages[chunk.page_start],
                                                 chunk.char_start)


def _embed_text(chunk) -> str:
    """What is embedded for a chunk: "title > heading" then its text (headers.embed_text)."""
    return headers.embed_text(chunk, getattr(chunk, "title", ""))
