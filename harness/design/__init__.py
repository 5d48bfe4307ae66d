"""The data made ready for both engines: design table, within transform, folds, shared draws and
memory, feasibility, generated data."""
