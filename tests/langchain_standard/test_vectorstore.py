"""langchain-tests' standard VectorStore suite (sync and async) on MSearchVectorStore.

The suite brings its own deterministic fake embeddings; the store runs on qdrant-client's
embedded in-memory mode, a fresh collection per test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_msearch import MSearchVectorStore


class TestMSearchVectorStore(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self) -> Iterator[MSearchVectorStore]:
        store = MSearchVectorStore(
            embedding=self.get_embeddings(), collection_name="standard", location=":memory:"
        )
        yield store
        store.close()
