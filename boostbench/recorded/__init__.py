"""Your own engagement log under attack: a recorded log as a world's organic history.

``boostbench run --log events.csv`` (or ``.parquet`` with the ``[parquet]`` extra) turns a
team's recorded log into a :class:`~boostbench.world.World`: items and accounts are
inferred from the ids in it, the part before the attack window is the history, the rest is
the replay window. Campaigns are bought against the log's public view, merged in, and
every ranker re-scores it round by round. A recorded log runs in **replay** only: its
organic events do not react to the ranking (the closed loop needs a behaviour model
fitted to known item quality, which a log does not have), so the metrics of organic
reaction (extra organic impressions, amplification, reach) read 0 or NaN by construction,
as in any replay run.

What the log does not record stays unknown (:attr:`~boostbench.world.Truth.unknown`), and
the metrics that need it are left out of the results (:func:`boostbench.metrics.available`)
rather than computed on something else.

Columns (``--columns role=COLUMN,...``; the log roles default to a column of their own
name, the optional ones are read only when mapped):

=========  ==================================================================================
time       seconds (any epoch) or ISO 8601 date-times
account    who acted (any id)
item       on what (any id)
kind       one of :data:`boostbench.traffic.KINDS` (case-insensitive); missing kinds allowed
value      a view's completion in [0, 1], a comment's length (>= 0); read for those two
           kinds only, and needed when the log has either
quality    optional, per item, in [0, 1]: a quality proxy (e.g. a rater's score); enables
           the feed-quality metrics, the oracle and the low-quality target rule
creator    optional, per item: the account that posted it; enables creator features, the
           ring attack (which recruits creators) and ``fp_new_creators``
created    optional, per account, the time unit above: when the account was made (default:
           its first logged event, so every account looks as young as its first event in
           the log: ``account_trust`` is refused, ``fp_new_accounts`` / ``fp_new_creators``
           left out)
device     optional, per account: a device id; enables ``device_dedup`` and
           ``fp_shared_devices`` (default: one device per account)
duration   optional, per item, seconds: what attackers' bought views watch (default 14 s,
           the short-video median of ``docs/calibration.md``)
=========  ==================================================================================

Per-item and per-account columns must hold one value per item (account) on every row.
Nothing is read by pickle; a log is refused, with the reason, before any simulation.
"""

from .log import (LOG_ROLES, MAX_CSV_BYTES, MAX_EVENTS, ROLES, RecordedLog, parse_columns,
                  read_log, reading_bytes)
from .world import (DEFAULT_DURATION, MIN_RESERVE, UNKNOWN, Recording, check_needs, lacking,
                    live_posts, live_targets, needs, public_targets, recorded_world)

__all__ = ["ROLES", "LOG_ROLES", "RecordedLog", "Recording", "parse_columns", "read_log",
           "reading_bytes", "recorded_world", "public_targets", "live_targets", "live_posts",
           "needs", "check_needs", "lacking", "UNKNOWN", "MAX_CSV_BYTES", "MAX_EVENTS",
           "MIN_RESERVE", "DEFAULT_DURATION"]
