"""Defences: event-weight transforms a platform puts in front of any scorer.

- :mod:`.base`: the contract (:class:`Schedule`, :class:`InlineDefence`,
  :class:`BatchDefence`, :class:`Detection`);
- :mod:`.inline`: velocity caps, account trust, device de-duplication, no act
  without a view, audience diversity;
- :mod:`.batch`: lockstep (CopyCatch), dense blocks (FRAUDAR, :mod:`.fraudar`)
  and the calibrated oracle detector.
"""

from .base import (ACTIONS, ACTS, INLINE, NEGATIVE, BatchDefence, Defence, Detection,
                   InlineDefence, Schedule)
from .batch import CalibratedDetector, DenseBlock, Lockstep
from .inline import AccountTrust, AudienceDiversity, DeviceDedup, RequireView, VelocityCap

__all__ = ["Schedule", "Detection", "Defence", "InlineDefence", "BatchDefence", "VelocityCap",
           "AccountTrust", "DeviceDedup", "RequireView", "AudienceDiversity", "Lockstep",
           "DenseBlock", "CalibratedDetector", "ACTS", "NEGATIVE", "INLINE", "ACTIONS"]
