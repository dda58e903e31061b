"""LangChain's standard Embeddings suites for MSearchEmbeddings on ``"flag"`` and ``"qwen3"``.

The suites read the model folder from class properties, so the tiny models come from the
support builders, which build once per process.
"""

from __future__ import annotations

from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_msearch import MSearchEmbeddings
from tests.support.tiny_bge_m3 import tiny_bge_m3_path
from tests.support.tiny_qwen3 import tiny_qwen3_embedding_path


class TestFlagEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[MSearchEmbeddings]:
        return MSearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_bge_m3_path(), "backend": "flag"}


class TestQwen3EmbeddingsUnit(TestFlagEmbeddingsUnit):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_qwen3_embedding_path(), "backend": "qwen3"}


class TestFlagEmbeddings(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[MSearchEmbeddings]:
        return MSearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_bge_m3_path(), "backend": "flag"}


class TestQwen3Embeddings(TestFlagEmbeddings):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_qwen3_embedding_path(), "backend": "qwen3", "dimensions": 64}
