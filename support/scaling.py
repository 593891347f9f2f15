"""Scaling laws: published fits as data, a compute sweep of tiny models, and three ways to fit it.

Forms (L is cross-entropy in nats per token, N non-embedding parameters, D training tokens,
C ~= 6ND training FLOPs):

* Kaplan et al. (2020), "Scaling Laws for Neural Language Models", arXiv:2001.08361:
  ``L(N) = (N_c / N)^alpha_N`` for models trained to convergence, ``L(D) = (D_c / D)^alpha_D``,
  and a compute-efficient frontier with ``N_opt ~ C^0.73``.
* Hoffmann et al. (2022), "Training Compute-Optimal Large Language Models" (Chinchilla),
  arXiv:2203.15556: ``L(N, D) = E + A / N^alpha + B / D^beta`` (their Approach 3), fitted with a
  Huber loss on log-loss by L-BFGS from a grid of starts; IsoFLOP parabolas (Approach 2).
* Besiroglu et al. (2024), "Chinchilla Scaling: A replication attempt", arXiv:2404.10102:
  the same form refitted to data read from Hoffmann et al.'s figure.

Minimising ``L(N, D)`` subject to ``6ND = C`` gives (Hoffmann et al., Appendix D.2)::

    N_opt = G (C/6)^a,   D_opt = G^-1 (C/6)^b,   G = (alpha A / (beta B))^(1/(alpha+beta)),
    a = beta / (alpha + beta),   b = alpha / (alpha + beta).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch
from scipy.optimize import minimize

try:  # installed with scikit-learn (a sentence-transformers dependency)
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - fall back to whatever BLAS threading is configured
    threadpool_limits = None

from support.tinylm import TinyLM, TinyLMConfig
from support.training import (
    causal_batch,
    evaluate_causal_loss,
    flops_per_token,
    train,
    training_flops,
)

__all__ = [
    "CHINCHILLA",
    "EPOCH",
    "KAPLAN",
    "PF_DAY",
    "PUBLISHED_LAWS",
    "ChinchillaFit",
    "IsoFLOPFit",
    "KaplanLaw",
    "ParametricLaw",
    "PowerLawFit",
    "SweepPlanItem",
    "SweepRun",
    "fit_chinchilla",
    "fit_isoflop",
    "fit_power_law",
    "isoflop_plan",
    "ngram_cross_entropy",
    "run_sweep",
]

PF_DAY = 1e15 * 86400.0
"""One petaflop/s-day in FLOPs (Kaplan et al.'s compute unit)."""


# ---------------------------------------------------------------------------------------------
# Laws as data
# ---------------------------------------------------------------------------------------------
def _check_positive(name: str, value: float | np.ndarray) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return arr


def _scalar_or_array(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if np.ndim(arr) == 0 else arr


@dataclass(frozen=True)
class ParametricLaw:
    """``L(N, D) = E + A / N^alpha + B / D^beta`` in nats per token.

    Attributes:
        name: short label for plots and tables.
        E: irreducible loss (nats per token).
        A, alpha: model-size term.
        B, beta: data term.
        citation: where the numbers come from.
    """

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    citation: str = ""

    def loss(
        self, n_params: float | np.ndarray, n_tokens: float | np.ndarray
    ) -> float | np.ndarray:
        """Predicted loss (nats per token) for N non-embedding parameters and D tokens."""
        n = _check_positive("n_params", n_params)
        d = _check_positive("n_tokens", n_tokens)
        return _scalar_or_array(self.E + self.A / n**self.alpha + self.B / d**self.beta)

    @property
    def a(self) -> float:
        """Exponent of ``N_opt ~ C^a`` (``beta / (alpha + beta)``)."""
        return self.beta / (self.alpha + self.beta)

    @property
    def b(self) -> float:
        """Exponent of ``D_opt ~ C^b`` (``alpha / (alpha + beta)``)."""
        return self.alpha / (self.alpha + self.beta)

    def compute_optimal(
        self, compute: float | np.ndarray
    ) -> tuple[float | np.ndarray, float | np.ndarray, float | np.ndarray]:
        """``(N_opt, D_opt, L_opt)`` minimising ``L`` under ``6 N D = compute`` (FLOPs).

        Requires ``alpha, beta > 0`` (otherwise the loss has no interior minimum).
        """
        c = _check_positive("compute", compute)
        if not (self.alpha > 0 and self.beta > 0):
            raise ValueError(
                f"alpha and beta must be > 0 for an optimum, got {self.alpha}, {self.beta}"
            )
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))
        n = g * (c / 6.0) ** self.a
        d = (c / 6.0) ** self.b / g
        loss = self.E + self.A / n**self.alpha + self.B / d**self.beta
        return _scalar_or_array(n), _scalar_or_array(d), _scalar_or_array(loss)


