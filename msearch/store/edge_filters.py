"""qdrant-client filters translated into Qdrant Edge filters.

The store speaks ``qdrant_client.models.Filter`` (dict filters are translated to it in
filters.py), so callers write one filter for every engine; the Edge engine converts it here,
condition by condition. A condition Edge cannot express raises ``InvalidInputError`` naming it.
"""

from __future__ import annotations

from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING, Any

from msearch.errors import InvalidInputError

if TYPE_CHECKING:
    from qdrant_client import models
else:
    from msearch.store import qdrant_models as models


def to_edge(qe: ModuleType, filter: models.Filter | None) -> Any:
    """The ``qdrant_edge.Filter`` equal to ``filter`` (``None`` stays ``None``)."""
    if filter is None:
        return None
    return _filter(qe, filter)


def _filter(qe: ModuleType, filter: models.Filter) -> Any:
    min_should = None
    if filter.min_should is not None:
        min_should = qe.MinShould(
            conditions=[_condition(qe, c) for c in filter.min_should.conditions],
            min_count=filter.min_should.min_count,
        )
    return qe.Filter(
        must=_conditions(qe, filter.must),
        should=_conditions(qe, filter.should),
        must_not=_conditions(qe, filter.must_not),
        min_should=min_should,
    )


def _conditions(qe: ModuleType, conditions: Any) -> list[Any] | None:
    if conditions is None:
        return None
    items = conditions if isinstance(conditions, list) else [conditions]
    return [_condition(qe, condition) for condition in items]


def _condition(qe: ModuleType, condition: Any) -> Any:
    if isinstance(condition, models.Filter):
        return _filter(qe, condition)
    if isinstance(condition, models.FieldCondition):
        return _field(qe, condition)
    if isinstance(condition, models.IsEmptyCondition):
        return qe.IsEmptyCondition(key=condition.is_empty.key)
    if isinstance(condition, models.IsNullCondition):
        return qe.IsNullCondition(key=condition.is_null.key)
    if isinstance(condition, models.HasIdCondition):
        return qe.HasIdCondition(point_ids={str(point) for point in condition.has_id})
    if isinstance(condition, models.HasVectorCondition):
        return qe.HasVectorCondition(vector=condition.has_vector)
    if isinstance(condition, models.NestedCondition):
        return qe.NestedCondition(
            key=condition.nested.key, filter=_filter(qe, condition.nested.filter)
        )
    raise InvalidInputError(f"the Qdrant Edge engine cannot filter on {condition!r}")


def _field(qe: ModuleType, condition: models.FieldCondition) -> Any:
    options: dict[str, Any] = {}
    if condition.match is not None:
        options["match"] = _match(qe, condition.match)
    if condition.range is not None:
        options["range"] = _range(qe, condition.range)
    if condition.values_count is not None:
        count = condition.values_count
        options["values_count"] = qe.ValuesCount(
            lt=count.lt, gt=count.gt, lte=count.lte, gte=count.gte
        )
    if condition.geo_bounding_box is not None:
        box = condition.geo_bounding_box
        options["geo_bounding_box"] = qe.GeoBoundingBox(
            top_left=_geo(qe, box.top_left), bottom_right=_geo(qe, box.bottom_right)
        )
    if condition.geo_radius is not None:
        radius = condition.geo_radius
        options["geo_radius"] = qe.GeoRadius(center=_geo(qe, radius.center), radius=radius.radius)
    if condition.geo_polygon is not None:
        polygon = condition.geo_polygon
        options["geo_polygon"] = qe.GeoPolygon(
            exterior=[_geo(qe, p) for p in polygon.exterior.points],
            interiors=None
            if polygon.interiors is None
            else [[_geo(qe, p) for p in ring.points] for ring in polygon.interiors],
        )
    if condition.is_empty is not None:
        options["is_empty"] = condition.is_empty
    if condition.is_null is not None:
        options["is_null"] = condition.is_null
    return qe.FieldCondition(key=condition.key, **options)


def _match(qe: ModuleType, match: Any) -> Any:
    if isinstance(match, models.MatchValue):
        return qe.MatchValue(match.value)
    if isinstance(match, models.MatchAny):
        return qe.MatchAny(list(match.any))
    if isinstance(match, models.MatchExcept):
        return qe.MatchExcept(list(match.except_))
    if isinstance(match, models.MatchText):
        return qe.MatchText(match.text)
    if isinstance(match, models.MatchTextAny):
        return qe.MatchTextAny(match.text_any)
    if isinstance(match, models.MatchPhrase):
        return qe.MatchPhrase(match.phrase)
    raise InvalidInputError(f"the Qdrant Edge engine cannot match {match!r}")


def _range(qe: ModuleType, range_: Any) -> Any:
    bounds = {"lt": range_.lt, "gt": range_.gt, "lte": range_.lte, "gte": range_.gte}
    if isinstance(range_, models.DatetimeRange):
        return qe.RangeDateTime(
            **{k: v.isoformat() if isinstance(v, datetime) else v for k, v in bounds.items()}
        )
    return qe.RangeFloat(**bounds)


def _geo(qe: ModuleType, point: models.GeoPoint) -> Any:
    return qe.GeoPoint(lon=point.lon, lat=point.lat)
