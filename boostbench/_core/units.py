"""Time units. Time is float64 seconds from the world's epoch (DESIGN §3)."""

__all__ = ["HOUR", "DAY"]

HOUR = 3600.0
DAY = 24 * HOUR