@dataclass(frozen=True)
class KaplanLaw:
    """The power laws of Kaplan et al. (2020), their equations (1.1)-(1.3) and Figure 14.

    Losses are in nats per token of GPT-2's byte-pair tokens on WebText2, so only the exponents,
    not the absolute losses, transfer to other data and tokenisers.

    Attributes:
        alpha_n, n_c: ``L(N) = (n_c / N)^alpha_n`` (N non-embedding parameters, trained to
            convergence on enough data).
        alpha_d, d_c: ``L(D) = (d_c / D)^alpha_d`` (large model, early stopping).
        alpha_c, c_c_pf_days: ``L(C_min) = (c_c / C_min)^alpha_c`` along the compute-efficient
            frontier, ``C_min`` in PF-days.
        n_opt_exponent, n_opt_coef: ``N_opt = n_opt_coef * (C_min / PF-day)^n_opt_exponent``.
    """

    name: str = "Kaplan et al. 2020"
    alpha_n: float = 0.076
    n_c: float = 8.8e13
    alpha_d: float = 0.095
    d_c: float = 5.4e13
    alpha_c: float = 0.050
    c_c_pf_days: float = 3.1e8
    n_opt_exponent: float = 0.73
    n_opt_coef: float = 1.3e9
    citation: str = (
        "Kaplan, McCandlish, Henighan, Brown, Chess, Child, Gray, Radford, Wu, Amodei (2020). "
        "Scaling Laws for Neural Language Models. arXiv:2001.08361."
    )

    def loss_n(self, n_params: float | np.ndarray) -> float | np.ndarray:
        """``L(N)`` in nats per (BPE) token."""
        n = _check_positive("n_params", n_params)
        return _scalar_or_array((self.n_c / n) ** self.alpha_n)

    def loss_d(self, n_tokens: float | np.ndarray) -> float | np.ndarray:
        """``L(D)`` in nats per (BPE) token."""
        d = _check_positive("n_tokens", n_tokens)
        return _scalar_or_array((self.d_c / d) ** self.alpha_d)

    def compute_optimal(
        self, compute: float | np.ndarray
    ) -> tuple[float | np.ndarray, float | np.ndarray, float | np.ndarray]:
        """``(N_opt, D = C / 6N_opt, L(C))`` for training compute in FLOPs."""
        c = _check_positive("compute", compute) / PF_DAY
        n = self.n_opt_coef * c**self.n_opt_exponent
        d = c * PF_DAY / (6.0 * n)
        loss = (self.c_c_pf_days / c) ** self.alpha_c
        return _scalar_or_array(n), _scalar_or_array(d), _scalar_or_array(loss)


KAPLAN = KaplanLaw()
CHINCHILLA = ParametricLaw(
    name="Chinchilla (Hoffmann et al. 2022)",
    E=1.69,
    A=406.4,
    B=410.7,
    alpha=0.34,
    beta=0.28,
    citation=(
        "Hoffmann, Borgeaud, Mensch, et al. (2022). Training Compute-Optimal Large Language "
        "Models. arXiv:2203.15556, Approach 3 (Eq. 10)."
    ),
)
EPOCH = ParametricLaw(
    name="Epoch replication (Besiroglu et al. 2024)",
    E=1.82,
    A=482.0,
    B=2085.4,
    alpha=0.3478,
    beta=0.3658,
    citation=(
        "Besiroglu, Erdil, Barnett, You (2024). Chinchilla Scaling: A replication attempt. "
        "arXiv:2404.10102."
    ),
)
PUBLISHED_LAWS: dict[str, ParametricLaw | KaplanLaw] = {
    "kaplan": KAPLAN,
    "chinchilla": CHINCHILLA,
    "epoch": EPOCH,
}
"""The published laws by short name. Hoffmann et al.'s Approaches 1 and 2 gave a = 0.50 and
0.49 (Table 2); Approach 3 (the parametric fit above) gives a = 0.46."""


