"""Segment Anything: loader, embedding cache, predictor session, exports. No Qt; torch imported lazily."""
