"""The keyword (BM25) index: one SQLite FTS5 table per collection, and the text that goes into it and into queries.

FTS5's `unicode61` tokenizer splits on spaces and punctuation, so a run of Chinese, Japanese, Korean or Thai text —
written without spaces between words — would be one token, and a word inside it could never be found. Such runs are
written as overlapping character bigrams (plus the run's last character alone), the way Lucene's CJKBigramFilter
and Elasticsearch's `cjk` analyzer index them; a query run becomes the same bigrams, so a phrase copied from a
document matches it and a shorter word matches anywhere inside a longer run. Everything else keeps FTS5's own
tokenizer, with the Porter stemmer on top when the collection uses English stemming (the default).

Columns: `title` (the document's), `heading` and `body` (weighted separately in bm25()), and the chunk `id`.
"""

from __future__ import annotations

import re

# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, Hangul (its words carry particles),
# Hiragana, Katakana, CJK ideographs (with extensions and compatibility forms), half-width Katakana.
_SPACELESS = ("\u0e00-\u0eff\u1000-\u109f\u1100-\u11ff\u1780-\u17ff\u3005\u3040-\u30ff\u3130-\u318f\u31f0-\u31ff"
              "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f")
SPACELESS_RUN = re.compile(f"[{_SPACELESS}]+")
_TOKENIZER = "unicode61 remove_diacritics 2 categories 'L* N* Co M*'"  # M*: Thai vowels and tone marks


def tokenizer(stemming: bool) -> str:
    """The FTS5 tokenize= argument: unicode61 keeping combining marks in words, under Porter when stemming."""
    return f"porter {_TOKENIZER}" if stemming else _TOKENIZER


def create_table(db, table: str, stemming: bool) -> None:
    tokenize = tokenizer(stemming).replace('"', '""')
    db.execute(f'CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING fts5(title, heading, body, id UNINDEXED, '
               f'tokenize = "{tokenize}")')


def bigrams(run: str) -> list[str]:
    """Overlapping character pairs of a run, then its last character alone ("龙井茶" → 龙井 井茶 茶)."""
    return [run[i:i + 2] for i in range(len(run) - 1)] + [run[-1]]


def index_text(text: str) -> str:
    """text as written into the FTS table: each spaceless-script run replaced by its bigrams."""
    return SPACELESS_RUN.sub(lambda m: " " + " ".join(bigrams(m.group())) + " ", text)


def query_terms(text: str) -> list[str]:
    """The FTS terms for one spaceless run of a query: its bigrams, or for a single character that character as
    a prefix (it opens a bigram, or ends a run)."""
    if len(text) == 1:
        return [text + "*"]
    return [text[i:i + 2] for i in range(len(text) - 1)]


def match_expression(terms: list[str], joiner: str) -> str:
    """An FTS5 MATCH expression joining quoted terms with AND/OR; a term ending in * is a prefix query."""
    parts = []
    for term in terms:
        prefix = term.endswith("*") and len(term) > 1
        body = term[:-1] if prefix else term
        parts.append('"' + body.replace('"', '""') + '"' + ("*" if prefix else ""))
    return f" {joiner} ".join(parts)
