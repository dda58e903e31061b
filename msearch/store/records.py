"""How a ``Record`` (``msearch.datatypes``) becomes a stored payload, how a stored point becomes
a ``Hit``, and the checks on the vectors and payloads that go in."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from msearch.datatypes import Hit, Record, SparseVector
from msearch.errors import InvalidInputError
from msearch.store import schema as s


def record_payload(record: Record) -> dict[str, Any]:
    """The stored payload of ``record``: its content, the caller's metadata as given, and
    msearch's own fields beside it (those left ``None`` are left out).

    >>> import numpy as np
    >>> record = Record(id="a", vectors={"text": np.ones(3)}, content="hello", metadata={"n": 1})
    >>> sorted(record_payload(record))
    ['content', 'id', 'metadata', 'modality']
    """
    payload: dict[str, Any] = {
        s.ID: str(record.id),
        s.CONTENT: record.content,
        s.METADATA: dict(record.metadata),
        s.MODALITY: record.modality,
    }
    optional = {
        s.SOURCE: record.source,
        s.DOC_ID: record.doc_id,
        s.CHUNK: record.chunk,
        s.CONTENT_HASH: record.content_hash,
        s.FILE_HASH: record.file_hash,
        s.LAST_CHUNK: record.last_chunk,
        s.PARTS: None if record.parts is None else list(record.parts),
    }
    payload.update({key: value for key, value in optional.items() if value is not None})
    return payload


def hit_from_point(
    point_id: str,
    payload: Mapping[str, Any] | None,
    score: float | None = None,
    vectors: dict[str, Any] | None = None,
) -> Hit:
    """The ``Hit`` for a stored point: the caller's id, content and metadata read back from
    its payload, and msearch's own fields beside them."""
    data = dict(payload or {})
    return Hit(
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
    # NaN and infinity survive a dot product: one cheap reduction decides for nearly every
    # vector; only a non-finite result (which huge finite values can also give) looks closer.
    if not math.isfinite(array.dot(array)) and not np.isfinite(array).all():
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
_SCALARS = (bool, float, int, str)  # a tuple: isinstance checks it faster than a union


def checked_payload(value: Any, what: str) -> Any:
    """``value`` as plain JSON data, which every engine stores the same way.

    NumPy scalars and arrays become Python numbers and lists. Anything JSON cannot hold (NaN,
    non-string keys, bytes, arbitrary objects, lone surrogates, ints past 64 bits) raises
    InvalidInputError naming where it is: engines differ on such values (one stores them,
    another fails with a low-level error), so msearch refuses them before writing.
    """
    try:
        return _plain(value, 0)
    except _Refused as refused:
        where = what + "".join(f"[{key!r}]" for key in reversed(refused.path))
        raise InvalidInputError(f"{where} {refused.reason}") from None


class _Refused(Exception):
    """A value JSON cannot hold; ``path`` is filled in (innermost first) on the way out, so
    the happy path never formats a location."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[Any] = []


def _plain(value: Any, depth: int) -> Any:
    if value is None or isinstance(value, _SCALARS):
        return _plain_scalar(value)
    if depth > _MAX_DEPTH:
        raise _Refused(f"is nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, np.generic | np.ndarray):
        return _plain(value.tolist(), depth)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _Refused(f"has the key {key!r} ({type(key).__name__}); keys must be strings")
            _unicode(key, "has a key that is")  # the location is this dict, not the key
            try:
                out[key] = _plain(item, depth + 1)
            except _Refused as refused:
                refused.path.append(key)
                raise
        return out
    if isinstance(value, list | tuple):
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_plain(item, depth + 1))
            except _Refused as refused:
                refused.path.append(index)
                raise
        return items
    raise _Refused(
        f"is {type(value).__name__}; stored values must be strings, numbers, booleans, "
        "None, lists or dicts"
    )


def _plain_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return _unicode(value, "is")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise _Refused(f"is {value}, outside the 64-bit range Qdrant stores")
        return value
    if not math.isfinite(value):
        raise _Refused(f"is {value}; JSON has no NaN or infinity")
    return value


def _unicode(text: str, verb: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise _Refused(
            f"{verb} not valid Unicode: a lone surrogate {text[err.start]!r} at position "
            f"{err.start} ({text[:40]!r})"
        ) from None
    return text
