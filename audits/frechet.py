"""Fréchet distance and kernel inception-style distance (KID) over any feature vectors.

The formulas are those of FID (Heusel et al. 2017) and KID (Bińkowski et al. 2018); what makes a
number "FID" is the Inception-v3 feature network, so callers name results for their features.
"""

import numpy as np


def _centred(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    feats = np.asarray(feats, dtype=np.float64)
    if feats.ndim != 2 or len(feats) < 2:
        raise ValueError(f"need at least 2 feature vectors (N, D); got shape {feats.shape}")
    mean = feats.mean(axis=0)
    return mean, feats - mean


def _sqrtm_psd(mat: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((mat + mat.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a^1/2 S_b S_a^1/2)^1/2), S the sample covariances.

    With fewer samples than dimensions (the usual case here: tens of images, 1280-d features) the
    trace of the square root is computed exactly in sample space: it is the sum of the singular values
    of X_a X_b^T / sqrt((n_a - 1)(n_b - 1)), X the centred features, so no D x D matrix is formed.
    Otherwise it uses the eigenvalues of the symmetric product, which stay real when S is singular.
    """
    mu_a, xa = _centred(feats_a)
    mu_b, xb = _centred(feats_b)
    na, nb = len(xa), len(xb)
    trace_a = float((xa**2).sum() / (na - 1))
    trace_b = float((xb**2).sum() / (nb - 1))
    if min(na, nb) <= xa.shape[1]:
        trace_sqrt = np.linalg.svd(xa @ xb.T, compute_uv=False).sum() / np.sqrt((na - 1) * (nb - 1))
    else:
        root_a = _sqrtm_psd(xa.T @ xa / (na - 1))
        middle = root_a @ (xb.T @ xb / (nb - 1)) @ root_a
        trace_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + trace_a + trace_b - 2 * trace_sqrt)
    return max(value, 0.0)


def kernel_distance(
    feats_a: np.ndarray, feats_b: np.ndarray, subsets: int = 50, subset_size: int = 100, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets: (mean, std)."""
    a = np.asarray(feats_a, dtype=np.float64)
    b = np.asarray(feats_b, dtype=np.float64)
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError(f"KID needs at least 2 samples per set; got {len(a)} and {len(b)}")
    dim = a.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx = (x @ x.T / dim + 1) ** 3
        k_yy = (y @ y.T / dim + 1) ** 3
        k_xy = (x @ y.T / dim + 1) ** 3
        off = m * (m - 1)
        values.append(
            (k_xx.sum() - np.trace(k_xx)) / off + (k_yy.sum() - np.trace(k_yy)) / off - 2 * k_xy.mean()
        )
    return float(np.mean(values)), float(np.std(values))
