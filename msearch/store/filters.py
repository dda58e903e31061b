"""Metadata filters: a plain dict for the common cases, a Qdrant ``Filter`` for the rest.

``{"genre": "jazz"}`` matches the caller's metadata field ``genre``; a list value matches any
of its items. Every key of a dict filter is a metadata key, even one named like msearch's own
payload fields (``source``, ``modality``, ``doc_id``, ``id`` ...): the caller's metadata is its
own namespace. (Points written by ``msearch index`` and ``MediaCollection`` carry ``source`` and
their other citation fields in metadata too, so ``{"source": path}`` finds them.) Dotted keys
reach nested metadata (``{"author.name": "Ada"}``). A ``qdrant_client.models.Filter`` passes
through unchanged, its keys addressing the payload as stored (``metadata.genre``, or msearch's
own ``source``, ``doc_id`` ...); ``own_fields`` builds one on msearch's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

from msearch.errors import InvalidInputError
from msearch.store import schema as s

if TYPE_CHECKING:
    from qdrant_client import models
else:
    from msearch.store import qdrant_models as models

Filter: TypeAlias = "models.Filter | Mapping[str, Any]"
_SCALARS = (str, int, bool)


def to_qdrant(filter: Filter | None) -> models.Filter | None:
    """The Qdrant filter for ``filter`` (``None`` and ``{}`` mean no filter)."""
    if filter is None or (isinstance(filter, Mapping) and not filter):
        return None
    if not isinstance(filter, Mapping):
        if not isinstance(filter, models.Filter):
            raise InvalidInputError(
                "a filter must be a dict or a qdrant_client.models.Filter, got "
                f"{type(filter).__name__}"
            )
        _check_ints(filter)
        return filter
    built = models.Filter(must=[_condition(key, value) for key, value in filter.items()])
    _check_ints(built)
    return built


def _condition(key: str, value: Any) -> models.FieldCondition:
    if not isinstance(key, str) or not key:
        raise InvalidInputError(f"filter keys must be non-empty strings, got {key!r}")
    s.check_unicode(key, "a filter key")
    return _match(f"{s.METADATA}.{key}", key, value)


def own_fields(**fields: Any) -> models.Filter | None:
    """A filter on msearch's own payload fields (``own_fields(source="a.txt", doc_id=["x", "y"])``);
    ``None`` values are left out, and no field at all gives ``None``."""
    conditions: list[Any] = []
    for key, value in fields.items():
        if key not in s.PAYLOAD_KEYS:
            raise InvalidInputError(f"{key!r} is not one of msearch's payload fields")
        if value is not None:
            conditions.append(_match(key, key, value))
    return models.Filter(must=conditions) if conditions else None


def _match(field: str, key: str, value: Any) -> models.FieldCondition:
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        # Qdrant matches a list of strings or a list of integers, never a mix.
        if not items or not (
            all(isinstance(item, str) for item in items)
            or all(isinstance(item, int) and not isinstance(item, bool) for item in items)
        ):
            raise InvalidInputError(
                f"filter {key!r}: a list must hold only strings or only ints, got {items!r}"
            )
        for item in items:
            if isinstance(item, str):
                s.check_unicode(item, f"filter {key!r}")
        return models.FieldCondition(key=field, match=models.MatchAny(any=items))
    if isinstance(value, _SCALARS):
        if isinstance(value, str):
            s.check_unicode(value, f"filter {key!r}")
        return models.FieldCondition(key=field, match=models.MatchValue(value=value))
    raise InvalidInputError(
        f"filter {key!r}: match a string, int, bool or a list of them, got {type(value).__name__}; "
        "pass a qdrant_client.models.Filter for ranges and other conditions"
    )


#: Qdrant compares integer payload values as signed 64-bit numbers.
_INT64 = (-(2**63), 2**63 - 1)


def _check_ints(condition: Any) -> None:
    """Refuse integers no engine can match (past 64 bits signed) wherever a filter holds them:
    Qdrant Edge fails on them with a bare TypeError while qdrant-client's local mode matches
    them, so both get the same typed refusal instead."""
    if isinstance(condition, models.Filter):
        for part in (condition.must, condition.should, condition.must_not):
            items = part if isinstance(part, list) else [] if part is None else [part]
            for item in items:
                _check_ints(item)
        if condition.min_should is not None:
            for item in condition.min_should.conditions:
                _check_ints(item)
    elif isinstance(condition, models.NestedCondition):
        _check_ints(condition.nested.filter)
    elif isinstance(condition, models.FieldCondition) and condition.match is not None:
        match = condition.match
        values: list[Any] = [getattr(match, "value", None)]
        values += list(getattr(match, "any", None) or [])
        values += list(getattr(match, "except_", None) or [])
        for value in values:
            if isinstance(value, bool) or not isinstance(value, int):
                continue
            if not _INT64[0] <= value <= _INT64[1]:
                raise InvalidInputError(
                    f"filter {condition.key!r}: {value} is outside the signed 64-bit range "
                    "Qdrant matches integers in"
                )


def merge_filters(
    first: models.Filter | None, second: models.Filter | None
) -> models.Filter | None:
    """Both filters must hold."""
    if first is None:
        return second
    if second is None:
        return first
    return models.Filter(must=[first, second])
