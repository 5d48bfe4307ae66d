"""The pytest plugin of dml-parity, registered through the ``pytest11`` entry point (installing
dml-parity is enough; from a source tree: ``pytest -p harness.api.pytest_plugin``).

- the fixture ``dml_parity``: ``dml_parity.assert_agree(model_or_spec_file)`` and
  ``dml_parity.assert_unchanged(model_or_spec_file, basename=None)``
  (:class:`harness.api.parity_fixture.ParityFixture`);
- ``--dml-parity-regen``: write or rewrite the baselines of the tests that run
  (``<test dir>/<test module>/[<class>/]<basename or test name>.dml.json``, one file per test:
  :meth:`~harness.api.parity_fixture.ParityFixture.baseline_path`). As pytest-regressions'
  ``--force-regen``: a missing baseline is written and its test fails naming it; a baseline that
  differs is rewritten and its test fails naming it; an unchanged one is left as it is and passes.
  A regenerated baseline is never taken for a pass.
- the terminal summary repeats each "R not run: ..." line, so a pass without R says what stood in
  (also under pytest-xdist: the workers' lines reach the controller).
"""

from __future__ import annotations

import pytest

from harness.api.parity_fixture import NOTES, ParityFixture

__all__ = ["dml_parity", "pytest_addoption", "pytest_sessionfinish", "pytest_terminal_summary", "pytest_testnodedown"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dml-parity")
    group.addoption(
        "--dml-parity-regen",
        action="store_true",
        default=False,
        help="write or rewrite the dml-parity baselines (<test dir>/<test module>/[<class>/]<name>.dml.json) of the "
        "tests that run; a test that wrote one fails, naming it",
    )
    group.addoption(
        "--dml-parity-require-r",
        action="store_true",
        default=False,
        help="fail assert_unchanged where R cannot be loaded, instead of judging Python against R as stored "
        "(also DMLP_REQUIRE_R=1)",
    )


@pytest.fixture
def dml_parity(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ParityFixture:
    """Checks of an analysis (a doubleml model or a dml-parity spec file): do Python and R agree,
    and did anything move since the baseline stored beside the test."""
    return ParityFixture(request, tmp_path_factory.mktemp("dml_parity"))


# pytest-xdist: each worker process runs its tests with a config of its own; its notes reach the
# controller, which writes the summary, in the output xdist sends back when the worker ends.
WORKER_NOTES = "dml_parity_notes"


def pytest_sessionfinish(session: pytest.Session) -> None:
    output = getattr(session.config, "workeroutput", None)  # set on xdist workers only
    if output is not None:
        output[WORKER_NOTES] = session.config.stash.get(NOTES, [])


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # an xdist hook: called on the controller
    notes = getattr(node, "workeroutput", {}).get(WORKER_NOTES, [])
    node.config.stash.setdefault(NOTES, []).extend(notes)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    notes = config.stash.get(NOTES, [])
    if notes:
        terminalreporter.write_sep("-", "dml-parity")
        for line in dict.fromkeys(notes):  # each once, in the order they came
            terminalreporter.write_line(line)
