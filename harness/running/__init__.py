"""Running specs: one spec through the engines, worker processes, the Dask cluster, the cache,
progress, replicate tasks."""
