"""A count of the normalizer statistics set in this process (a fit, a ``reset``, a value
given; see :class:`genozarr.ops.normalizers.Normalizer`): a dataset serving with
normalizers checks their statistics only when it changed since it last looked, so a batch
costs one comparison, not one per normalizer."""

from __future__ import annotations

#: statistics set so far in this process (only ever grows)
changes = 0


def bump() -> None:
    """Count one more statistic set."""
    global changes
    changes += 1
