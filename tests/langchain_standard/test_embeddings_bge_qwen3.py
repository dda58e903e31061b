"""LangChain's standard Embeddings suites for MSearchEmbeddings on the BGE backends
(``"transformers"``; ``"flag"`` in the legacy stack) and on ``"qwen3"``.

The suites read the model folder from class properties, so the tiny models come from the
support builders, which build once per process.
"""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_msearch import MSearchEmbeddings
from tests.support.tiny_bge_m3 import tiny_bge_m3_path
from tests.support.tiny_qwen3 import tiny_qwen3_embedding_path


class TestBGEM3EmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[MSearchEmbeddings]:
        return MSearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_bge_m3_path(), "backend": "transformers"}


@pytest.mark.legacy_stack("FlagEmbedding")
class TestFlagEmbeddingsUnit(TestBGEM3EmbeddingsUnit):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_bge_m3_path(), "backend": "flag"}


class TestQwen3EmbeddingsUnit(TestBGEM3EmbeddingsUnit):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_qwen3_embedding_path(), "backend": "qwen3"}


class TestBGEM3Embeddings(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[MSearchEmbeddings]:
        return MSearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_bge_m3_path(), "backend": "transformers"}


@pytest.mark.legacy_stack("FlagEmbedding")
class TestFlagEmbeddings(TestBGEM3Embeddings):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_bge_m3_path(), "backend": "flag"}


class TestQwen3Embeddings(TestBGEM3Embeddings):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": tiny_qwen3_embedding_path(), "backend": "qwen3", "dimensions": 64}
