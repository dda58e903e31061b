"""Where the store connects, and what reaches qdrant-client for a Qdrant server or cluster.

No Qdrant server runs here, so server settings are checked on the remote client's own
configuration and on the arguments of the collection-creation request, recorded by a
QdrantClient subclass that still performs every call on an embedded client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from qdrant_client import QdrantClient, models

from msearch.errors import InvalidInputError, StoreError
from msearch.store import ClientEngine, Schema, SparseSpec, Store, VectorSpec, default_path
from msearch.store.client import Connection, connect, release


class RecordingClient(QdrantClient):
    def __init__(self) -> None:
        super().__init__(location=":memory:")
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def create_collection(self, *args: Any, **kwargs: Any) -> bool:
        self.calls.append(("create_collection", kwargs))
        return super().create_collection(*args, **kwargs)

    def create_payload_index(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("create_payload_index", kwargs))
        return None


def test_server_settings_reach_the_client() -> None:
    connection = Connection(
        url="https://qdrant.example:6333",
        api_key="secret-key",
        https=True,
        timeout=17,
        prefer_grpc=True,
        client_options={"check_compatibility": False},
    )
    assert not connection.is_embedded and connection.folder() is None
    client = connect(connection)
    remote = client._client
    assert type(remote).__name__ == "QdrantRemote"
    assert remote.rest_uri == "https://qdrant.example:6333"
    assert remote._api_key == "secret-key"
    assert remote._https is True
    assert remote._timeout == 17
    assert remote._prefer_grpc is True
    release(client)


def test_collection_creation_request_carries_cluster_settings() -> None:
    client = RecordingClient()
    engine = ClientEngine(client)
    engine.embedded = False  # act as on a server: payload indexes are requested too
    schema = Schema(
        vectors={"text": VectorSpec(4, model="m"), "image": VectorSpec(2, "dot", "clip")},
        sparse={"text_sparse": SparseSpec(model="bm25-like", idf=True)},
    )
    Store("c", schema, engine=engine, shard_number=3, replication_factor=2)
    name, request = client.calls[0]
    assert name == "create_collection"
    assert request["shard_number"] == 3 and request["replication_factor"] == 2
    assert request["vectors_config"]["text"] == models.VectorParams(
        size=4, distance=models.Distance.COSINE
    )
    assert request["vectors_config"]["image"].distance == models.Distance.DOT
    assert request["sparse_vectors_config"]["text_sparse"].modifier == models.Modifier.IDF
    assert request["metadata"]["msearch"]["vectors"]["image"]["model"] == "clip"
    indexed = {kw["field_name"] for call, kw in client.calls if call == "create_payload_index"}
    assert indexed == {"source", "modality", "doc_id"}


def test_only_one_place_is_accepted() -> None:
    with pytest.raises(InvalidInputError, match="only one of"):
        Connection(location=":memory:", path="x")


def test_default_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MSEARCH_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_path() == tmp_path / "msearch" / "qdrant"
    monkeypatch.setenv("MSEARCH_HOME", str(tmp_path / "home"))
    assert default_path() == tmp_path / "home" / "qdrant"
    assert Connection().folder() == (tmp_path / "home" / "qdrant").resolve()


def test_one_folder_is_shared_within_a_process(tmp_path: Path) -> None:
    first = Store("a", Schema({"text": VectorSpec(2)}), path=tmp_path)
    second = Store("a", path=tmp_path)
    assert first.client is second.client
    first.close()
    assert second.count() == 0  # still open for the other user
    second.close()


def test_an_unreachable_grpc_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="the Qdrant server failed"):
        Store("x", url="http://127.0.0.1:9", prefer_grpc=True, timeout=2)
