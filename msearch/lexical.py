"""BM25 lexical vectors that need no model: the ``"bm25"`` sparse backend.

A text's words (Unicode word characters, NFKC-normalized and case-folded, no stemming and no
stop list) become a sparse vector: each word's index is a stable 31-bit hash of it, and its
weight BM25's term-frequency part, ``tf * (k1 + 1) / (tf + k1 * (1 - b + b * len / avg_len))``
(k1 1.2, b 0.75, ``avg_len`` 150 words: about what a 200-token chunk holds). A query's words
weigh 1 each. The inverse document frequency comes from Qdrant: the sparse vector is stored
with the IDF modifier (``SparseSpec(idf=True)``), which both engines compute over the
collection at query time. Dense + BM25 fused by RRF is the command's default hybrid search.

>>> from msearch.sparse import sparse_embedder
>>> bm25 = sparse_embedder("bm25")
>>> sorted(bm25.embed_query_sparse("Cats sleep; cats purr.").as_dict().values())
[1.0, 1.0, 2.0]
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from msearch.backends.base import BatchOptions, BlockingModel, SparseEmbedderBase
from msearch.batching import with_progress
from msearch.datatypes import SparseVector, sparse_from_weights
from msearch.models import ModelSpec

#: The model name that selects BM25 (it has no weights).
BM25 = "bm25"
_WORD = re.compile(r"\w+")


def words(text: str) -> list[str]:
    """The words BM25 counts in ``text``."""
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def word_index(word: str) -> int:
    """A word's index in the sparse vector: the same on every machine and run."""
    digest = hashlib.blake2b(word.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


@dataclass(frozen=True, kw_only=True)
class BM25Options(BatchOptions):
    """BM25's two constants, and the document length its weights assume."""

    k1: float = 1.2
    b: float = 0.75
    avg_len: float = 150.0


class BM25Embedder(BlockingModel, SparseEmbedderBase):
    """BM25 term weights for documents, word counts for queries; no model to load.

    Options: ``k1`` (1.2), ``b`` (0.75), ``avg_len`` (150 words). ``idf`` is True: the store
    keeps these vectors with Qdrant's IDF modifier.
    """

    idf = True
    Options: ClassVar[type[BM25Options]] = BM25Options
    options: BM25Options

    def __init__(self, spec: ModelSpec, options: BM25Options | None = None) -> None:
        super().__init__(spec, options)
        k1, b, avg_len = self.options.k1, self.options.b, self.options.avg_len
        if k1 < 0 or not 0 <= b <= 1 or avg_len <= 0:
            raise ValueError(f"BM25 needs k1 >= 0, 0 <= b <= 1, avg_len > 0: {k1}, {b}, {avg_len}")
        self.k1, self.b, self.avg_len = float(k1), float(b), float(avg_len)

    def _load(self) -> None:
        return None

    def _encode_sparse(self, texts: list[str]) -> list[SparseVector]:
        return self._each(texts, self._document, "BM25 weights")

    def _encode_sparse_queries(self, texts: list[str]) -> list[SparseVector]:
        return self._each(texts, _query, "BM25 queries")

    def _document(self, text: str) -> SparseVector:
        counts = _counts(text)
        length = sum(counts.values())
        norm = self.k1 * (1 - self.b + self.b * length / self.avg_len)
        return _vector({i: tf * (self.k1 + 1) / (tf + norm) for i, tf in counts.items()})

    def _each(
        self, texts: list[str], weigh: Callable[[str], SparseVector], desc: str
    ) -> list[SparseVector]:
        """``weigh`` of every text, ``batch_size`` texts a step of the progress bar."""
        starts = list(range(0, len(texts), self.batch_size))
        out: list[SparseVector] = []
        for start in with_progress(starts, self.show_progress, desc):
            out.extend(weigh(text) for text in texts[start : start + self.batch_size])
        return out


def _query(text: str) -> SparseVector:
    return _vector({i: float(n) for i, n in _counts(text).items()})


def _counts(text: str) -> Counter[int]:
    return Counter(word_index(word) for word in words(text))


def _vector(weights: dict[int, float]) -> SparseVector:
    return sparse_from_weights(list(weights), list(weights.values()))
