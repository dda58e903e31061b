"""LangChain integrations for msearch: local embeddings, rerankers and Qdrant search."""

from langchain_msearch.embeddings import MSearchEmbeddings

__all__ = ["MSearchEmbeddings"]
