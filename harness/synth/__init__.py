"""A synthetic panel of 279 Chinese-style cities, 2011-2023, with known true effects.

The panel stands in for the data of a double-machine-learning study of digital intelligence
(数智化, ``dig_int``) and coordinated regional development (区域协调发展, ``rcd``), of which only
the abstract is public. The data generating process (DGP) makes every finding of the abstract true
by construction, and every spec of ``specs/paper.yaml`` targets a number written into the truth
file. ``data/README.md`` is the codebook.

The package follows the generator's steps: :mod:`.layout` (the fixed city map), :mod:`.process`
(the DGP and one draw of the panel), :mod:`.truth` (the estimands on a simulated population) and
:mod:`.panel` (the table, its checks and the files).

Design choices that decide what the specs can recover
------------------------------------------------------
* Every outcome is exactly linear in ``dig_int`` (a partially linear model) with a slope
  ``theta_it`` that varies by region, 2011 development and government intervention; the rest of
  the outcome is a city effect, a year effect, a function of the controls' within deviations, or
  noise independent of the treatment.
* The nonlinear confounding acts on the controls' two-way within deviations, which is what a
  learner sees after the ``twoway`` transformation: it survives the fixed effects, a flexible
  learner can learn it, and a learner linear in the controls (ols, lasso) is biased by it. The
  controls' within parts are centred by region x core group and year, so a spec restricted to a
  region or to peripheral cities sees the same deviations after its own demeaning.
* City effects of treatment and outcome share an unobserved city factor and both trend upward,
  so a spec without fixed effects is confounded.
* The 1984 post-office density (instrument) and the city level of government intervention are
  independent of the other drivers of ``theta``, which keeps the IV and moderation estimands
  clean.

Truth
-----
A spec's estimand is the probability limit of its estimator with perfect nuisance learners. It is
computed on a simulated population (``TRUTH_REPLICATES`` independent panels drawn from a stream
separate from the data's): fixed effects are removed within the spec's sample as the harness does,
the treatment-caused part of the outcome and the treatment are partialled on a rich basis of the
demeaned controls that contains the DGP's own nonlinear shapes, and the residual-on-residual slope
is the truth. With a heterogeneous slope this is a weighted average of ``theta_it`` with weights
proportional to the squared residual treatment, which is what partialling-out PLR estimates.
"""

from harness.synth.panel import DEFAULT_SEED, generate_city_panel, write_city_panel
from harness.synth.process import DGP

__all__ = ["DEFAULT_SEED", "DGP", "generate_city_panel", "write_city_panel"]
