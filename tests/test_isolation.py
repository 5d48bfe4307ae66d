"""The test session never touches the user's own result cache."""

from __future__ import annotations

import os
from pathlib import Path

from harness.runner import default_cache_dir


def test_the_session_caches_in_a_temporary_folder() -> None:
    cache = default_cache_dir().resolve()
    users = Path(os.path.expanduser("~/.cache")).resolve()
    assert users not in cache.parents and cache != users
    assert cache.name.startswith("dmlp-test-cache-")
