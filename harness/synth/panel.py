"""The synthetic panel as a table and as files: the frame, the checks the codebook promises, and
the CSV and truth JSON written byte for byte the same for the same seed."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd

from harness.output.atomic_write import atomic_write_json, atomic_write_text
from harness.synth.layout import city_layout
from harness.synth.process import DGP, N_YEARS, YEARS, simulate
from harness.synth.truth import EFFECT_NOTES, ESTIMANDS, SAMPLES, TRUTH_REPLICATES, dev_cut_of, truth_effects

__all__ = ["COLUMNS", "DEFAULT_SEED", "INDICES", "generate_city_panel", "panel_frame", "write_city_panel"]

DEFAULT_SEED = 20260415

# Column order of the CSV.
COLUMNS = (
    "city_id", "city", "province", "region", "municipality", "core", "year",
    "rcd", "dig_int", "digital", "intel", "innov", "ind_struct", "gov",
    "lngdppc", "urban", "open", "fin", "hum", "lnpopden", "infra",
    "iv_post1984", "growth", "gap_core", "lngdppc_2011",
)  # fmt: skip


def panel_frame(layout: pd.DataFrame, draw: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(layout)
    out = pd.DataFrame(
        {
            "city_id": np.repeat(layout["city_id"].to_numpy(), N_YEARS),
            "city": np.repeat(layout["city"].to_numpy(), N_YEARS),
            "province": np.repeat(layout["province"].to_numpy(), N_YEARS),
            "region": np.repeat(layout["region"].to_numpy(), N_YEARS),
            "municipality": np.repeat(layout["municipality"].to_numpy(), N_YEARS),
            "core": np.repeat(layout["core"].to_numpy(), N_YEARS),
            "year": np.tile(YEARS, n),
        }
    )
    for name in COLUMNS[7:]:
        out[name] = draw[name].reshape(-1)
    return out[list(COLUMNS)]


# Composite indices: must lie in [0, 1].
INDICES = ("rcd", "dig_int", "digital", "intel", "innov", "ind_struct")


def _check_frame(frame: pd.DataFrame) -> None:
    """Guard the promises of the codebook; a failure means a change to the DGP broke one."""
    numeric = frame.select_dtypes("number")
    if not np.isfinite(numeric.drop(columns="gap_core").to_numpy()).all():
        raise ValueError("synthetic panel: a missing or infinite value outside gap_core")
    gap_missing = frame["gap_core"].isna().to_numpy()
    if not np.array_equal(gap_missing, frame["core"].to_numpy() == 1):
        raise ValueError("synthetic panel: gap_core must be missing exactly for core cities")
    for col in INDICES:
        if not frame[col].between(0.0, 1.0).all():
            raise ValueError(f"synthetic panel: index {col} leaves [0, 1]")


def generate_city_panel(seed: int = DEFAULT_SEED) -> tuple[pd.DataFrame, dict]:
    """Generate the synthetic 279-city panel, 2011-2023, and its true effects.

    Parameters
    ----------
    seed : int
        Seeds the panel (``numpy.random.default_rng(seed)``) and, through an independent stream,
        the population on which the true effects are computed. The city map (names, provinces,
        regions, core cities) is fixed and does not depend on the seed.

    Returns
    -------
    frame : pandas.DataFrame
        3,627 rows (279 cities x 13 years) sorted by ``city_id`` and ``year``; the columns are
        described in ``data/README.md``.
    truth : dict
        ``effects`` (truth key -> true value of the estimand a spec targets), ``estimands``
        (what each key means), ``theta_averages`` (simple averages of the city-year effect),
        ``dev_cut``, ``parameters`` of the DGP and a few notes.
    """
    p, layout = DGP(), city_layout()
    draw = simulate(np.random.default_rng(seed), layout, p)
    frame = panel_frame(layout, draw)
    _check_frame(frame)
    dev_cut = dev_cut_of(draw)
    computed = dict(truth_effects(seed, dev_cut))

    effects = {est.key: computed[est.key] for est in ESTIMANDS if est.key != "gov_interaction_spec"}
    effects["gov_interaction"] = p.gov_slope
    estimands = {est.key: f"{est.description}; sample: {SAMPLES[est.sample]}; two-way fixed effects" for est in ESTIMANDS}
    estimands.pop("gov_interaction_spec")
    estimands.update(EFFECT_NOTES)
    truth = {
        "effects": {k: round(v, 6) for k, v in effects.items()},
        "estimands": estimands,
        "theta_averages": {k: round(v, 6) for k, v in computed.items() if k.startswith("theta_mean_")},
        "checks": {
            "gov_interaction_spec": round(computed["gov_interaction_spec"], 6),
            "note": "population value of the moderation spec's estimand; agrees with gov_interaction "
            "up to simulation noise because gov's city level is independent of region and development",
        },
        "dev_cut": dev_cut,
        "seed": seed,
        "truth_population": {
            "replicates": TRUTH_REPLICATES,
            "stream": f"numpy.random.SeedSequence([{seed}, 1]).spawn({TRUTH_REPLICATES})",
        },
        "parameters": asdict(p),
        "generator": "harness.synth.generate_city_panel",
        "notes": [
            "Each effect is the probability limit of the spec's estimator with perfect nuisance learners, "
            "computed on a simulated population; with a heterogeneous effect it is a weighted average of "
            "the city-year effects theta_it with weights proportional to the squared residual treatment.",
            "theta_all also serves the robustness specs (folds, learners, winsorising); winsorising "
            "changes the estimand slightly.",
            "Specs without fixed effects are confounded by an unobserved city factor and by common "
            "trends: their truth is theta_all, which they are not expected to recover.",
            "ate_dig_int_bin: under two-way fixed effects a median split of dig_int is driven by "
            "between-city differences that the fixed effects remove, so this ATE is close to zero.",
        ],
    }
    return frame, truth


def write_city_panel(seed: int, out_csv: Path) -> None:
    """Write the panel of :func:`generate_city_panel` and its truth file beside it.

    Parameters
    ----------
    seed : int
        Passed to :func:`generate_city_panel`.
    out_csv : pathlib.Path
        The CSV to write; the truth goes to ``<stem>_truth.json`` in the same folder. Both are
        written to a temporary file and renamed into place, and the same seed gives byte-identical
        files (floats with six decimals, keys sorted).
    """
    out_csv = Path(out_csv)
    frame, truth = generate_city_panel(seed)
    text = frame.to_csv(index=False, float_format="%.6f", lineterminator="\n")
    atomic_write_text(out_csv, text)
    atomic_write_json(out_csv.with_name(f"{out_csv.stem}_truth.json"), truth)
