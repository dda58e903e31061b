"""LangChain's standard Embeddings suites for MSearchEmbeddings on each text backend."""

from __future__ import annotations

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_msearch import MSearchEmbeddings
from tests.support.infinity_server import served_name
from tests.support.minilm import minilm_path


class TestMSearchEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[MSearchEmbeddings]:
        return MSearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": minilm_path(), "backend": "sentence-transformers"}


class TestMSearchEmbeddingsInfinityUnit(TestMSearchEmbeddingsUnit):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": minilm_path(), "backend": "infinity"}


class TestMSearchEmbeddingsSentenceTransformers(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[MSearchEmbeddings]:
        return MSearchEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"model": minilm_path(), "backend": "sentence-transformers"}


@pytest.mark.legacy_stack("infinity_emb")
class TestMSearchEmbeddingsInfinity(TestMSearchEmbeddingsSentenceTransformers):
    @property
    def embedding_model_params(self) -> dict:
        return {"model": minilm_path(), "backend": "infinity"}


class TestMSearchEmbeddingsInfinityServer(TestMSearchEmbeddingsSentenceTransformers):
    @pytest.fixture
    def model(self, infinity_url: str) -> MSearchEmbeddings:
        path = minilm_path()
        return MSearchEmbeddings(
            model=path, backend="infinity-server", url=infinity_url, server_model=served_name(path)
        )


class TestMSearchEmbeddingsOpenAICompatible(TestMSearchEmbeddingsSentenceTransformers):
    """The OpenAI-compatible client, against the Infinity server's ``/embeddings``."""

    @pytest.fixture
    def model(self, infinity_url: str) -> MSearchEmbeddings:
        path = minilm_path()
        return MSearchEmbeddings(
            model=path, backend="openai", url=infinity_url, server_model=served_name(path)
        )