# ---------------------------------------------------------------------------------------------
# Fit 1: Chinchilla's parametric form (Approach 3)
# ---------------------------------------------------------------------------------------------
def _huber(r: np.ndarray, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Huber loss of residuals and its derivative."""
    small = np.abs(r) <= delta
    value = np.where(small, 0.5 * r**2, delta * (np.abs(r) - 0.5 * delta))
    grad = np.where(small, r, delta * np.sign(r))
    return value, grad


def _chinchilla_objective(
    theta: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_loss: np.ndarray, delta: float
) -> tuple[float, np.ndarray]:
    """Mean Huber loss (divided by delta) of log-space residuals, and its gradient.

    ``theta = (a, b, e, alpha, beta)`` with ``A = e^a, B = e^b, E = e^e``; the prediction is
    ``log L = logsumexp(a - alpha log N, b - beta log D, e)``, as in Hoffmann et al. Eq. (10).
    """
    a, b, e, alpha, beta = theta
    terms = np.stack([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)])
    top = terms.max(axis=0)
    weights = np.exp(terms - top)
    total = weights.sum(axis=0)
    pred = top + np.log(total)
    weights /= total  # d pred / d term
    value, dr = _huber(pred - log_loss, delta)
    scale = 1.0 / (delta * len(log_n))
    grad = np.array(
        [
            np.sum(dr * weights[0]),
            np.sum(dr * weights[1]),
            np.sum(dr * weights[2]),
            -np.sum(dr * weights[0] * log_n),
            -np.sum(dr * weights[1] * log_d),
        ]
    )
    return float(value.sum() * scale), grad * scale


def _grid_objective(
    grid: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_loss: np.ndarray, delta: float
) -> np.ndarray:
    """The objective at every row of ``grid`` (vectorised, no gradient)."""
    a, b, e, alpha, beta = (grid[:, i : i + 1] for i in range(5))
    terms = np.stack(
        [a - alpha * log_n, b - beta * log_d, np.broadcast_to(e, (len(grid), len(log_n)))]
    )
    pred = np.logaddexp.reduce(terms, axis=0)
    value, _ = _huber(pred - log_loss, delta)
    return value.mean(axis=1) / delta


HOFFMANN_GRID: dict[str, tuple[float, ...]] = {
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
}
"""Initialisation grid of Hoffmann et al. (2022), Appendix D.2 (6 x 6 x 5 x 5 x 5 = 4500)."""


@dataclass(frozen=True)
class ChinchillaFit:
    """Result of :func:`fit_chinchilla`.

    Attributes:
        law: the best fit as a :class:`ParametricLaw`.
        objective: its mean Huber loss / delta on log-loss residuals.
        n_starts: L-BFGS runs made for the point estimate.
        bootstrap: ``(n_boot, 5)`` refitted ``(E, A, B, alpha, beta)`` on resampled runs
            (empty if ``n_boot == 0``).
        confidence: level of the percentile intervals in :meth:`interval`.
    """

    law: ParametricLaw
    objective: float
    n_starts: int
    bootstrap: np.ndarray = field(repr=False)
    confidence: float = 0.9

    PARAMS: ClassVar[tuple[str, ...]] = ("E", "A", "B", "alpha", "beta", "a", "b")

    def samples(self, name: str) -> np.ndarray:
        """Bootstrap samples of ``name`` (one of E, A, B, alpha, beta, a, b)."""
        if name not in self.PARAMS:
            raise ValueError(f"name must be one of {self.PARAMS}, got {name!r}")
        if self.bootstrap.size == 0:
            return np.zeros(0)
        cols = {k: self.bootstrap[:, i] for i, k in enumerate(self.PARAMS[:5])}
        cols["a"] = cols["beta"] / (cols["alpha"] + cols["beta"])
        cols["b"] = cols["alpha"] / (cols["alpha"] + cols["beta"])
        return cols[name]

    def interval(self, name: str) -> tuple[float, float]:
        """Percentile bootstrap interval of ``name`` at level ``confidence`` (NaN if none)."""
        s = self.samples(name)
        s = s[np.isfinite(s)]
        if s.size == 0:
            return (float("nan"), float("nan"))
        tail = 50.0 * (1.0 - self.confidence)
        low, high = np.percentile(s, [tail, 100.0 - tail])
        return float(low), float(high)


LOG_E_MIN = -10.0
"""Lower bound on ``log E`` in :func:`fit_chinchilla` (E >= 4.5e-5 nats, i.e. "no floor")."""


def _best_of_starts(
    starts: np.ndarray, log_n: np.ndarray, log_d: np.ndarray, log_loss: np.ndarray, delta: float
) -> tuple[np.ndarray, float]:
    best_theta, best_value = starts[0], math.inf
    for theta0 in starts:
        res = minimize(
            _chinchilla_objective,
            theta0,
            args=(log_n, log_d, log_loss, delta),
            jac=True,
            method="L-BFGS-B",
            # E = exp(e) >= 5e-5 nats: without a floor in the data, e would otherwise walk
            # towards -infinity for thousands of iterations while the loss stops changing.
            bounds=[(None, None), (None, None), (LOG_E_MIN, None), (None, None), (None, None)],
            # Tight tolerances: Besiroglu et al. (2024) traced part of the published fit's
            # oddities to an optimiser that stopped early.
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
        )
        if np.all(np.isfinite(res.x)) and res.fun < best_value:
            best_theta, best_value = res.x, float(res.fun)
    return best_theta, best_value


def fit_chinchilla(
    n_params: Sequence[float] | np.ndarray,
    n_tokens: Sequence[float] | np.ndarray,
    loss: Sequence[float] | np.ndarray,
    *,
    delta: float = 1e-3,
    n_starts: int | None = 64,
    n_boot: int = 100,
    boot_starts: int = 4,
    confidence: float = 0.9,
    seed: int = 0,
    name: str = "this sweep",
) -> ChinchillaFit:
    """Fit ``L(N, D) = E + A/N^alpha + B/D^beta`` as Hoffmann et al. (2022) did.

    Minimises the Huber loss (threshold ``delta``) between ``log L`` and the predicted log-loss
    with L-BFGS, starting from Hoffmann et al.'s 4500-point grid (:data:`HOFFMANN_GRID`).
    To keep a laptop run short, the objective is first evaluated at every grid point and
    L-BFGS starts only from the ``n_starts`` best (``None``: all 4500, as in the paper).
    ``log E`` is bounded below by :data:`LOG_E_MIN`, so a sweep that shows no floor reports
    ``E ~= 5e-5`` instead of drifting towards zero.

    Uncertainty: the runs are resampled with replacement ``n_boot`` times and the fit is redone
    from the point estimate and the ``boot_starts`` best grid points of each resample (a
    nonparametric bootstrap over runs, as in Besiroglu et al., 2024).

    Args:
        n_params: non-embedding parameters N of each run (> 0).
        n_tokens: training tokens D of each run (> 0).
        loss: final validation loss of each run, nats per token (> 0).
        confidence: level of the percentile intervals, in (0, 1).
        seed: seeds the bootstrap resampling.
    """
    n = _check_positive("n_params", n_params).ravel()
    d = _check_positive("n_tokens", n_tokens).ravel()
    lo = _check_positive("loss", loss).ravel()
    if not len(n) == len(d) == len(lo):
        raise ValueError(
            "n_params, n_tokens and loss must have equal lengths, "
            f"got {len(n)}, {len(d)}, {len(lo)}"
        )
    if len(n) < 5:
        raise ValueError(f"need at least 5 runs to fit 5 parameters, got {len(n)}")
    if not delta > 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    if n_starts is not None and not 1 <= n_starts <= 4500:
        raise ValueError(f"n_starts must be in [1, 4500] or None, got {n_starts}")
    if n_boot < 0:
        raise ValueError(f"n_boot must be >= 0, got {n_boot}")
    if not 1 <= boot_starts <= 4500:
        raise ValueError(f"boot_starts must be in [1, 4500], got {boot_starts}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")

    grid = np.array(list(itertools.product(*HOFFMANN_GRID.values())), dtype=float)
    log_n, log_d, log_loss = np.log(n), np.log(d), np.log(lo)

    def fit(idx: np.ndarray, k: int, extra: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        scores = _grid_objective(grid, log_n[idx], log_d[idx], log_loss[idx], delta)
        starts = grid[np.argsort(scores, kind="stable")[:k]]
        if extra is not None:
            starts = np.vstack([extra[None, :], starts])
        return _best_of_starts(starts, log_n[idx], log_d[idx], log_loss[idx], delta)

    everything = np.arange(len(n))
    k = len(grid) if n_starts is None else n_starts
    rng = np.random.default_rng(seed)
    boot = []
    # Multithreaded BLAS on 5-vectors only adds thread hand-offs; on a busy machine its
    # spinning threads made each L-BFGS run ~50x slower.
    with threadpool_limits(1) if threadpool_limits is not None else contextlib.nullcontext():
        theta, value = fit(everything, k)
        for _ in range(n_boot):
            idx = rng.integers(0, len(n), len(n))
            t, _ = fit(idx, boot_starts, extra=theta)
            boot.append([math.exp(t[2]), math.exp(t[0]), math.exp(t[1]), t[3], t[4]])
    law = ParametricLaw(
        name=name,
        E=math.exp(theta[2]),
        A=math.exp(theta[0]),
        B=math.exp(theta[1]),
        alpha=float(theta[3]),
        beta=float(theta[4]),
        citation="fitted in this run (Huber on log-loss, L-BFGS from Hoffmann et al.'s grid)",
    )
    return ChinchillaFit(
        law=law,
        objective=value,
        n_starts=k,
        bootstrap=np.array(boot, dtype=float).reshape(-1, 5),
        confidence=confidence,
    )


# ---------------------------------------------------------------------------------------------
# Fit 2: IsoFLOP parabolas (Approach 2)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IsoFLOPFit:
    """Result of :func:`fit_isoflop`.

    Attributes:
        budgets: nominal compute of each IsoFLOP slice (FLOPs), ascending.
        coefs: per slice, the parabola ``(c2, c1, c0)`` of loss against ``ln N``.
        used: per run (in input order), whether it entered its slice's parabola.
        n_opt: per slice, the parabola's minimum ``N`` (NaN if the parabola opens downwards).
        d_opt: per slice, ``C / (6 N_opt)`` tokens.
        loss_opt: per slice, the parabola's minimum loss (nats per token).
        interior: per slice, whether ``N_opt`` lies inside the sampled range of N.
        a, log_k_n: ``N_opt = exp(log_k_n) * C^a`` fitted over slices with a minimum.
        b, log_k_d: ``D_opt = exp(log_k_d) * C^b``; ``a + b = 1`` by construction.
    """

    budgets: np.ndarray
    coefs: np.ndarray
    used: np.ndarray
    n_opt: np.ndarray
    d_opt: np.ndarray
    loss_opt: np.ndarray
    interior: np.ndarray
    a: float
    log_k_n: float
    b: float
    log_k_d: float

    def n_opt_at(self, compute: float | np.ndarray) -> float | np.ndarray:
        """Compute-optimal N from the fitted power law at ``compute`` FLOPs."""
        c = _check_positive("compute", compute)
        return _scalar_or_array(np.exp(self.log_k_n) * c**self.a)

    def d_opt_at(self, compute: float | np.ndarray) -> float | np.ndarray:
        """Compute-optimal D (tokens) from the fitted power law at ``compute`` FLOPs."""
        c = _check_positive("compute", compute)
        return _scalar_or_array(np.exp(self.log_k_d) * c**self.b)


def fit_isoflop(
    budgets: Sequence[float] | np.ndarray,
    n_params: Sequence[float] | np.ndarray,
    loss: Sequence[float] | np.ndarray,
    *,
    window: int | None = None,
) -> IsoFLOPFit:
    """Hoffmann et al.'s Approach 2: one parabola per compute budget, then power laws in C.

    For each distinct value of ``budgets`` (the nominal FLOPs of the slice a run belongs to),
    fit ``loss = c2 (ln N)^2 + c1 ln N + c0`` by least squares (at least 3 runs per slice),
    take its minimum ``N_opt``, set ``D_opt = C / (6 N_opt)``, and fit ``ln N_opt`` and
    ``ln D_opt`` linearly in ``ln C`` over the slices whose parabola opens upwards.

    A parabola only describes a slice near its minimum; far from it the loss saturates (tiny
    models) or the runs are too short to train (huge ones). ``window=k`` fits each slice to
    its best run and the ``k - 1`` runs nearest to it in ``ln N`` (``None``: all runs).

    Args:
        budgets: nominal compute of each run's slice, FLOPs (> 0).
        n_params: non-embedding parameters of each run (> 0).
        loss: validation loss of each run, nats per token (> 0).
        window: runs per slice used for the parabola (>= 3), or None for all.
    """
    c = _check_positive("budgets", budgets).ravel()
    n = _check_positive("n_params", n_params).ravel()
    lo = _check_positive("loss", loss).ravel()
    if not len(c) == len(n) == len(lo):
        raise ValueError(
            f"budgets, n_params and loss must have equal lengths, got {len(c)}, {len(n)}, {len(lo)}"
        )
    if window is not None and window < 3:
        raise ValueError(f"window must be >= 3 or None, got {window}")
    levels = np.unique(c)
    if len(levels) < 2:
        raise ValueError(f"need at least 2 distinct budgets, got {len(levels)}")
    coefs, n_opt, loss_opt, interior = [], [], [], []
    used = np.zeros(len(c), dtype=bool)
    for level in levels:
        sel = np.flatnonzero(c == level)
        if len(sel) < 3:
            raise ValueError(f"budget {level:.3g} has {len(sel)} runs; each needs >= 3")
        if window is not None and len(sel) > window:
            best = np.log(n[sel[np.argmin(lo[sel])]])
            sel = sel[np.argsort(np.abs(np.log(n[sel]) - best), kind="stable")[:window]]
        used[sel] = True
        x = np.log(n[sel])
        c2, c1, c0 = np.polyfit(x, lo[sel], 2)
        coefs.append((c2, c1, c0))
        if c2 > 0:
            x_min = -c1 / (2.0 * c2)
            n_opt.append(math.exp(x_min))
            loss_opt.append(c0 - c1**2 / (4.0 * c2))
            interior.append(bool(x.min() < x_min < x.max()))
        else:
            n_opt.append(float("nan"))
            loss_opt.append(float("nan"))
            interior.append(False)
    n_opt_arr = np.array(n_opt)
    d_opt_arr = levels / (6.0 * n_opt_arr)
    ok = np.isfinite(n_opt_arr)
    if ok.sum() >= 2:
        a, log_k_n = np.polyfit(np.log(levels[ok]), np.log(n_opt_arr[ok]), 1)
        b, log_k_d = np.polyfit(np.log(levels[ok]), np.log(d_opt_arr[ok]), 1)
    else:
        a = log_k_n = b = log_k_d = float("nan")
    return IsoFLOPFit(
        budgets=levels,
        coefs=np.array(coefs),
        used=used,
        n_opt=n_opt_arr,
        d_opt=d_opt_arr,
        loss_opt=np.array(loss_opt),
        interior=np.array(interior),
        a=float(a),
        log_k_n=float(log_k_n),
        b=float(b),
        log_k_d=float(log_k_d),
    )


# ---------------------------------------------------------------------------------------------
# Fit 3: Kaplan's pure power law
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PowerLawFit:
    """``L(x) = (x_c / x)^alpha`` fitted by least squares in log-log space.

    Attributes:
        alpha: the exponent (positive when loss falls with x).
        x_c: the scale at which the law predicts a loss of 1 nat per token.
        r2: coefficient of determination of the log-log regression.
    """

    alpha: float
    x_c: float
    r2: float

    def predict(self, x: float | np.ndarray) -> float | np.ndarray:
        """Predicted loss (nats per token) at ``x``."""
        arr = _check_positive("x", x)
        return _scalar_or_array((self.x_c / arr) ** self.alpha)


def fit_power_law(
    x: Sequence[float] | np.ndarray, loss: Sequence[float] | np.ndarray
) -> PowerLawFit:
    """Fit Kaplan et al.'s ``L = (x_c / x)^alpha`` (no irreducible term) to positive data.

    ``ln L = alpha ln x_c - alpha ln x`` is a straight line, so ordinary least squares on
    ``(ln x, ln L)`` gives ``-alpha`` as the slope.
    """
    xs = _check_positive("x", x).ravel()
    ys = _check_positive("loss", loss).ravel()
    if len(xs) != len(ys):
        raise ValueError(f"x and loss must have equal lengths, got {len(xs)} and {len(ys)}")
    if len(np.unique(xs)) < 2:
        raise ValueError("x must contain at least 2 distinct values")
    lx, ly = np.log(xs), np.log(ys)
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (slope * lx + intercept)
    total = np.sum((ly - ly.mean()) ** 2)
    r2 = 1.0 - np.sum(resid**2) / total if total > 0 else 1.0
    alpha = -slope
    x_c = math.exp(intercept / alpha) if alpha != 0 else float("inf")
    return PowerLawFit(alpha=float(alpha), x_c=float(x_c), r2=float(r2))


# ---------------------------------------------------------------------------------------------
# Baselines without a network
# ---------------------------------------------------------------------------------------------
def ngram_cross_entropy(
    train_ids: np.ndarray,
    val_ids: np.ndarray,
    vocab_size: int,
    *,
    order: int = 1,
    add_k: float = 0.5,
) -> float:
    """Validation cross-entropy (nats per token) of an add-k smoothed unigram or bigram model.

    ``order=1`` predicts every token from training frequencies alone (no context);
    ``order=2`` from the previous token. ``p = (count + k) / (total + k V)``. These are the
    levels a transformer passes on its way down: a loss near the unigram value means the model
    has not yet learnt to use its context.
    """
    if order not in (1, 2):
        raise ValueError(f"order must be 1 or 2, got {order}")
    if not add_k > 0:
        raise ValueError(f"add_k must be > 0, got {add_k}")
    tr = np.asarray(train_ids, dtype=np.int64).ravel()
    va = np.asarray(val_ids, dtype=np.int64).ravel()
    if len(tr) < order or len(va) < order:
        raise ValueError(f"train_ids and val_ids need at least {order} tokens")
    for name, arr in (("train_ids", tr), ("val_ids", va)):
        if arr.min() < 0 or arr.max() >= vocab_size:
            raise ValueError(
                f"{name} must lie in [0, {vocab_size}), got [{arr.min()}, {arr.max()}]"
            )
    if order == 1:
        counts = np.bincount(tr, minlength=vocab_size) + add_k
        logp = np.log(counts / counts.sum())
        return float(-logp[va].mean())
    pairs = np.bincount(tr[:-1] * vocab_size + tr[1:], minlength=vocab_size**2)
    table = pairs.reshape(vocab_size, vocab_size) + add_k
    logp = np.log(table / table.sum(axis=1, keepdims=True))
    return float(-logp[va[:-1], va[1:]].mean())


# ---------------------------------------------------------------------------------------------
# The sweep
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPlanItem:
    """One planned run: a model shape trained for ``steps`` steps inside a compute slice."""

    budget: float
    config: TinyLMConfig
    n_params: int
    steps: int
    tokens: int

    @property
    def flops(self) -> float:
        """``6 N D`` of this run (FLOPs); differs from ``budget`` by step rounding only."""
        return training_flops(self.n_params, self.tokens)


def isoflop_plan(
    budgets: Sequence[float],
    configs: Sequence[TinyLMConfig],
    *,
    batch_size: int,
    min_steps: int = 30,
    max_steps: int | None = None,
) -> list[SweepPlanItem]:
    """Plan IsoFLOP slices: for each budget C and model, train on ``D ~= C / (6N)`` tokens.

    ``D`` is rounded to whole steps of ``batch_size * block_size`` tokens. Runs with fewer than
    ``min_steps`` steps (too short to learn anything) or more than ``max_steps`` (too slow for
    the machine) are left out of that slice.

    Args:
        budgets: compute budgets in FLOPs (> 0).
        configs: model shapes; N is their non-embedding parameter count.
        batch_size: sequences per step (>= 1).
    """
    _check_positive("budgets", budgets)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if min_steps < 1:
        raise ValueError(f"min_steps must be >= 1, got {min_steps}")
    if max_steps is not None and max_steps < min_steps:
        raise ValueError(f"max_steps must be >= min_steps={min_steps}, got {max_steps}")
    plan = []
    for budget in sorted(budgets):
        for config in configs:
            n = TinyLM(config, seed=0).num_params(non_embedding=True)
            step_tokens = batch_size * config.block_size
            steps = round(budget / (6.0 * n * step_tokens))
            if steps < min_steps or (max_steps is not None and steps > max_steps):
                continue
            plan.append(SweepPlanItem(float(budget), config, n, steps, steps * step_tokens))
    return plan


@dataclass(frozen=True)
class SweepRun:
    """One finished run of :func:`run_sweep`.

    Attributes:
        budget: nominal compute of its IsoFLOP slice (FLOPs).
        config: the model shape.
        n_params: non-embedding parameters N; ``n_params_total`` includes embeddings.
        tokens: training tokens D (all positions of all sequences).
        flops: ``6 N D`` (FLOPs); ``flops_counted`` also counts attention and the output layer.
        val_loss: final validation loss, nats per token (= per character here).
        train_loss: mean training loss over the last 10% of steps, nats per token.
        train_seconds: wall time of the optimisation (s); ``tokens_per_second`` = D / that.
    """

    budget: float
    config: TinyLMConfig
    n_params: int
    n_params_total: int
    steps: int
    tokens: int
    flops: float
    flops_counted: float
    val_loss: float
    train_loss: float
    train_seconds: float
    tokens_per_second: float

    @property
    def flops_per_second(self) -> float:
        """Achieved training FLOP/s counted per matmul (``flops_counted / train_seconds``)."""
        return self.flops_counted / self.train_seconds


def run_sweep(
    plan: Sequence[SweepPlanItem],
    train_tokens: np.ndarray | torch.Tensor,
    val_windows: torch.Tensor,
    *,
    batch_size: int,
    max_lr: float | Callable[[TinyLMConfig], float] = 3e-3,
    warmup_fraction: float = 0.1,
    seed: int = 0,
    device: str | torch.device = "cpu",
    on_run: Callable[[SweepRun], None] | None = None,
) -> list[SweepRun]:
    """Train every planned model from scratch and score it on the same validation windows.

    Each run uses AdamW with linear warmup (``warmup_fraction`` of its steps) and cosine decay
    to 10% of ``max_lr`` over exactly its own length, the schedule Hoffmann et al. (2022)
    found necessary for a fair compute-optimal comparison. Weights and batches are seeded
    with ``seed`` (the same for every run).

    Args:
        train_tokens: the training token stream (1-D ids).
        val_windows: ``(n, block_size + 1)`` validation windows (see ``eval_windows``).
        batch_size: sequences per step; must match the plan.
        max_lr: peak learning rate, or a function of the config giving it.
        on_run: called with each finished :class:`SweepRun` (e.g. to print progress).
    """
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1), got {warmup_fraction}")
    results = []
    for item in plan:
        cfg = item.config
        if val_windows.size(1) != cfg.block_size + 1:
            raise ValueError(
                f"val_windows must have block_size + 1 = {cfg.block_size + 1} columns, "
                f"got {val_windows.size(1)}"
            )
        if item.tokens != item.steps * batch_size * cfg.block_size:
            raise ValueError(f"batch_size={batch_size} does not match the plan's token counts")
        model = TinyLM(cfg, seed=seed).to(device)
        lr = max_lr(cfg) if callable(max_lr) else max_lr
        result = train(
            model,
            lambda g, cfg=cfg: causal_batch(
                train_tokens, batch_size, cfg.block_size, generator=g, device=device
            ),
            steps=item.steps,
            max_lr=lr,
            warmup_steps=max(1, round(warmup_fraction * item.steps)),
            seed=seed,
        )
        val = evaluate_causal_loss(model, val_windows)
        tail = max(1, item.steps // 10)
        run = SweepRun(
            budget=item.budget,
            config=cfg,
            n_params=item.n_params,
            n_params_total=model.num_params(non_embedding=False),
            steps=item.steps,
            tokens=result.tokens,
            flops=training_flops(item.n_params, result.tokens),
            flops_counted=flops_per_token(cfg) * result.tokens,
            val_loss=val,
            train_loss=float(np.mean(result.history["loss"][-tail:])),
            train_seconds=result.train_seconds,
            tokens_per_second=result.tokens_per_second,
        )
        results.append(run)
        if on_run is not None:
            on_run(run)
    return results
