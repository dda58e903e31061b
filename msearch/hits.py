"""What a framework's result object shows of a stored hit: one rule for both adapters.

A LangChain ``Document`` from a retriever and a LlamaIndex node from a retriever carry the
same metadata: the caller's, untouched, plus msearch's fields under documented keys, added
only where the caller's metadata does not hold the key:

- ``source`` (the file or URL) and ``modality`` (``text``, ``image``, ``audio``);

and msearch's result keys, which always hold msearch's numbers (a caller's key of the same
name is shadowed in the result, never in the store):

- ``score``: the search's score; ``relevance_score``: the reranker's, when one reranked;
- ``matches``: with results by file (``group_by="source"``), how many of the file's chunks
  were among the chunks read (``CHUNKS_PER_FILE`` per wanted file).

Vector stores return the stored metadata exactly (LangChain's and LlamaIndex's round-trip
contracts); points written by ``msearch index`` and ``MediaCollection`` hold ``source`` and
``chunk`` in it already.
"""

from __future__ import annotations

from typing import Any

from msearch.datatypes import Hit

SOURCE = "source"
MODALITY = "modality"
SCORE = "score"
RELEVANCE = "relevance_score"
MATCHES = "matches"
#: What results can be grouped by: the file (or URL) a chunk came from.
GROUP_BY = ("source",)
#: A search by file reads this many chunk hits for each file it returns, then folds them.
CHUNKS_PER_FILE = 8


def check_group_by(group_by: str | None) -> None:
    if group_by is not None and group_by not in GROUP_BY:
        from msearch.errors import InvalidInputError

        raise InvalidInputError(f"group_by must be None or one of {GROUP_BY}, got {group_by!r}")


def by_source(hits: list[Hit], k: int) -> list[tuple[Hit, int]]:
    """The best ``k`` files of ``hits`` (ranked best first): each file's best hit, which gives
    the file its score and snippet, and how many of ``hits`` came from that file.

    A hit with no ``source`` is a file of its own.
    """
    files: dict[str, list[Any]] = {}
    for hit in hits:
        key = hit.source if hit.source is not None else f"\0{hit.point_id}"
        files.setdefault(key, [hit, 0])[1] += 1
    return [(hit, count) for hit, count in list(files.values())[:k]]


def result_metadata(
    hit: Hit, search_score: float | None = None, matches: int | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The metadata a retriever's result shows for ``hit``, and the keys msearch added.

    ``search_score`` given means ``hit`` was reranked: its own score is the reranker's
    relevance, and ``search_score`` what the search gave it. ``matches`` (results by file)
    is how many chunks of the hit's file matched.
    """
    metadata = dict(hit.metadata)
    added = []
    for key, value in ((SOURCE, hit.source), (MODALITY, hit.modality)):
        if value is not None and key not in metadata:
            metadata[key] = value
            added.append(key)
    if search_score is None:
        metadata[SCORE] = hit.score
        added.append(SCORE)
    else:
        metadata[SCORE], metadata[RELEVANCE] = search_score, hit.score
        added += [SCORE, RELEVANCE]
    if matches is not None:
        metadata[MATCHES] = matches
        added.append(MATCHES)
    return metadata, added


def fetch_size(k: int, fetch_k: int | None, reranking: bool, group_by: str | None) -> int:
    """How many chunk hits a retriever reads for ``k`` results: ``fetch_k`` when given; by
    file, ``CHUNKS_PER_FILE`` per file; for a reranker to choose from, ``max(4k, 20)``."""
    if fetch_k is not None and (reranking or group_by is not None):
        return fetch_k
    if group_by is not None:
        return CHUNKS_PER_FILE * k
    return max(4 * k, 20) if reranking else k


def results(
    searched: list[Hit], ranked: list[Hit] | None, k: int, group_by: str | None
) -> list[tuple[Hit, float | None, int | None]]:
    """The ``k`` results a retriever returns: (hit, search score, matches).

    ``ranked`` is ``searched`` reordered by a reranker (each hit's score now the reranker's;
    the search score comes with it), or ``None`` when nothing reranked. By file, each result
    is a file's best chunk and ``matches`` counts its chunks among those ranked.
    """
    order = searched if ranked is None else ranked
    scores = None if ranked is None else {hit.point_id: hit.score for hit in searched}
    chosen = by_source(order, k) if group_by else [(hit, None) for hit in order[:k]]
    return [
        (hit, None if scores is None else scores[hit.point_id], matches) for hit, matches in chosen
    ]
