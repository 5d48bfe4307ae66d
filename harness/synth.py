"""A synthetic panel of 279 Chinese-style cities, 2011-2023, with known true effects.

The panel stands in for the data of a double-machine-learning study of digital intelligence
(数智化, ``dig_int``) and coordinated regional development (区域协调发展, ``rcd``), of which only
the abstract is public. The data generating process (DGP) makes every finding of the abstract true
by construction, and every spec of ``specs/paper.yaml`` targets a number written into the truth
file. ``data/README.md`` is the codebook.

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

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from harness.io import atomic_write_json, atomic_write_text

__all__ = ["DEFAULT_SEED", "DGP", "generate_city_panel", "write_city_panel"]

DEFAULT_SEED = 20260415
YEARS = np.arange(2011, 2024)
N_YEARS = len(YEARS)

# CNNIC national internet penetration (share of the population), 2011-2023: the time-varying
# national series of the Nunn-Qian style instrument.
INTERNET_RATE = np.array([0.383, 0.421, 0.458, 0.479, 0.503, 0.532, 0.558, 0.596, 0.645, 0.704, 0.730, 0.756, 0.775])

# National real GDP growth (%), 2011-2023: the year effect of ``growth``.
NATIONAL_GROWTH = np.array([9.6, 7.9, 7.8, 7.4, 7.0, 6.8, 6.9, 6.7, 6.0, 2.2, 8.4, 3.0, 5.2])

# The map is fixed (not drawn from ``seed``) so that a city keeps its name, province and region
# whatever seed generates its data.
_LAYOUT_SEED = 1984
REGIONS = ("east", "central", "west")

# Cities per ordinary province, by region; four municipalities come on top (three east, one west).
_PROVINCE_SIZES = {
    "east": (16, 14, 14, 13, 14, 13, 13),
    "central": (14, 13, 12, 12, 13, 12, 12, 12),
    "west": (11, 9, 8, 8, 7, 7, 7, 6, 6, 5, 4),
}
_MUNICIPALITIES = {"east": 3, "west": 1}
# East provinces whose second city is a sub-provincial (core) city.
_SUBPROVINCIAL = 5

# Syllables for made-up names; real city and province names are filtered out below.
_SYLLABLES = (
    "an bai bao bin cang chang chen chi dai dan dong du e fang feng fu gan gao ge gu guan hai han hao he "
    "heng hong hua huai jia jian jiao jin jing ju kai kang lan lang le li lian ling liu long lu luo man mei "
    "meng min ming mu nan ning pan peng ping pu qi qian qiao qing quan rong rui sang shan shao shen sheng "
    "shi shu song su tai tan tao teng tian tong wan wei wen wu xi xia xian xiang xin xing xu ya yan yang "
    "yao ye yi ying yong you yu yuan yue yun ze zhang zhao zhen zheng zhi zhong zhou zhu zi zun"
).split()
_REAL_NAMES = set(
    (
        "anhui anqing anshan anyang anshun ankang baise baoding baoji baoshan bengbu binzhou changchun changde "
        "changsha changzhi changzhou chengde chengdu chizhou chongqing dandong danzhou datong dazhou dongguan "
        "dongying ezhou fangchenggang foshan fujian fuxin fuyang fuzhou ganzhou guangan guangdong guangxi "
        "guangyuan guangzhou guilin guiyang guizhou haikou hainan handan hangzhou hanzhong hebei hebi hechi "
        "hefei hegang heihe hengshui hengyang henan heyuan heze huaian huaibei huainan huanggang huangshan "
        "huangshi hubei huizhou hunan huzhou jiamusi jian jiangmen jiangsu jiangxi jiaozuo jiaxing jieyang "
        "jilin jinan jinchang jincheng jingdezhen jingmen jingzhou jinhua jining jinzhong jinzhou jiujiang "
        "jixi kaifeng kunming laibin langfang lanzhou leshan lianyungang liaocheng liaoning lijiang linfen "
        "lincang linyi lishui liupanshui liuzhou longnan longyan loudi luan luohe luoyang luzhou maanshan "
        "maoming meishan meizhou mianyang mudanjiang nanchang nanchong nanjing nanning nanping nantong nanyang "
        "neijiang ningbo ningde ningxia panjin panzhihua pingdingshan pingliang pingxiang puer putian puyang "
        "qingdao qinghai qingyang qingyuan qinzhou qiqihar quanzhou qujing quzhou rizhao sanmenxia sanming "
        "sanya shanghai shangluo shangqiu shangrao shantou shanwei shanxi shaanxi shaoguan shaoxing shaoyang "
        "shenyang shenzhen shijiazhuang shiyan shizuishan shuangyashan shuozhou siping songyuan suining "
        "suihua suizhou suqian suzhou taian taiyuan taizhou tangshan tianjin tianshui tieling tonghua "
        "tongchuan tongliao tongling wenzhou weifang weihai weinan wuhai wuhan wuhu wuwei wuxi wuzhong wuzhou "
        "xiamen xian xiangtan xiangyang xianning xianyang xiaogan xinxiang xinyang xinyu xinzhou xingtai "
        "xining xuancheng xuchang xuzhou yaan yanan yancheng yangjiang yangquan yangzhou yantai yibin yichang "
        "yichun yinchuan yingkou yingtan yiyang yongzhou yulin yuncheng yunfu yunnan yuxi zaozhuang "
        "zhangjiajie zhangjiakou zhangye zhangzhou zhanjiang zhaoqing zhaotong zhejiang zhengzhou zhenjiang "
        "zhongshan zhoukou zhoushan zhuhai zhumadian zhuzhou zibo zigong ziyang zunyi"
    ).split()
)


@dataclass(frozen=True)
class DGP:
    """Parameters of the data generating process (effects are per unit of ``dig_int``).

    The total effect of ``dig_int`` on ``rcd`` in city ``i`` and year ``t`` is::

        theta_it = theta_region[region_i] + dev_slope * max(dev_center - lngdppc_2011_i, 0)
                   + gov_slope * (gov_it - gov_center)

    of which ``innov_b * innov_effect + ind_b * ind_effect`` runs through the two mediators.
    """

    theta_region: tuple[float, float, float] = (0.32, 0.07, 0.20)  # east, central, west
    dev_slope: float = 0.50  # per log point of 2011 GDP per capita below dev_center
    dev_center: float = 10.50
    gov_slope: float = 1.20  # the moderation: d theta / d gov
    gov_center: float = 0.20
    gov_mean: float = 0.20
    innov_effect: float = 0.25  # dig_int -> innov
    ind_effect: float = 0.20  # dig_int -> ind_struct
    innov_b: float = 0.15  # innov -> rcd
    ind_b: float = 0.20  # ind_struct -> rcd
    growth_effect: float = 6.0  # percentage points of GDP growth per unit of dig_int
    # dig_int = w_digital * digital + w_intel * intel + w_synergy * digital * intel
    w_digital: float = 0.4
    w_intel: float = 0.4
    w_synergy: float = 0.2
    iv_strength: float = 1.20  # loading of digital on (post offices - 1.1) x (internet rate - mean)
    iv_intel_share: float = 0.15  # intel's loading on the instrument, relative to digital's
    digital_intel_link: float = 0.4  # correlation of the within shocks of digital and intel
    treatment_persistence: float = 0.6  # AR(1) coefficient of the within shocks of digital and intel
    rcd_noise: float = 0.018  # standard deviation of rcd's AR(1) noise
    confounding: float = 0.80  # scales every nonlinear confounding term
    hidden_confounding: float = 1.0  # loading of the unobserved city factor in the treatment level
    control_persistence: float = 0.6  # AR(1) coefficient of the confounding controls' shocks
    control_trend: float = 1.0  # scales the city-specific trends of the confounding controls
    # Within-city standard deviations of the controls (about their realised values), which
    # standardise the within deviations before the nonlinear confounding terms apply.
    within_scale: dict[str, float] = field(
        default_factory=lambda: {
            "lngdppc": 0.036,
            "urban": 0.0125,
            "hum": 0.10,
            "fin": 0.065,
            "open": 0.021,
            "infra": 0.56,
            "lnpopden": 0.0082,
            "gov": 0.0095,
        }
    )

    def mediated(self) -> float:
        """The part of theta that runs through innov and ind_struct."""
        return self.innov_b * self.innov_effect + self.ind_b * self.ind_effect


CONTROLS = ("lngdppc", "urban", "open", "fin", "hum", "lnpopden", "infra", "gov")


# ---------------------------------------------------------------------------------------------
# The map: cities, provinces, regions
# ---------------------------------------------------------------------------------------------


def _layout() -> pd.DataFrame:
    """City ids, made-up names, provinces, regions, municipalities and core cities."""
    rng = np.random.default_rng(_LAYOUT_SEED)
    used: set[str] = set()

    def name() -> str:
        while True:
            first, second = rng.choice(_SYLLABLES, size=2, replace=True)
            candidate = f"{first}{second}"
            if first != second and candidate not in used and candidate not in _REAL_NAMES and len(candidate) <= 10:
                used.add(candidate)
                return candidate.capitalize()

    rows: list[dict] = []
    city_id = 0
    subprov_left = _SUBPROVINCIAL
    for region in REGIONS:
        for _ in range(_MUNICIPALITIES.get(region, 0)):
            city_id += 1
            city = name()
            rows.append(dict(city_id=city_id, city=city, province=city, region=region, municipality=1, capital=1, subprov=0))
        for size in _PROVINCE_SIZES[region]:
            province = name()
            for k in range(size):
                city_id += 1
                subprov = int(region == "east" and k == 1 and subprov_left > 0)
                subprov_left -= subprov
                rows.append(
                    dict(
                        city_id=city_id,
                        city=name(),
                        province=province,
                        region=region,
                        municipality=0,
                        capital=int(k == 0),
                        subprov=subprov,
                    )
                )
    frame = pd.DataFrame(rows)
    frame["core"] = ((frame["capital"] == 1) | (frame["subprov"] == 1)).astype(int)
    return frame


# ---------------------------------------------------------------------------------------------
# Random building blocks
# ---------------------------------------------------------------------------------------------


def _cnorm(rng: np.random.Generator, size: int | tuple[int, ...], clip: float = 3.0) -> np.ndarray:
    """Standard normal draws clipped at +-clip: still symmetric with mean zero, but bounded, so
    that an extreme draw cannot push an index or a share out of its range."""
    return np.clip(rng.standard_normal(size), -clip, clip)


def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float = 0.5, shocks: Optional[np.ndarray] = None) -> np.ndarray:
    """Stationary AR(1) paths, one row per city: within-city persistence of shocks.

    ``shocks`` (``(n, N_YEARS)`` standard draws) may be given to correlate two processes.
    """
    eps = _cnorm(rng, (n, N_YEARS)) if shocks is None else shocks
    out = np.empty((n, N_YEARS))
    out[:, 0] = sd * eps[:, 0]
    innovation_sd = sd * np.sqrt(1.0 - rho**2)
    for t in range(1, N_YEARS):
        out[:, t] = rho * out[:, t - 1] + innovation_sd * eps[:, t]
    return out


def _logistic(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-v))


def _soft_clip(v: np.ndarray, low: float = 0.005, high: float = 0.98, width: float = 0.015) -> np.ndarray:
    """Identity in the bulk, smooth floors at ``low`` and ``high`` (softplus on both sides), so an
    index stays inside (0, 1) whatever the draws."""
    floored = low + width * np.logaddexp(0.0, (v - low) / width)
    return high - width * np.logaddexp(0.0, (high - floored) / width)


def _within(a: np.ndarray) -> np.ndarray:
    """Two-way (city and year) within deviations of a balanced ``(n_cities, n_years)`` array."""
    return a - a.mean(axis=1, keepdims=True) - a.mean(axis=0, keepdims=True) + a.mean()


def _confounders(z: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The nonlinear terms through which the controls' within deviations confound.

    A smooth threshold in development, a two-sided threshold in urbanisation, saturation in human
    capital and a wave in financial depth: shapes a linear learner cannot represent. All are odd
    functions of a city-demeaned deviation, so their city means, which a learner that only sees
    demeaned controls cannot reconstruct, stay small. (A product of two deviations, whose city
    mean is the city's sample covariance, would leak a bias through the fixed effects.)
    """
    return {
        "q_dev": np.tanh(1.5 * z["lngdppc"]),
        "q_urban": (z["urban"] > 0.5).astype(float) - (z["urban"] < -0.5).astype(float),
        "q_hum": np.tanh(1.5 * z["hum"]),
        "q_fin": np.sin(2.0 * z["fin"]),
    }


