"""LlamaIndex integrations for msearch: local embeddings, rerankers and Qdrant search."""

from llamaindex_msearch.embeddings import MSearchEmbedding

__all__ = ["MSearchEmbedding"]
