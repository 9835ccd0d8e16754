"""Travel stage: minutes between planning units and facilities (straight line or road network), computed once per run.

Public API: :func:`haversine_km`, :func:`straight_line_minutes`, :func:`unit_to_point_minutes`,
:func:`adjacency_minutes`, :class:`RoadNetwork`, :class:`TravelTimes`.
"""

from .network import RoadNetwork
from .straight_line import adjacency_minutes, haversine_km, straight_line_minutes, unit_to_point_minutes
from .times import TravelTimes

__all__ = [
    "RoadNetwork",
    "TravelTimes",
    "adjacency_minutes",
    "haversine_km",
    "straight_line_minutes",
    "unit_to_point_minutes",
]
