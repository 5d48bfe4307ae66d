"""Regression testing: a run compared with a stored baseline."""