# ---------------------------------------------------------------------------------------------
# One draw of the panel
# ---------------------------------------------------------------------------------------------


def _simulate(rng: np.random.Generator, layout: pd.DataFrame, p: DGP) -> dict[str, np.ndarray]:
    """Draw every variable of one panel as ``(n_cities, n_years)`` arrays (city-level arrays are
    ``(n_cities, 1)``), including the hidden effect ``theta`` used to compute the truth."""
    n = len(layout)
    region = layout["region"].map({r: k for k, r in enumerate(REGIONS)}).to_numpy()
    east, west = (region == 0).astype(float), (region == 2).astype(float)
    muni = layout["municipality"].to_numpy().astype(float)
    capital = layout["capital"].to_numpy().astype(float)
    subprov = layout["subprov"].to_numpy().astype(float)
    t = np.arange(N_YEARS)[None, :] / (N_YEARS - 1)  # 0 in 2011, 1 in 2023

    def col(v: np.ndarray) -> np.ndarray:
        return v[:, None]

    # City-level factors: observed development and an unobserved "institutions" factor that
    # raises both digital intelligence and coordinated development (confounds no-FE specs).
    dev = np.array([0.55, -0.25, -0.45])[region] + 0.8 * _cnorm(rng, n) + 1.0 * muni + 0.7 * capital + 0.6 * subprov
    hidden = _cnorm(rng, n)
    density_noise = _cnorm(rng, n)

    # Controls: city level + common national path + a within part (city-specific trend and AR(1)
    # shocks). The within part is centred in every year within each region x core group: regional
    # shocks belong to the national path, and, more to the point, a spec that keeps one region (or
    # drops core cities) then sees, after its own two-way demeaning, exactly the within deviations
    # the DGP's nonlinear confounding uses, so a flexible learner can still learn it. Openness has
    # no trend and multiplicative shocks, which keep it positive.
    group = 2 * region + layout["core"].to_numpy()

    def within_part(sd: float, rho: float, trend_sd: float = 0.0) -> np.ndarray:
        part = col(p.control_trend * trend_sd * _cnorm(rng, n)) * (t - 0.5) + _ar1(rng, n, sd, rho)
        for g in np.unique(group):
            part[group == g] -= part[group == g].mean(axis=0)
        return part

    rho_c = p.control_persistence
    lngdppc = col(10.35 + 0.38 * dev + 0.05 * _cnorm(rng, n)) + 0.70 * t**0.85 + within_part(0.035, rho_c, 0.06)
    urban = col(0.18 + 0.57 * _logistic(0.05 + 0.55 * dev + 0.2 * _cnorm(rng, n))) + 0.09 * t + within_part(0.012, rho_c, 0.02)
    hum = col(9.2 + 0.6 * dev + 0.3 * _cnorm(rng, n)) + 0.75 * t + within_part(0.11, rho_c, 0.12)
    fin = col(0.35 + 0.75 * np.exp(0.22 * dev + 0.2 * _cnorm(rng, n))) + 0.30 * t + within_part(0.07, rho_c, 0.06)
    open_ = col(np.exp(np.log(0.10) + 0.9 * east + 0.35 * dev + 0.45 * _cnorm(rng, n))) * np.exp(within_part(0.10, 0.6))
    lnpopden = col(5.7 + 0.25 * dev - 0.9 * west + 0.5 * density_noise) + 0.05 * t + within_part(0.010, 0.7)
    infra = col(4.0 + 7.5 * np.exp(0.15 * dev + 0.2 * _cnorm(rng, n))) + 4.0 * t + within_part(0.6, 0.6, 0.8)
    # Government intervention. A simplification: its city level is independent of region and
    # development (the other drivers of theta); otherwise the moderation spec, whose fixed effects
    # leave only within-city variation, would mix that heterogeneity into its interaction estimate.
    gov_level = p.gov_mean + 0.035 * _cnorm(rng, n, clip=2.5)
    gov = col(gov_level) + 0.02 * t + within_part(0.011, 0.6)
    lngdppc_2011 = lngdppc[:, :1]
    controls = {
        "lngdppc": lngdppc,
        "urban": urban,
        "open": open_,
        "fin": fin,
        "hum": hum,
        "lnpopden": lnpopden,
        "infra": infra,
        "gov": gov,
    }

    z = {k: _within(v) / p.within_scale[k] for k, v in controls.items()}
    q = _confounders(z)
    c = p.confounding

    # Instrument: post offices per 10k people in 1984 (independent of region, development and gov;
    # sparser in dense places) times the national internet rate.
    post1984 = 1.1 * np.exp(-0.1 * density_noise + 0.2 * _cnorm(rng, n, clip=2.5))
    iv = col(post1984) * INTERNET_RATE[None, :]

    # Digitalisation and intelligence: a right-skewed city level (logistic of city factors), a
    # common national path, and additive within parts (instrument, city trend, confounding terms,
    # AR(1) shocks), then soft bounds that keep the index inside (0, 1). Additive within parts
    # keep the within variance of the treatment about equal across cities, so the variance
    # weights of PLR do not swing the heterogeneity estimands, and a common national path keeps
    # city-specific trends of the treatment independent of theta. The within shocks of the two
    # are correlated (same infrastructure), so "digital alone" picks up part of intel.
    rho, rest = p.digital_intel_link, np.sqrt(1.0 - p.digital_intel_link**2)
    shared_shock = _cnorm(rng, (n, N_YEARS))
    shared_trend = _cnorm(rng, n)
    # Only the instrument's differential trend moves the indices (its level is a city effect).
    iv_trend = col(post1984 - 1.1) * (INTERNET_RATE - INTERNET_RATE.mean())[None, :]
    raw_dg = (
        col(0.06 + 0.55 * _logistic(-2.6 + 0.9 * dev + 0.5 * p.hidden_confounding * hidden + 0.35 * _cnorm(rng, n)))
        + 0.20 * t**1.2
        + p.iv_strength * iv_trend
        + col(0.02 * (rho * shared_trend + rest * _cnorm(rng, n))) * (t - 0.5)
        + c * (0.022 * q["q_dev"] + 0.018 * q["q_urban"] + 0.010 * q["q_hum"] + 0.012 * q["q_fin"])
        + 0.006 * z["open"]
        + 0.004 * z["infra"]
        + _ar1(rng, n, 0.024, p.treatment_persistence, np.clip(rho * shared_shock + rest * _cnorm(rng, (n, N_YEARS)), -3, 3))
    )
    raw_it = (
        col(0.05 + 0.45 * _logistic(-2.9 + 0.95 * dev + 0.45 * p.hidden_confounding * hidden + 0.4 * _cnorm(rng, n)))
        + 0.22 * t**1.5
        + p.iv_intel_share * p.iv_strength * iv_trend
        + col(0.02 * (rho * shared_trend + rest * _cnorm(rng, n))) * (t - 0.5)
        + c * (0.016 * q["q_dev"] + 0.013 * q["q_urban"] + 0.012 * q["q_hum"] + 0.009 * q["q_fin"])
        + 0.005 * z["hum"]
        + 0.003 * z["infra"]
        + _ar1(rng, n, 0.024, p.treatment_persistence, np.clip(rho * shared_shock + rest * _cnorm(rng, (n, N_YEARS)), -3, 3))
    )
    digital = _soft_clip(raw_dg)
    intel = _soft_clip(raw_it)
    dig_int = p.w_digital * digital + p.w_intel * intel + p.w_synergy * digital * intel

    # Effect heterogeneity (total effect on rcd).
    theta = col(
        np.array(p.theta_region)[region] + p.dev_slope * np.maximum(p.dev_center - lngdppc_2011[:, 0], 0.0)
    ) + p.gov_slope * (gov - p.gov_center)
    theta_direct = theta - p.mediated()

    # Mediators: linear in dig_int; their other parts are city and year effects, confounding
    # terms and noise.
    innov = (
        p.innov_effect * dig_int
        + col(0.06 + 0.30 * _logistic(-2.6 + 0.9 * dev + 0.3 * hidden + 0.3 * _cnorm(rng, n)))
        + 0.04 * t
        + c * (0.006 * q["q_dev"] + 0.005 * q["q_hum"] + 0.004 * q["q_fin"])
        + 0.003 * z["hum"]
        + _ar1(rng, n, 0.012, 0.5)
    )
    ind_struct = (
        p.ind_effect * dig_int
        + col(0.22 + 0.40 * _logistic(-2.2 + 0.7 * dev + 0.3 * _cnorm(rng, n)))
        + 0.06 * t
        + c * (0.006 * q["q_dev"] + 0.006 * q["q_urban"] + 0.004 * q["q_fin"])
        + 0.002 * z["urban"]
        + _ar1(rng, n, 0.012, 0.5)
    )
    rcd = (
        theta_direct * dig_int
        + p.innov_b * innov
        + p.ind_b * ind_struct
        + col(0.10 + 0.40 * _logistic(-1.8 + 0.7 * dev + 0.5 * hidden + 0.3 * _cnorm(rng, n)))
        + 0.05 * t
        + c * (0.010 * q["q_dev"] + 0.009 * q["q_urban"] + 0.006 * q["q_hum"] + 0.006 * q["q_fin"])
        + 0.003 * z["lngdppc"]
        + 0.002 * z["gov"]
        + _ar1(rng, n, p.rcd_noise, 0.5)
    )
    growth = (
        p.growth_effect * (dig_int - 0.15)
        + NATIONAL_GROWTH[None, :]
        + col(-0.4 * dev + 0.6 * _cnorm(rng, n))
        + c * (0.35 * q["q_dev"] + 0.25 * q["q_urban"] + 0.20 * q["q_fin"])
        + 0.15 * z["lngdppc"]
        + _ar1(rng, n, 0.9, 0.4)
    )

    # Core-periphery gap: the provincial capital's rcd minus the city's own (core cities: NaN).
    capital_of = {prov: pos for pos, (prov, cap) in enumerate(zip(layout["province"], layout["capital"], strict=True)) if cap}
    capital_pos = layout["province"].map(capital_of).to_numpy()
    gap_core = rcd[capital_pos] - rcd
    core = layout["core"].to_numpy().astype(bool)
    gap_core[core] = np.nan

    return {
        **controls,
        "lngdppc_2011": np.repeat(lngdppc_2011, N_YEARS, axis=1),
        "digital": digital,
        "intel": intel,
        "dig_int": dig_int,
        "rcd": rcd,
        "innov": innov,
        "ind_struct": ind_struct,
        "iv_post1984": iv,
        "post1984": np.repeat(col(post1984), N_YEARS, axis=1),
        "growth": growth,
        "gap_core": gap_core,
        "theta": theta,
    }


