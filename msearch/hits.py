"""What a framework's result object shows of a stored hit: one rule for both adapters.

A LangChain ``Document`` from a retriever and a LlamaIndex node from a retriever carry the
same metadata: the caller's, untouched, plus msearch's fields under documented keys, added
only where the caller's metadata does not hold the key:

- ``source`` (the file or URL) and ``modality`` (``text``, ``image``, ``audio``);

and msearch's result keys, which always hold msearch's numbers (a caller's key of the same
name is shadowed in the result, never in the store):

- ``score``: the search's score; ``relevance_score``: the reranker's, when one reranked.

Vector stores return the stored metadata exactly (LangChain's and LlamaIndex's round-trip
contracts); points written by ``msearch index`` and ``MediaCollection`` hold ``source`` and
``chunk`` in it already.
"""

from __future__ import annotations

from typing import Any

from msearch.store.records import Hit

SOURCE = "source"
MODALITY = "modality"
SCORE = "score"
RELEVANCE = "relevance_score"


def result_metadata(
    hit: Hit, search_score: float | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The metadata a retriever's result shows for ``hit``, and the keys msearch added.

    ``search_score`` given means ``hit`` was reranked: its own score is the reranker's
    relevance, and ``search_score`` what the search gave it.
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
    return metadata, added


def with_search_scores(searched: list[Hit], reranked: list[Hit]) -> list[tuple[Hit, float | None]]:
    """Each reranked hit (its score now the reranker's) with the score its search gave it."""
    scores = {hit.point_id: hit.score for hit in searched}
    return [(hit, scores[hit.point_id]) for hit in reranked]
