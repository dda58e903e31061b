"""LlamaIndex integrations for msearch: local embeddings, rerankers and Qdrant search."""

from llamaindex_msearch.embeddings import MSearchEmbedding
from llamaindex_msearch.multimodal import MSearchAudioEmbedding
from llamaindex_msearch.multimodal_retrievers import MSearchAudioRetriever, MSearchImageRetriever
from llamaindex_msearch.rerank import MSearchRerank
from llamaindex_msearch.retrievers import MSearchRetriever
from llamaindex_msearch.sparse import MSearchSparseEmbedding, sparse_encoders
from llamaindex_msearch.vector_store import MSearchVectorStore

__all__ = [
    "MSearchAudioEmbedding",
    "MSearchAudioRetriever",
    "MSearchEmbedding",
    "MSearchImageRetriever",
    "MSearchRerank",
    "MSearchRetriever",
    "MSearchSparseEmbedding",
    "MSearchVectorStore",
    "sparse_encoders",
]
