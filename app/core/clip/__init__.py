"""CLIP: find images by describing them, and zero-shot labels (no Qt; torch/transformers imported lazily).

- model.py   CLIPModel + CLIPProcessor from a local folder; unit-length image/text embeddings; the shared encoder
- index.py   embeddings of a folder's images, cached in SQLite by content hash, updated when files change
- search.py  cosine ranking, text or example-image search, zero-shot labels, the user's label list
- jobs.py    the job functions the GUI and the CLI run
"""
