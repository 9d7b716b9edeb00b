"""Documents: parse files, chunk them, embed the chunks, store them (Chroma + SQLite FTS5) and retrieve passages.

- jobs.py       the entry: index, search, list, remove, change embedder (what the Documents tab and `hearth docs` submit)
- parsers.py    PDF (PDFium), TXT, Markdown, HTML, DOCX → sections with page numbers
- decoding.py   text files' encodings (BOM, declared charset, UTF-8, detected code page); no control characters
- office.py     why a .docx is not readable (password, old .doc, damaged); pdf_layout.py: multi-column reading order
- errors.py     the reasons shown for files that could not be indexed
- chunker.py    sections → passages of N embedding-model tokens on sentence/paragraph boundaries
- embedder.py   sentence-transformers embedders (built-in all-MiniLM-L6-v2, or installed ones), one per process
- store.py      collections, files and passages: Chroma (vectors) + SQLite (metadata, FTS5 for BM25)
- fts.py        the keyword index's text: CJK/Thai runs as character bigrams, optional English stemming
- indexer.py    the index pipeline (parse → embed → write) with resume after a crash
- retriever.py  hybrid search: dense + BM25 fused by a convex combination of their scores (RRF only to merge
                one mode's lists of several collections), near-duplicates collapsed, optional cross-encoder re-ranking

Answering with citations is the Chat feature's (app.core.chat.documents): nothing here imports app.core.chat.
No Qt.
"""
