"""Files a run writes: atomic writes, the output folder, ``arrays.npz``."""