# ---------------------------------------------------------------------------------------------
# The public frame
# ---------------------------------------------------------------------------------------------

# Column order of the CSV.
COLUMNS = (
    "city_id", "city", "province", "region", "municipality", "core", "year",
    "rcd", "dig_int", "digital", "intel", "innov", "ind_struct", "gov",
    "lngdppc", "urban", "open", "fin", "hum", "lnpopden", "infra",
    "iv_post1984", "growth", "gap_core", "lngdppc_2011",
)  # fmt: skip


def _frame(layout: pd.DataFrame, draw: dict[str, np.ndarray]) -> pd.DataFrame:
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


# ---------------------------------------------------------------------------------------------
# Truth: estimands computed on a large simulated population
# ---------------------------------------------------------------------------------------------

TRUTH_REPLICATES = 20  # independent copies of the 279-city panel in the truth population

SAMPLES = {
    "all": "all 279 cities, 2011-2023",
    "no_municipality": "the 275 cities that are not municipalities",
    "from_2012": "all cities, 2012-2023 (the first year has no lag)",
    "east": "the 100 eastern cities",
    "central": "the 100 central cities",
    "west": "the 79 western cities",
    "low_dev": "cities with lngdppc_2011 below the split (dev_cut)",
    "high_dev": "cities with lngdppc_2011 at or above the split (dev_cut)",
    "periphery": "the 244 peripheral cities (core == 0)",
}


