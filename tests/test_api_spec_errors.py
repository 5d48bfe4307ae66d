"""Bad input for the shared API: one line naming the spec and field and saying why, exit 2, nothing
written. Combinations one of the packages refuses, or that the tool cannot compare, are refused
when the spec is read, never run."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_spec_errors import assert_one_line_error, run_cli, run_spec_file, spec_with

OLS = "x: [x1, x2], learner: ols"
BOOT = "bootstrap: {method: normal, n_rep_boot: 50}"
SSM = "learners: {ml_g: ols, ml_pi: logit, ml_m: logit}"

CASES = [
    (
        "joint without bootstrap",
        f"{{id: a, model: plr, y: y, d: [d, zc], {OLS}, joint: true}}",
        r"spec 'a': joint: needs bootstrap",
    ),
    (
        "romano-wolf without bootstrap",
        f"{{id: a, model: plr, y: y, d: [d, zc], {OLS}, p_adjust: romano-wolf}}",
        r"spec 'a': p_adjust: romano-wolf needs bootstrap",
    ),
    ("unknown p_adjust", f"{{id: a, model: plr, y: y, d: [d, zc], {OLS}, p_adjust: BH}}", r"spec 'a' field 'p_adjust'"),
    (
        "bootstrap with clusters",
        f"{{id: a, model: plr, y: y, d: d, {OLS}, cluster: g, {BOOT}}}",
        r"spec 'a': bootstrap: neither package bootstraps cluster data",
    ),
    (
        "unknown bootstrap method",
        f"{{id: a, model: plr, y: y, d: d, {OLS}, bootstrap: {{method: pairs}}}}",
        r"spec 'a' field 'bootstrap.method'",
    ),
    (
        "no draws",
        f"{{id: a, model: plr, y: y, d: d, {OLS}, bootstrap: {{n_rep_boot: 0}}}}",
        r"field 'bootstrap.n_rep_boot': must be at least 1",
    ),
    (
        "several treatments in irm",
        "{id: a, model: irm, y: y, d: [db, z], x: [x1], learners: {ml_g: ols, ml_m: logit}}",
        r"spec 'a': d: irm takes exactly one binary treatment in both packages",
    ),
    ("repeated treatment", f"{{id: a, model: plr, y: y, d: [d, d], {OLS}}}", r"spec 'a' field 'd': treatments repeat"),
    (
        "treatment among controls",
        "{id: a, model: plr, y: y, d: [d, x1], x: [x1, x2], learner: ols}",
        r"x: \['x1'\] are treatments",
    ),
    (
        "partial on plr",
        f"{{id: a, model: plr, y: y, d: d, {OLS}, partial: Z}}",
        r"spec 'a': partial: only pliv has partialling variants",
    ),
    ("unknown partial", f"{{id: a, model: pliv, y: y, d: d, z: zc, {OLS}, partial: Y}}", r"spec 'a' field 'partial'"),
    (
        "IV-type with partial Z",
        f"{{id: a, model: pliv, y: y, d: d, z: zc, {OLS}, partial: Z, score: IV-type}}",
        r"score: IV-type needs partial X in both packages",
    ),
    (
        "IV-type with two instruments",
        f"{{id: a, model: pliv, y: y, d: d, z: [zc, z], {OLS}, score: IV-type}}",
        r"score: pliv IV-type needs exactly one instrument",
    ),
    (
        "ssm without s",
        f"{{id: a, model: ssm, y: y, d: db, x: [x1], {SSM}}}",
        r"spec 'a': s: model ssm needs the selection column",
    ),
    ("s outside ssm", f"{{id: a, model: plr, y: y, d: d, {OLS}, s: z}}", r"spec 'a': s: only the sample selection model"),
    (
        "nonignorable without instrument",
        f"{{id: a, model: ssm, score: nonignorable, y: y, d: db, s: z, x: [x1], {SSM}}}",
        r"z: ssm nonignorable needs an instrument",
    ),
    (
        "missing-at-random with instrument",
        f"{{id: a, model: ssm, y: y, d: db, s: z, z: zc, x: [x1], {SSM}}}",
        r"z: ssm missing-at-random uses no instrument",
    ),
    (
        "ssm with a within transformation",
        f"{{id: a, model: ssm, y: y, d: db, s: z, x: [x1], {SSM}, fixed_effects: unit}}",
        r"spec 'a': fixed_effects: a within transformation would mix the unobserved outcomes",
    ),
    (
        "ssm classifier",
        "{id: a, model: ssm, y: y, d: db, s: z, x: [x1], learner: ols}",
        r"'ols' has no classifier, and ssm's ml_pi",
    ),
    (
        "ssm selection not binary",
        f"{{id: a, model: ssm, y: y, d: db, s: zc, x: [x1], {SSM}}}",
        r"spec 'a' field 's': ssm needs a 0/1 column, 'zc' is not binary",
    ),
    (
        "ATTE with a bootstrap",
        f"{{id: a, model: irm, score: ATTE, y: y, d: db, x: [x1], learners: {{ml_g: ols, ml_m: logit}}, {BOOT}}}",
        r"spec 'a': bootstrap: IRM ATTE's scores differ on purpose",
    ),
    (
        "paper on several treatments",
        f"{{id: a, model: plr, y: y, d: [d, zc], {OLS}, paper: {{claim: c, sign: positive}}}}",
        r"paper: a spec with several treatments takes `papers",
    ),
    (
        "papers for an unknown treatment",
        f"{{id: a, model: plr, y: y, d: [d, zc], {OLS}, papers: {{skew: {{claim: c}}}}}}",
        r"papers: \['skew'\] are not treatments",
    ),
    (
        "adjusted claim without p_adjust",
        f"{{id: a, model: plr, y: y, d: d, {OLS}, paper: {{claim: c, sign: positive, p: adjusted}}}}",
        r"spec 'a' field 'paper.p': adjusted needs p_adjust",
    ),
    (
        "dml1",
        f"{{id: a, model: plr, y: y, d: d, {OLS}, dml_procedure: dml1}}",
        r"spec 'a' field 'dml_procedure': not supported: only dml2 is shared",
    ),
    ("tune without a grid", f"{{id: a, model: plr, y: y, d: d, {OLS}, tune: {{}}}}", r"spec 'a' field 'tune.grid'"),
    ("truth of several treatments", f"{{id: a, model: plr, y: y, d: [d, zc], {OLS}, truth: t}}", r"truth: a spec with several"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import make_tables

    path = tmp_path_factory.mktemp("bad") / "data.csv"
    make_tables(n=200).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(("name", "entry", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_bad_api_spec_is_one_line_exit_2(tmp_path: Path, data: Path, name: str, entry: str, pattern: str) -> None:
    assert_one_line_error(run_cli(tmp_path, spec_with(entry), data), pattern, tmp_path / "out")


GENERATED = [
    ("unknown generator", "{name: make_magic}", r"dataset: generator.name: 'make_magic' is not a doubleml generator"),
    ("misspelt argument", "{name: make_irm_data, n_ob: 100}", r"generator.n_ob: make_irm_data has no argument 'n_ob'"),
    ("misspelt keyword", "{name: make_pliv_multiway_cluster_CKMS2021, omega_x: [0.25, 0]}", r"has no argument 'omega_x'"),
    (
        "refused arguments",
        "{name: make_pliv_CHS2015, n_obs: 100, dim_x: 2, dim_z: 5}",
        r"make_pliv_CHS2015 refused these arguments.*dim_x >= dim_z",
    ),
]


@pytest.mark.parametrize(("name", "generator", "pattern"), GENERATED, ids=[c[0] for c in GENERATED])
def test_bad_generator_is_one_line_exit_2(tmp_path: Path, name: str, generator: str, pattern: str) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(f"dataset:\n  generator: {generator}\nspecs:\n  - {{id: a, model: plr, y: y, d: d, x: [X1], learner: ols}}\n")
    assert_one_line_error(run_spec_file(spec, tmp_path / "out"), pattern, tmp_path / "out")


def test_generator_and_path_are_exclusive(tmp_path: Path, data: Path) -> None:
    entry = "{id: a, model: plr, y: y, d: d, x: [X1], learner: ols}"
    text = f"dataset: {{path: DATA, generator: {{name: make_irm_data}}}}\nspecs:\n  - {entry}\n"
    assert_one_line_error(run_cli(tmp_path, text, data), r"generator: give either path or generator", tmp_path / "out")
