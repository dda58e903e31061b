"""langchain-tests' standard VectorStore suite on MSearchVectorStore over Qdrant Edge.

The same suite as test_vectorstore.py, on the other embedded engine: a fresh Edge folder per
test, with the suite's own deterministic fake embeddings.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_msearch import MSearchVectorStore
from msearch.store import EdgeEngine


class TestMSearchVectorStoreOnEdge(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tmp_path: Path) -> Iterator[MSearchVectorStore]:
        store = MSearchVectorStore(
            embedding=self.get_embeddings(),
            collection_name="standard",
            path=tmp_path / "edge",
            engine="edge",
        )
        assert isinstance(store.store.engine, EdgeEngine)
        yield store
        store.close()
