"""LangChain integrations for msearch: local embeddings, rerankers and Qdrant search."""

from langchain_msearch.embeddings import MSearchEmbeddings
from langchain_msearch.multimodal import MSearchAudioEmbeddings, MSearchImageEmbeddings
from langchain_msearch.multimodal_retrievers import MSearchAudioRetriever, MSearchImageRetriever
from langchain_msearch.rerank import MSearchReranker
from langchain_msearch.retrievers import MSearchRetriever
from langchain_msearch.sparse import MSearchSparseEmbeddings
from langchain_msearch.vectorstores import MSearchVectorStore

__all__ = [
    "MSearchAudioEmbeddings",
    "MSearchAudioRetriever",
    "MSearchEmbeddings",
    "MSearchImageEmbeddings",
    "MSearchImageRetriever",
    "MSearchReranker",
    "MSearchRetriever",
    "MSearchSparseEmbeddings",
    "MSearchVectorStore",
]
