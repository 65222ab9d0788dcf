"""TF-IDF over character n-grams: fitted by scikit-learn, applied to queries without it.

``fit()`` (build time only) runs scikit-learn's ``TfidfVectorizer`` with ``char_ngrams`` as its
analyzer and keeps what a query needs: the vocabulary in column order and the idf weights.
``QueryVectorizer.transform()`` then reproduces ``TfidfVectorizer.transform`` with numpy alone:
the same grams, grams outside the vocabulary dropped, raw counts (``1 + ln(count)`` when
``sublinear_tf``), times idf, each row scaled to unit L2 norm (a row with no known gram stays
all zero). The test suite checks the two agree on random names.

The result is a ``SparseRows``: CSR arrays without scipy. nmslib's batch query reads only the
``data``, ``indices`` and ``indptr`` attributes of what it is given, so it takes these as they
are and the query path never imports scipy (the tests check both with the deployed wheel).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from entity_matching.normalize import char_ngrams

SMOOTH_IDF = True  # idf = ln((1 + n) / (1 + df)) + 1, scikit-learn's default
NORM = "l2"


@dataclass(frozen=True)
class SparseRows:
    """Rows of a sparse matrix in CSR form (``data``, ``indices``, ``indptr``, ``shape``)."""

    data: npt.NDArray[np.floating[Any]]
    indices: npt.NDArray[np.int32]
    indptr: npt.NDArray[np.integer[Any]]
    shape: tuple[int, int]

    def row(self, position: int) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.floating[Any]]]:
        """The column indices and values of one row."""
        start, end = int(self.indptr[position]), int(self.indptr[position + 1])
        return self.indices[start:end], self.data[start:end]

    def nonzero_rows(self) -> npt.NDArray[np.intp]:
        """The positions of the rows with at least one value."""
        return np.flatnonzero(np.diff(self.indptr))

    def take(self, rows: npt.NDArray[np.intp]) -> SparseRows:
        """The given rows, in that order, as float32 values and int32 indices (nmslib's input)."""
        starts, ends = self.indptr[rows], self.indptr[rows + 1]
        lengths = ends - starts
        positions = ranges(starts, lengths)
        indptr = np.zeros(len(rows) + 1, dtype=np.int32)
        np.cumsum(lengths, out=indptr[1:])
        return SparseRows(self.data[positions].astype(np.float32),
                          self.indices[positions].astype(np.int32), indptr,
                          (len(rows), self.shape[1]))


class QueryVectorizer:
    """The query side of a fitted TF-IDF model: vocabulary, idf and n-gram settings."""

    def __init__(self, vocabulary: Sequence[str], idf: npt.NDArray[np.float64], *, ngram: int,
                 sublinear_tf: bool) -> None:
        if len(vocabulary) != len(idf):
            raise ValueError(f"{len(vocabulary)} n-grams but {len(idf)} idf weights")
        self.vocabulary: list[str] = list(vocabulary)
        self.columns: Mapping[str, int] = {gram: column for column, gram in enumerate(vocabulary)}
        if len(self.columns) != len(self.vocabulary):
            raise ValueError("the vocabulary repeats an n-gram")
        self.idf = np.asarray(idf, dtype=np.float64)
        self.ngram = ngram
        self.sublinear_tf = sublinear_tf

    def transform(self, normalized: Sequence[str]) -> SparseRows:
        """Unit-length TF-IDF rows for already normalised names (float64, sorted indices)."""
        columns = self.columns
        row_ids: list[int] = []
        cols: list[int] = []
        counts: list[int] = []
        for row, text in enumerate(normalized):
            bag: dict[int, int] = {}
            for gram in char_ngrams(text, self.ngram):
                column = columns.get(gram)
                if column is not None:
                    bag[column] = bag.get(column, 0) + 1
            for column in sorted(bag):
                row_ids.append(row)
                cols.append(column)
                counts.append(bag[column])
        rows = np.asarray(row_ids, dtype=np.int64)
        indices = np.asarray(cols, dtype=np.int32)
        tf = np.asarray(counts, dtype=np.float64)
        if self.sublinear_tf:
            tf = np.log(tf) + 1.0
        weights = tf * self.idf[indices]
        norms = np.sqrt(np.bincount(rows, weights=weights * weights, minlength=len(normalized)))
        weights /= norms[rows]
        indptr = np.zeros(len(normalized) + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=len(normalized)), out=indptr[1:])
        return SparseRows(weights, indices, indptr, (len(normalized), len(self.vocabulary)))


@dataclass(frozen=True)
class Fitted:
    """What ``fit()`` returns: the query side, the reference rows, and scikit-learn's object."""

    vectorizer: QueryVectorizer
    matrix: Any  # scipy.sparse.csr_matrix, float64, unit rows, sorted indices
    sklearn_vectorizer: Any  # sklearn.feature_extraction.text.TfidfVectorizer


def sklearn_vectorizer(ngram: int, *, sublinear_tf: bool) -> Any:
    """An unfitted ``TfidfVectorizer`` configured as this package uses it (imports sklearn)."""
    # Imported here, not at the top: the query path must not load scikit-learn.
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(analyzer=functools.partial(char_ngrams, n=ngram), lowercase=False,
                           token_pattern=None, norm=NORM, use_idf=True, smooth_idf=SMOOTH_IDF,
                           sublinear_tf=sublinear_tf, dtype=np.float64)


def fit(normalized: Sequence[str], *, ngram: int, sublinear_tf: bool) -> Fitted:
    """Fit TF-IDF on normalised reference names (build time; imports scikit-learn)."""
    vectorizer = sklearn_vectorizer(ngram, sublinear_tf=sublinear_tf)
    matrix = vectorizer.fit_transform(list(normalized)).tocsr()
    matrix.sort_indices()
    vocabulary = [""] * len(vectorizer.vocabulary_)
    for gram, column in vectorizer.vocabulary_.items():
        vocabulary[column] = gram
    query = QueryVectorizer(vocabulary, np.asarray(vectorizer.idf_, dtype=np.float64),
                            ngram=ngram, sublinear_tf=sublinear_tf)
    return Fitted(query, matrix, vectorizer)


def ranges(starts: npt.NDArray[np.integer[Any]],
            lengths: npt.NDArray[np.integer[Any]]) -> npt.NDArray[np.int64]:
    """The concatenated positions ``start .. start + length - 1`` for each pair."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shifts = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - lengths), lengths)
    positions: npt.NDArray[np.int64] = np.arange(total, dtype=np.int64) + shifts
    return positions
