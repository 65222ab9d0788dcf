"""The analyses: scikit-learn on a CSV's numeric columns.

Each takes the request's parameters (defaults filled in) and the table, and answers the columns
it used and its result (JSON-ready; a number that is not finite becomes ``null``):

- ``kmeans``: standardised features (``StandardScaler``) clustered by ``KMeans`` in one
  pipeline. ``centers`` in the columns' own units (column -> value), ``sizes`` (rows per
  cluster), ``inertia`` (within-cluster sum of squares, in standardised units),
  ``iterations``, and ``silhouette`` (-1 to 1, ``null`` when the sample holds one cluster) on a
  random sample of at most ``SILHOUETTE_ROWS`` rows (``silhouetteRows``).
- ``linearRegression``: ``LinearRegression`` on the raw features, so that ``coefficients``
  (feature -> value) and ``intercept`` are in the columns' own units; ``r2`` and ``mae`` on
  the held-out ``testFraction`` (``trainRows``, ``testRows``).
- ``pca``: standardised features and ``PCA``: ``explainedVarianceRatio`` per component, and
  ``components`` (feature -> loading, one object a component).

Scikit-learn's warnings (a k-means that found fewer distinct clusters than asked, ...) are kept
in ``warnings``. Too few rows, an unknown or text column, a column with NaN or infinity: a
``JobFailed`` that says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from blueprints_common.entry import JobFailed
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.metrics import mean_absolute_error, r2_score, silhouette_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from analytics_jobs.table import NumericTable

SILHOUETTE_ROWS = 10_000
# Memory for the silhouette's pairwise distances, computed in chunks of this size (scikit-learn
# takes 1 GB by default: 10,000 rows need 800 MB at once).
SILHOUETTE_MEMORY_MB = 64
MAX_COMPONENTS = 20
MAX_WARNINGS = 5


@dataclass(frozen=True)
class Outcome:
    """What an analysis used (its columns) and found (its result)."""

    columns: list[str]
    result: dict[str, Any]


def analyse(analysis: str, parameters: Mapping[str, Any], table: NumericTable) -> Outcome:
    """Runs ``analysis`` on ``table``; ``JobFailed`` when the data does not allow it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = ANALYSES[analysis](parameters, table)
        except ValueError as error:  # scikit-learn's refusal of this data
            raise JobFailed(f"{analysis} could not be fitted on this data: "
                            f"{str(error)[:300]}") from None
    found = list(dict.fromkeys(str(warning.message)[:300] for warning in caught))
    if found:
        outcome.result["warnings"] = found[:MAX_WARNINGS]
    return outcome


def kmeans(parameters: Mapping[str, Any], table: NumericTable) -> Outcome:
    features = feature_columns(parameters, table)
    clusters = parameters["nClusters"]
    values = table.matrix(features)
    # The silhouette needs more rows than clusters.
    need_rows(table, clusters + 1, f"kmeans with nClusters {clusters}")
    seed = parameters.get("randomState")
    pipeline = make_pipeline(StandardScaler(),
                             KMeans(n_clusters=clusters, n_init="auto", random_state=seed))
    labels = pipeline.fit_predict(values)
    scaler, model = pipeline[0], pipeline[-1]
    centers = scaler.inverse_transform(model.cluster_centers_)
    sample = np.random.default_rng(seed).choice(
        table.rows, size=min(table.rows, SILHOUETTE_ROWS), replace=False)
    sample_labels = labels[sample]
    silhouette = None
    if 1 < len(np.unique(sample_labels)) < len(sample):
        with config_context(working_memory=SILHOUETTE_MEMORY_MB):
            silhouette = silhouette_score(scaler.transform(values[sample]), sample_labels)
    return Outcome(features, {
        "features": features,
        "nClusters": clusters,
        "centers": [by_name(features, center) for center in centers],
        "sizes": [int(size) for size in np.bincount(labels, minlength=clusters)],
        "inertia": number(model.inertia_),
        "iterations": int(model.n_iter_),
        "silhouette": number(silhouette),
        "silhouetteRows": len(sample),
    })


def linear_regression(parameters: Mapping[str, Any], table: NumericTable) -> Outcome:
    target = parameters["target"]
    problem = table.column_problem(target, "parameters.target")
    if problem:
        raise JobFailed(problem)
    features = feature_columns(parameters, table, besides=target)
    fraction = parameters["testFraction"]
    need_rows(table, regression_rows(fraction, len(features)),
              f"linearRegression with testFraction {fraction} and {len(features)} features")
    values = table.matrix([*features, target])
    train_x, test_x, train_y, test_y = train_test_split(
        values[:, :-1], values[:, -1], test_size=fraction,
        random_state=parameters.get("randomState"))
    model = LinearRegression().fit(train_x, train_y)
    predicted = model.predict(test_x)
    return Outcome([*features, target], {
        "target": target,
        "features": features,
        "coefficients": by_name(features, model.coef_),
        "intercept": number(model.intercept_),
        "r2": number(r2_score(test_y, predicted)),
        "mae": number(mean_absolute_error(test_y, predicted)),
        "trainRows": len(train_y),
        "testRows": len(test_y),
    })


def regression_rows(fraction: float, features: int) -> int:
    """The fewest rows a regression needs: two held out (for R²), and more rows to fit on
    than it has coefficients (the intercept too)."""
    rows = 2
    while math.ceil(rows * fraction) < 2 or rows - math.ceil(rows * fraction) < features + 1:
        rows += 1
    return rows


def pca(parameters: Mapping[str, Any], table: NumericTable) -> Outcome:
    features = feature_columns(parameters, table)
    components = parameters["nComponents"]
    most = min(len(features), MAX_COMPONENTS)
    if components > most:
        raise JobFailed(f"parameters.nComponents must be from 1 to {most}: the analysis has "
                        f"{len(features)} feature column(s)")
    need_rows(table, max(2, components), f"pca with nComponents {components}")
    pipeline = make_pipeline(StandardScaler(), PCA(n_components=components))
    pipeline.fit(table.matrix(features))
    model = pipeline[-1]
    return Outcome(features, {
        "features": features,
        "nComponents": components,
        "explainedVarianceRatio": [number(ratio) for ratio in model.explained_variance_ratio_],
        "components": [by_name(features, component) for component in model.components_],
    })


ANALYSES: Mapping[str, Callable[[Mapping[str, Any], NumericTable], Outcome]] = {
    "kmeans": kmeans, "linearRegression": linear_regression, "pca": pca}


def feature_columns(parameters: Mapping[str, Any], table: NumericTable,
                    besides: str | None = None) -> list[str]:
    """The features the parameters name (each a numeric column), or every numeric column
    (but ``besides``)."""
    named = parameters.get("features")
    if named is None:
        features = [name for name in table.numeric if name != besides]
        if not features:
            raise JobFailed("the CSV has no numeric column besides parameters.target to use "
                            "as a feature")
        return features
    for name in named:
        problem = table.column_problem(name, "parameters.features")
        if problem:
            raise JobFailed(problem)
    return list(named)


def need_rows(table: NumericTable, rows: int, what: str) -> None:
    if table.rows < rows:
        raise JobFailed(f"{what} needs at least {rows} data rows; the CSV has {table.rows}")


def by_name(names: Sequence[str], values: Sequence[float] | np.ndarray) -> dict[str, Any]:
    return {name: number(value) for name, value in zip(names, values, strict=True)}


def number(value: Any) -> float | None:
    """A float for JSON; ``None`` for what JSON cannot hold (NaN, infinity) or nothing."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