@dataclass(frozen=True)
class Estimand:
    """What one kind of spec estimates, in terms of the DGP.

    Attributes
    ----------
    key : str
        Its key in the truth file.
    description : str
        The spec it belongs to, in words.
    outcome : str
        The treatment-caused part of which outcome (a key of :func:`_signals`).
    treatment : str
        The spec's treatment (a key of :func:`_treatments`).
    sample : str
        A key of ``SAMPLES``.
    controls : tuple of str
        The spec's controls.
    instrument : str, optional
        PLIV instrument.
    binary : bool
        IRM with a median split of ``treatment``: the estimand is an average treatment effect.
    """

    key: str
    description: str
    outcome: str = "rcd"
    treatment: str = "dig_int"
    sample: str = "all"
    controls: tuple[str, ...] = CONTROLS
    instrument: Optional[str] = None
    binary: bool = False


ESTIMANDS: tuple[Estimand, ...] = (
    Estimand("theta_all", "rcd on dig_int, all cities (baseline, folds, learners, winsorising)"),
    Estimand("theta_digital_only", "rcd on digital alone (intel not controlled)", treatment="digital"),
    Estimand("theta_intel_only", "rcd on intel alone (digital not controlled)", treatment="intel"),
    Estimand("theta_no_municipality", "rcd on dig_int without the 4 municipalities", sample="no_municipality"),
    Estimand("theta_lag1", "rcd on dig_int lagged one year, 2012-2023", treatment="dig_int_lag1", sample="from_2012"),
    Estimand("theta_iv", "PLIV: rcd on dig_int instrumented by iv_post1984", instrument="iv_post1984"),
    Estimand("ate_dig_int_bin", "IRM: ATE of dig_int above its median on rcd", treatment="dig_int_bin", binary=True),
    Estimand("innov_effect", "innov on dig_int (a constant slope)", outcome="innov"),
    Estimand("ind_struct_effect", "ind_struct on dig_int (a constant slope)", outcome="ind_struct"),
    Estimand(
        "gov_interaction_spec",
        "rcd on dig_int_x_gov with dig_int and gov among the controls (the DGP's gov_interaction)",
        outcome="rcd_moderation",
        treatment="dig_int_x_gov",
        controls=("dig_int", *CONTROLS),
    ),
    Estimand("theta_east", "rcd on dig_int, eastern cities", sample="east"),
    Estimand("theta_central", "rcd on dig_int, central cities", sample="central"),
    Estimand("theta_west", "rcd on dig_int, western cities", sample="west"),
    Estimand("theta_low_dev", "rcd on dig_int, less developed cities", sample="low_dev"),
    Estimand("theta_high_dev", "rcd on dig_int, more developed cities", sample="high_dev"),
    Estimand("growth_effect", "growth on dig_int (a constant slope)", outcome="growth"),
    Estimand("gap_core_effect", "gap_core on dig_int, peripheral cities", outcome="gap_core", sample="periphery"),
)


