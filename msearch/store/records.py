"""What goes into the store and what comes back out: ``Record`` and ``Hit``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from msearch.backends.base import SparseVector
from msearch.errors import InvalidInputError
from msearch.store import schema as s

VectorInput = np.ndarray | Sequence[float] | SparseVector


@dataclass
class Record:
    """One point to write: the caller's id, its named vectors, content and metadata.

    ``metadata`` is the caller's and comes back unchanged; ``source``, ``modality``,
    ``doc_id``, ``chunk`` and ``content_hash`` are msearch's own fields beside it.

    >>> import numpy as np
    >>> record = Record(id="a", vectors={"text": np.ones(3)}, content="hello", metadata={"n": 1})
    >>> sorted(record.payload())
    ['content', 'id', 'metadata', 'modality']
    """

    id: str
    vectors: Mapping[str, VectorInput]
    content: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    source: str | None = None
    modality: str = "text"
    doc_id: str | None = None
    chunk: int | None = None
    content_hash: str | None = None

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            s.ID: str(self.id),
            s.CONTENT: self.content,
            s.METADATA: dict(self.metadata),
            s.MODALITY: self.modality,
        }
        optional = {
            s.SOURCE: self.source,
            s.DOC_ID: self.doc_id,
            s.CHUNK: self.chunk,
            s.CONTENT_HASH: self.content_hash,
        }
        payload.update({key: value for key, value in optional.items() if value is not None})
        return payload


@dataclass(frozen=True)
class Hit:
    """One point read back: the caller's id, score (``None`` for ``get``), content, metadata.

    ``payload`` holds every stored field (msearch's own included); ``vectors`` is filled
    only when asked for.
    """

    id: str
    score: float | None
    content: str | None
    metadata: dict[str, Any]
    payload: dict[str, Any]
    point_id: str
    vectors: dict[str, Any] | None = None

    @property
    def source(self) -> str | None:
        return self.payload.get(s.SOURCE)

    @property
    def modality(self) -> str | None:
        return self.payload.get(s.MODALITY)

    @property
    def doc_id(self) -> str | None:
        return self.payload.get(s.DOC_ID)

    @classmethod
    def from_point(
        cls,
        point_id: str,
        payload: Mapping[str, Any] | None,
        score: float | None = None,
        vectors: dict[str, Any] | None = None,
    ) -> Hit:
        data = dict(payload or {})
        return cls(
            id=str(data.get(s.ID, point_id)),
            score=score,
            content=data.get(s.CONTENT),
            metadata=dict(data.get(s.METADATA) or {}),
            payload=data,
            point_id=str(point_id),
            vectors=vectors,
        )


def dense_array(vector: Any, what: str) -> np.ndarray:
    """A 1-D float32 array, or an error naming ``what`` was wrong with it."""
    if isinstance(vector, SparseVector):
        raise InvalidInputError(f"{what} is a sparse vector where a dense one is expected")
    try:
        array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise InvalidInputError(f"{what} is not a vector of numbers: {err}") from err
    if array.ndim != 1:
        raise InvalidInputError(f"{what} must be one vector, got an array of shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise InvalidInputError(f"{what} contains NaN or infinite values")
    return array


def sparse_vector(vector: Any, what: str) -> SparseVector:
    """A checked SparseVector (from a SparseVector or a ``{index: weight}`` dict)."""
    if isinstance(vector, Mapping):
        vector = SparseVector(
            np.asarray(list(vector.keys()), dtype=np.int64),
            np.asarray(list(vector.values()), dtype=np.float32),
        )
    if not isinstance(vector, SparseVector):
        raise InvalidInputError(f"{what} must be a SparseVector, got {type(vector).__name__}")
    indices = np.asarray(vector.indices, dtype=np.int64).reshape(-1)
    values = np.asarray(vector.values, dtype=np.float32).reshape(-1)
    if indices.shape != values.shape:
        raise InvalidInputError(f"{what} has {indices.size} indices but {values.size} values")
    if indices.size and indices.min() < 0:
        raise InvalidInputError(f"{what} has negative indices")
    if not np.all(np.isfinite(values)):
        raise InvalidInputError(f"{what} contains NaN or infinite values")
    return SparseVector(indices, values)


#: Deeper payloads are refused rather than risk Python's recursion limit.
_MAX_DEPTH = 32
_INT_RANGE = (-(2**63), 2**64 - 1)


def checked_payload(value: Any, what: str, depth: int = 0) -> Any:
    """``value`` as plain JSON data, which every engine stores the same way.

    NumPy scalars and arrays become Python numbers and lists. Anything JSON cannot hold (NaN,
    non-string keys, bytes, arbitrary objects, lone surrogates, ints past 64 bits) raises
    InvalidInputError naming where it is: engines differ on such values (one stores them,
    another fails with a low-level error), so msearch refuses them before writing.
    """
    if depth > _MAX_DEPTH:
        raise InvalidInputError(f"{what} is nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, np.generic | np.ndarray):
        value = value.tolist()
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return s.check_unicode(value, what)
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise InvalidInputError(f"{what} is {value}, outside the 64-bit range Qdrant stores")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInputError(f"{what} is {value}; JSON has no NaN or infinity")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError(
                    f"{what} has the key {key!r} ({type(key).__name__}); keys must be strings"
                )
            s.check_unicode(key, f"a key of {what}")
            out[key] = checked_payload(item, f"{what}[{key!r}]", depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [checked_payload(item, f"{what}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise InvalidInputError(
        f"{what} is {type(value).__name__}; stored values must be strings, numbers, booleans, "
        "None, lists or dicts"
    )
