"""A stand-in seed suite for the benchmarks: a 279-city x 13-year panel (3,627 rows) and a spec file
shaped like the study's (PLR with two-way fixed effects and rf/lasso/ols learners, region
subsamples, a lag, PLIV, IRM on a binarised treatment, clustered standard errors).

Only used when ``specs/paper.yaml`` (or its data) does not exist yet; ``run_bench.py`` says so in
RESULTS.md whenever it measured this suite instead of the real one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["write_temp_suite"]

N_CITIES = 279
YEARS = np.arange(2011, 2024)
CONTROLS = ["lngdppc", "urban", "open", "fin", "hum", "lnpopden", "infra", "gov", "innov", "ind_struct"]

SPEC_TEXT = """\
# Temporary benchmark suite (bench/common/temp_suite.py): stands in for specs/paper.yaml.
dataset: {{path: {data}, unit: city_id, time: year}}
defaults:
  n_folds: 5
  n_rep: 1
  seed: 1
  model: plr
  y: rcd
  d: dig_int
  x: [{controls}]
  fixed_effects: twoway
  learner: rf
specs:
  - {{id: baseline}}
  - {{id: ols, learner: ols}}
  - {{id: lasso, learner: {{name: lasso, alpha: 0.001}}}}
  - {{id: digital, d: digital}}
  - {{id: intel, d: intel}}
  - {{id: east, sample: "region == 'east'"}}
  - {{id: central, sample: "region == 'central'"}}
  - {{id: west, sample: "region == 'west'"}}
  - {{id: lag, lags: {{dig_int: 1}}, dropna: true, x: [{controls}, dig_int_lag1]}}
  - {{id: pliv, model: pliv, z: [iv_post1984], learner: ols}}
  - {{id: nofe, fixed_effects: none, learner: lasso}}
  - {{id: irm, model: irm, d: dig_int_bin, binarize: {{dig_int: median}}, fixed_effects: none,
      learners: {{ml_g: rf, ml_m: rf}}}}
  - {{id: cluster, learner: ols, cluster: [city_id], fixed_effects: none}}
"""


def make_panel(seed: int = 20260415) -> pd.DataFrame:
    """A panel with city and year effects and a nonlinear confounder; only its shape matters here."""
    rng = np.random.default_rng(seed)
    n = N_CITIES * len(YEARS)
    city = np.repeat(np.arange(1, N_CITIES + 1), len(YEARS))
    year = np.tile(YEARS, N_CITIES)
    region = np.array(["east", "central", "west"])[rng.integers(0, 3, N_CITIES)][city - 1]
    city_fx = rng.normal(size=N_CITIES)[city - 1]
    year_fx = rng.normal(size=len(YEARS))[year - YEARS[0]]
    x = rng.normal(size=(n, len(CONTROLS))) + 0.5 * city_fx[:, None]
    conf = np.sin(x[:, 0]) + 0.5 * x[:, 1] ** 2 - 0.3 * x[:, 2] * np.abs(x[:, 2])
    iv = rng.normal(size=N_CITIES)[city - 1] * (year - 2010) / 13 + rng.normal(scale=0.3, size=n)
    dig_int = 0.6 * conf + 0.4 * city_fx + 0.2 * year_fx + 0.7 * iv + rng.normal(size=n)
    digital = dig_int + rng.normal(scale=0.5, size=n)
    intel = dig_int + rng.normal(scale=0.5, size=n)
    rcd = 0.3 * dig_int + conf + city_fx + year_fx + rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "city_id": city,
            "year": year,
            "region": region,
            "rcd": rcd,
            "dig_int": dig_int,
            "digital": digital,
            "intel": intel,
            "iv_post1984": iv,
        }
    )
    for j, name in enumerate(CONTROLS):
        frame[name] = x[:, j]
    return frame


def write_temp_suite(directory: Path) -> tuple[Path, Path]:
    """Write ``city_panel.csv`` and ``paper_temp.yaml`` into ``directory``; return (specs, data)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = directory / "city_panel.csv"
    make_panel().to_csv(data, index=False)
    specs = directory / "paper_temp.yaml"
    specs.write_text(SPEC_TEXT.format(data=data.name, controls=", ".join(CONTROLS)), encoding="utf-8")
    return specs, data


if __name__ == "__main__":
    import sys

    out = write_temp_suite(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/dmlp_bench/suite"))
    print(*out)