def _signals(draw: dict[str, np.ndarray], p: DGP) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    """The part of each outcome that dig_int causes, as ``(slope, variable)`` pairs.

    The treatment-caused part of an outcome is ``sum(slope * variable)``. PLR truths use
    ``sum(slope * within(variable))``: the terms this drops, such as a heterogeneous slope times the
    national trend of dig_int, are (nearly) uncorrelated with the residual treatment in the
    population, so they would mostly add simulation noise (checked by simulation: their net pull
    is under a fifth of a standard error).
    """
    d = draw["dig_int"]
    theta = draw["theta"]
    return {
        "rcd": [(theta, d)],
        # The same part of rcd, split into its city-level slope and the dig_int x gov term, for the
        # moderation spec whose treatment is that product.
        "rcd_moderation": [(theta - p.gov_slope * draw["gov"], d), (np.full_like(d, p.gov_slope), d * draw["gov"])],
        "innov": [(np.full_like(d, p.innov_effect), d)],
        "ind_struct": [(np.full_like(d, p.ind_effect), d)],
        "growth": [(np.full_like(d, p.growth_effect), d)],
        # The capital's rcd does not respond to a peripheral city's dig_int.
        "gap_core": [(-theta, d)],
    }


def _treatments(draw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    d = draw["dig_int"]
    lag = np.full_like(d, np.nan)
    lag[:, 1:] = d[:, :-1]
    return {
        "dig_int": d,
        "digital": draw["digital"],
        "intel": draw["intel"],
        "dig_int_lag1": lag,
        "dig_int_x_gov": d * draw["gov"],
        "iv_post1984": draw["iv_post1984"],
    }


def _basis(x: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """A rich basis of demeaned controls: polynomials to degree 3 in each, all pairwise products,
    and the shapes the DGP uses (tanh, two-sided step, sine). Partialling on it stands in for the
    nuisance functions of a perfect learner."""
    z = x / scales
    n, k = z.shape
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    shapes = (z, z**2, z**3, np.tanh(1.5 * z), np.sin(2.0 * z), z > 0.5, z < -0.5)
    out = np.empty((n, 1 + len(shapes) * k + len(pairs)))
    out[:, 0] = 1.0
    for j, block in enumerate(shapes):
        out[:, 1 + j * k : 1 + (j + 1) * k] = block
    for j, (a, b) in enumerate(pairs):
        out[:, 1 + len(shapes) * k + j] = z[:, a] * z[:, b]
    return out


def _sample(layout: dict[str, np.ndarray], draw: dict[str, np.ndarray], sample: str, dev_cut: float) -> tuple[np.ndarray, slice]:
    """Cities and years of a sample; ``layout`` holds the map's columns as arrays."""
    years = slice(1, None) if sample == "from_2012" else slice(None)
    if sample in ("all", "from_2012"):
        return np.ones(len(layout["region"]), dtype=bool), years
    if sample in ("low_dev", "high_dev"):
        low = draw["lngdppc_2011"][:, 0] < dev_cut
        return (low if sample == "low_dev" else ~low), years
    if sample == "no_municipality":
        return layout["municipality"] == 0, years
    if sample == "periphery":
        return layout["core"] == 0, years
    return layout["region"] == sample, years


def _single_thread_blas() -> AbstractContextManager:
    """One BLAS thread for the truth's matrix products.

    They are small; on a busy machine a multithreaded BLAS spends seconds waiting for its threads.
    ``threadpoolctl`` comes with scikit-learn; without it the BLAS default stays.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn, a dependency, brings it
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _lstsq_gram(gram: np.ndarray, cross: np.ndarray) -> np.ndarray:
    """Least-squares coefficients from moments; the solve tolerates a basis column that is
    constant (or empty) in a subsample."""
    return np.linalg.lstsq(gram, cross, rcond=None)[0]


def _estimand_values(draws: list[dict[str, np.ndarray]], layout: pd.DataFrame, p: DGP, dev_cut: float) -> dict[str, float]:
    """Evaluate every estimand on the replicated population, one shared basis per sample."""
    groups: dict[tuple[str, tuple[str, ...]], list[Estimand]] = {}
    for est in ESTIMANDS:
        groups.setdefault((est.sample, est.controls), []).append(est)
    arrays = {col: layout[col].to_numpy() for col in ("region", "municipality", "core")}
    out: dict[str, float] = {}
    for (sample, controls), members in groups.items():
        out.update(_group_values(draws, arrays, p, dev_cut, sample, controls, members))
    return out


def _group_values(
    draws: list[dict[str, np.ndarray]],
    layout: dict[str, np.ndarray],
    p: DGP,
    dev_cut: float,
    sample: str,
    controls: tuple[str, ...],
    members: list[Estimand],
) -> dict[str, float]:
    """Estimands that share a sample and controls.

    Least squares runs on cross-products accumulated replicate by replicate (each replicate is
    demeaned on its own, as a spec demeans its one panel), so the population is never stacked.
    """
    scales = np.array([{**p.within_scale, "dig_int": 0.027}[c] for c in controls])
    plr = [est for est in members if not est.binary]
    names = [f"{kind}:{est.key}" for est in plr for kind in ("y", "d", "z") if kind != "z" or est.instrument]
    gram = cross = inner = None  # B'B, B'T and T'T of the partialled columns T
    arms: dict[float, list[np.ndarray]] = {}  # IRM: per arm, B'B and B'y
    basis_sum, n_rows = 0.0, 0
    for draw in draws:
        cities, years = _sample(layout, draw, sample, dev_cut)
        signals, treatments = _signals(draw, p), _treatments(draw)
        x = np.column_stack([_within(draw[c][cities, years]).reshape(-1) for c in controls])
        basis = _basis(x, scales)
        blocks: dict[str, np.ndarray] = {}
        for est in members:
            slopes = [(s[cities, years], v[cities, years]) for s, v in signals[est.outcome]]
            if est.binary:
                # IRM: the binary treatment is not demeaned, and the estimand involves the whole
                # demeaned signal, including a heterogeneous slope times the national trend.
                d = treatments["dig_int"][cities, years].reshape(-1)
                y = _within(sum(s * v for s, v in slopes)).reshape(-1)
                for arm in (1.0, 0.0):
                    rows = (d > np.median(d)) == bool(arm)
                    moments = [basis[rows].T @ basis[rows], basis[rows].T @ y[rows]]
                    arms[arm] = moments if arm not in arms else [a + m for a, m in zip(arms[arm], moments, strict=True)]
                basis_sum, n_rows = basis_sum + basis.sum(axis=0), n_rows + len(basis)
                continue
            blocks[f"y:{est.key}"] = sum(s * _within(v) for s, v in slopes)
            blocks[f"d:{est.key}"] = _within(treatments[est.treatment][cities, years])
            if est.instrument:
                blocks[f"z:{est.key}"] = _within(treatments[est.instrument][cities, years])
        if names:
            targets = np.column_stack([blocks[k].reshape(-1) for k in names])
            parts = (basis.T @ basis, basis.T @ targets, targets.T @ targets)
            gram, cross, inner = parts if gram is None else (gram + parts[0], cross + parts[1], inner + parts[2])
    out = {}
    if names:
        # Cross-products of the residuals after partialling on the basis: T'T - T'B (B'B)^- B'T.
        resid = inner - cross.T @ _lstsq_gram(gram, cross)
        at = {name: k for k, name in enumerate(names)}
        for est in plr:
            y, d = at[f"y:{est.key}"], at[f"d:{est.key}"]
            z = at[f"z:{est.key}"] if est.instrument else d
            out[est.key] = float(resid[y, z] / resid[d, z])
    for est in members:
        if est.binary:
            # Regression adjustment: the average over all rows of E[y | d=1, x] - E[y | d=0, x].
            diff = _lstsq_gram(*arms[1.0]) - _lstsq_gram(*arms[0.0])
            out[est.key] = float(basis_sum @ diff / n_rows)
    return out


# ---------------------------------------------------------------------------------------------
# Public interface
# ---------------------------------------------------------------------------------------------

# Composite indices: must lie in [0, 1].
INDICES = ("rcd", "dig_int", "digital", "intel", "innov", "ind_struct")

# Truth keys that are DGP parameters rather than computed estimands.
EFFECT_NOTES = {
    "gov_interaction": "DGP coefficient of dig_int x gov in rcd (gov_slope); the moderation spec's estimand",
}


def _dev_cut(draw: dict[str, np.ndarray]) -> float:
    """The low/high development split: the city median of 2011 log GDP per capita, rounded to two
    decimals so that it reads well in a spec's ``sample`` string."""
    return round(float(np.median(draw["lngdppc_2011"][:, 0])), 2)


@lru_cache(maxsize=4)
def _truth_effects(seed: int, dev_cut: float) -> tuple[tuple[str, float], ...]:
    """Estimands on the truth population of ``seed`` (cached: it is the slow part)."""
    p, layout = DGP(), _layout()
    streams = np.random.SeedSequence([seed, 1]).spawn(TRUTH_REPLICATES)
    draws = [_simulate(np.random.default_rng(s), layout, p) for s in streams]
    with _single_thread_blas():
        values = _estimand_values(draws, layout, p, dev_cut)
    arrays = {col: layout[col].to_numpy() for col in ("region", "municipality", "core")}
    means = {}
    for sample in SAMPLES:
        thetas = []
        for draw in draws:
            cities, years = _sample(arrays, draw, sample, dev_cut)
            thetas.append(draw["theta"][cities, years].reshape(-1))
        means[f"theta_mean_{sample}"] = float(np.concatenate(thetas).mean())
    return tuple({**values, **means}.items())


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
    p, layout = DGP(), _layout()
    draw = _simulate(np.random.default_rng(seed), layout, p)
    frame = _frame(layout, draw)
    _check_frame(frame)
    dev_cut = _dev_cut(draw)
    computed = dict(_truth_effects(seed, dev_cut))

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
