"""msearch's collection schema: vector names, payload keys, point ids and model records.

One schema serves LangChain, LlamaIndex and the CLI, so a collection written by one is read
by the others. The collection's own metadata (a Qdrant collection property) records which model
and dimension built each named vector; the store compares it before writing.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from msearch.errors import InvalidInputError, SchemaMismatchError

SCHEMA_VERSION = 1

# Named vectors, one per modality (more may come: any name not reserved below is allowed).
TEXT = "text"
TEXT_SPARSE = "text_sparse"
IMAGE = "image"
AUDIO = "audio"

# Points' modalities beside the vector names: speech is transcribed text on the ``text`` vector,
# a video's frames are pictures on the ``image`` vector.
SPEECH = "speech"
VIDEO = "video"

# The stock classes' own vector names: an msearch collection never uses them, so nobody mistakes
# a langchain-qdrant or llama-index collection for an msearch one or the other way round.
RESERVED_VECTOR_NAMES = frozenset(
    {"", "langchain-sparse", "text-dense", "text-sparse", "text-sparse-new"}
)

# Payload keys. ``metadata`` is exactly the caller's metadata; the rest are msearch's own.
CONTENT = "content"
METADATA = "metadata"
ID = "id"
SOURCE = "source"
MODALITY = "modality"
DOC_ID = "doc_id"
CHUNK = "chunk"
CONTENT_HASH = "content_hash"
# The folder indexer's own bookkeeping: the file's SHA-256 (which also marks a point as the
# indexer's, so it never deletes points that a framework adapter wrote), the last-chunk flag,
# and on that last point, which models read the file ("audio", "speech" ...).
FILE_HASH = "file_hash"
LAST_CHUNK = "last_chunk"
PARTS = "parts"
PAYLOAD_KEYS = (
    CONTENT, METADATA, ID, SOURCE, MODALITY, DOC_ID, CHUNK, CONTENT_HASH, FILE_HASH, LAST_CHUNK,
    PARTS,
)
INDEXED_KEYS = (SOURCE, MODALITY, DOC_ID)

# The key under which msearch keeps its record in the collection's metadata.
METADATA_KEY = "msearch"

# A fixed namespace so the same caller id maps to the same point id on every machine.
ID_NAMESPACE = uuid.UUID("5d0c3f7e-8a51-4b0e-9a4e-6f3b1c2d7a90")


class Distance(enum.StrEnum):
    COSINE = "cosine"
    DOT = "dot"
    EUCLID = "euclid"
    MANHATTAN = "manhattan"


@dataclass(frozen=True)
class VectorSpec:
    """One dense named vector: its size, distance, and the model that builds it.

    ``model`` is the model's id (an msearch model name, or the class name of a foreign
    embeddings object); ``None`` means unknown, in which case only the size is checked.

    >>> VectorSpec(384, model="sentence-transformers/all-MiniLM-L6-v2").size
    384
    """

    size: int
    distance: Distance = Distance.COSINE
    model: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or self.size < 1:
            raise InvalidInputError(f"a vector size must be a positive int, got {self.size!r}")
        object.__setattr__(self, "distance", Distance(self.distance))

    def as_record(self) -> dict[str, Any]:
        return {"size": self.size, "distance": str(self.distance), "model": self.model}


@dataclass(frozen=True)
class SparseSpec:
    """One sparse named vector: the model that builds it and whether Qdrant applies IDF.

    Learned sparse models (BGE-M3, SPLADE) weigh terms themselves: ``idf=False``. BM25-like
    term counts need Qdrant's IDF modifier: ``idf=True``.
    """

    model: str | None = None
    idf: bool = False

    def as_record(self) -> dict[str, Any]:
        return {"model": self.model, "idf": self.idf}


@dataclass(frozen=True)
class Schema:
    """The named vectors of one collection: dense ``vectors`` and ``sparse`` vectors.

    >>> schema = Schema(vectors={"text": VectorSpec(384, model="minilm")})
    >>> schema.dense_size("text")
    384
    """

    vectors: Mapping[str, VectorSpec] = field(default_factory=dict)
    sparse: Mapping[str, SparseSpec] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vectors", dict(self.vectors))
        object.__setattr__(self, "sparse", dict(self.sparse))
        for name in (*self.vectors, *self.sparse):
            check_vector_name(name)
        both = set(self.vectors) & set(self.sparse)
        if both:
            raise InvalidInputError(f"vector name(s) {sorted(both)} are both dense and sparse")

    @property
    def names(self) -> list[str]:
        return [*self.vectors, *self.sparse]

    def dense_size(self, name: str) -> int:
        return self.vectors[name].size

    def as_record(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "vectors": {name: spec.as_record() for name, spec in self.vectors.items()},
            "sparse": {name: spec.as_record() for name, spec in self.sparse.items()},
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Schema:
        version = record.get("schema_version")
        if version != SCHEMA_VERSION:
            raise SchemaMismatchError(
                f"the collection was written with msearch schema version {version!r}; "
                f"this msearch reads version {SCHEMA_VERSION}"
            )
        return cls(
            vectors={
                name: VectorSpec(int(v["size"]), Distance(v["distance"]), v.get("model"))
                for name, v in record.get("vectors", {}).items()
            },
            sparse={
                name: SparseSpec(v.get("model"), bool(v.get("idf", False)))
                for name, v in record.get("sparse", {}).items()
            },
        )


def check_vector_name(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidInputError(f"a vector name must be a str, got {type(name).__name__}")
    if name in RESERVED_VECTOR_NAMES:
        raise InvalidInputError(
            f"vector name {name!r} belongs to the stock langchain-qdrant / llama-index "
            "collections; msearch uses 'text', 'text_sparse', 'image', 'audio' ..."
        )
    return name


def check_compatible(recorded: Schema, wanted: Schema, collection: str) -> None:
    """Raise SchemaMismatchError unless every vector ``wanted`` is recorded, built alike."""
    for name, spec in wanted.vectors.items():
        have = recorded.vectors.get(name)
        if have is None:
            raise SchemaMismatchError(
                f"collection {collection!r} has no dense vector {name!r} "
                f"(it has {sorted(recorded.vectors)}); a collection's vectors are fixed when "
                "it is created: use another collection"
            )
        if have.size != spec.size:
            raise SchemaMismatchError(
                f"collection {collection!r} stores {have.size}-dimensional {name!r} vectors; "
                f"got {spec.size}-dimensional ones"
            )
        if have.model is not None and spec.model is not None and have.model != spec.model:
            raise SchemaMismatchError(
                f"collection {collection!r} holds {name!r} vectors built by {have.model!r}; "
                f"refusing vectors from another model, {spec.model!r}: their scores would not "
                "be comparable. Use the same model or another collection."
            )
        if have.distance != spec.distance:
            raise SchemaMismatchError(
                f"collection {collection!r} compares {name!r} vectors by {have.distance}, "
                f"not {spec.distance}"
            )
    for name, sparse in wanted.sparse.items():
        had = recorded.sparse.get(name)
        if had is None:
            raise SchemaMismatchError(
                f"collection {collection!r} has no sparse vector {name!r} "
                f"(it has {sorted(recorded.sparse)})"
            )
        if had.model is not None and sparse.model is not None and had.model != sparse.model:
            raise SchemaMismatchError(
                f"collection {collection!r} holds {name!r} sparse vectors built by "
                f"{had.model!r}; refusing vectors from {sparse.model!r}"
            )


def point_id(caller_id: str | int | uuid.UUID) -> str:
    """The Qdrant point id (a UUID string) for a caller's id of any string form.

    The same caller id always gives the same point id, so re-adding a document replaces it.

    >>> point_id("foo") == point_id("foo")
    True
    """
    if isinstance(caller_id, bool) or not isinstance(caller_id, str | int | uuid.UUID):
        raise InvalidInputError(f"ids must be strings, got {type(caller_id).__name__}")
    text = str(caller_id)
    check_unicode(text, "an id")
    return str(uuid.uuid5(ID_NAMESPACE, text))


def id_list(ids: Sequence[str]) -> list[str]:
    """Caller ids as a list; one string (a common slip for a list of one id) is refused."""
    if isinstance(ids, str):
        raise InvalidInputError("ids must be a list of ids, not a single string")
    return list(ids)


def check_unicode(text: str, what: str) -> str:
    """``text``, or InvalidInputError if it holds a lone surrogate (no UTF-8 form; Qdrant
    stores UTF-8)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidInputError(
            f"{what} is not valid Unicode: a lone surrogate {text[err.start]!r} at position "
            f"{err.start} ({text[:40]!r})"
        ) from err
    return text


def chunk_id(source: str, chunk: int) -> str:
    """The caller-level id of chunk ``chunk`` of ``source`` (what the folder indexer uses)."""
    return f"{source}#{chunk}"

