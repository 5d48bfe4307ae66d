"""dml-parity where an analysis lives: the pytest plugin (``pytest_plugin``, ``parity_fixture``)."""
