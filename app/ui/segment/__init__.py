"""Segment tab."""

from app.ui.segment.tab import SegmentTab

__all__ = ["SegmentTab"]
