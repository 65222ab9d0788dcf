"""``EntityIndex``: build, save, load and query an index of reference names.

The package docstring is the documentation; this module is the implementation. Two search
backends sit behind the same interface:

- ``_ExactSearch`` ("exact"): the reference vectors kept as an inverted index (one posting list
  of (reference, weight) per n-gram), so a query's cosine with every reference is a sum over
  the posting lists of its own n-grams. numpy only.
- ``_PrunedSearch`` ("pruned", the default): the same posting lists, searched with the
  query's most frequent n-grams left out as long as they cannot add more than ``skipBound``
  to any reference's cosine; the ``candidates`` best references on the rest are then
  re-scored with the whole query. numpy only.
- ``_InvertedSearch`` ("invindex"): the same pruned search with nmslib's exact inverted index
  (``simple_invindx``) finding the candidates. Only the vectors are saved; nmslib's index is
  rebuilt from them on load.
- ``_NmslibSearch`` ("sw-graph", "napp"): an nmslib index over the same unit vectors, saved
  and loaded with its data.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt

from entity_matching.artifacts import (
    MANIFEST,
    READ_ERRORS,
    IndexArtifactError,
    Manifest,
    ParamValue,
    StringTable,
    check_files,
    check_offsets,
    describe,
    load_array,
    load_arrays,
    read_manifest,
    write_manifest,
)
from entity_matching.normalize import NORMALIZER_VERSION, char_ngrams, normalize
from entity_matching.rerank import (
    INITIALS_POOL,
    POOL,
    InitialsTable,
    Name,
    WordWeights,
    align,
    candidate_score,
    features,
    initials_code,
    probabilities,
)
from entity_matching.vectorize import QueryVectorizer, SparseRows, fit, ranges

METHODS = ("pruned", "invindex", "sw-graph", "napp", "exact")
DEFAULT_METHOD = "pruned"
DEFAULT_NGRAM = 3
NGRAM_RANGE = (2, 5)
SUBLINEAR_TF = True

# Cosine similarity itself is the distance's complement (1 - cos), whatever the vectors' float32
# rounding; "negdotprod" is the post's space, -dot, equal to -cos only for unit vectors.
SPACES = {"invindex": "negdotprod_sparse_fast", "sw-graph": "cosinesimil_sparse_fast",
          "napp": "negdotprod_sparse_fast"}
# "pruned" and "invindex": how many references the pruned query fetches for re-scoring, and the
# most that the n-grams it leaves out could add to any reference's cosine (0: none left out, an
# exact search). Chosen by benchmarks/entity_resolution.py (see benchmarks/README.md).
PRUNED_QUERY_PARAMS: dict[str, ParamValue] = {"candidates": 100, "skipBound": 0.5}
PRUNED_METHODS = ("pruned", "invindex")
MAX_CANDIDATES = 10_000
SW_GRAPH_INDEX_PARAMS: dict[str, ParamValue] = {"NN": 15, "efConstruction": 100}
SW_GRAPH_QUERY_PARAMS: dict[str, ParamValue] = {"efSearch": 100}
# nmslib's own NAPP defaults (the post passes none); numPivot must stay below the count.
NAPP_PIVOTS, NAPP_PIVOTS_INDEXED, NAPP_PIVOTS_SEARCHED = 512, 32, 2

VOCABULARY = "vocabulary.json"
IDF = "idf.npy"
REFERENCES = "references.npz"
VECTORS = "vectors.npz"
ROWS = "rows.npz"
NMSLIB_INDEX = "index.bin"
NMSLIB_DATA = "index.bin.dat"  # nmslib's name for the data saved next to the index
INITIALS = "initials.npz"  # optional: indexes saved before the re-ranker have none
COMMON_FILES = (VOCABULARY, IDF, REFERENCES)
METHOD_FILES = {"exact": (VECTORS,), "pruned": (VECTORS,), "invindex": (ROWS,),
                "sw-graph": (NMSLIB_INDEX, NMSLIB_DATA), "napp": (NMSLIB_INDEX, NMSLIB_DATA)}
ALL_FILES = (*COMMON_FILES, VECTORS, ROWS, NMSLIB_INDEX, NMSLIB_DATA, INITIALS)
# What nmslib raises on a file it cannot read (after the checksums, only an nmslib mismatch).
NMSLIB_ERRORS = (RuntimeError, MemoryError, ValueError, OSError, TypeError)


@dataclass(frozen=True, slots=True)
class Match:
    """A reference entity found for a name: its id, its reference name, and the cosine score."""

    id: str
    name: str
    score: float


class _Search(Protocol):
    """A search backend: the k best references for each (non-zero, unit) query row."""

    def search(self, queries: SparseRows, k: int, threads: int) -> list[tuple[
            npt.NDArray[np.int64], npt.NDArray[np.float64]]]: ...

    def save(self, folder: Path) -> None: ...


class EntityIndex:
    """Reference names, their TF-IDF model and a search index. Create with ``build`` or ``load``.

    See the package docstring for the full contract.
    """

    def __init__(self, *, manifest: Manifest, vectorizer: QueryVectorizer, ids: StringTable,
                 names: StringTable, search: _Search, threads: int | None,
                 initials: InitialsTable | None = None, rerank: bool = True) -> None:
        if not isinstance(rerank, bool):
            raise TypeError("rerank must be True or False")
        self._manifest = manifest
        self._vectorizer = vectorizer
        self._ids = ids
        self._names = names
        self._search = search
        self._threads = _threads(threads)
        self._initials = initials
        self._rerank = rerank
        self._words = WordWeights(vectorizer.columns, vectorizer.idf, vectorizer.ngram)

    # ----------------------------------------------------------------------------- building

    @classmethod
    def build(cls, ids: Sequence[str], names: Sequence[str], *, method: str = DEFAULT_METHOD,
              index_params: Mapping[str, ParamValue] | None = None,
              query_params: Mapping[str, ParamValue] | None = None,
              strip_legal_suffixes: bool = True, ngram: int = DEFAULT_NGRAM,
              threads: int | None = None, rerank: bool = True) -> EntityIndex:
        """An index of ``names``, found by ``ids`` (parallel sequences; ids unique).

        ``ValueError`` for invalid arguments (naming them), duplicated ids, or names with no
        letter or digit. Imports scikit-learn (and nmslib for an nmslib method).
        """
        ids, names = _references(ids, names)
        if method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
        if not isinstance(strip_legal_suffixes, bool):
            raise TypeError("strip_legal_suffixes must be True or False")
        if isinstance(ngram, bool) or not isinstance(ngram, int) \
                or not NGRAM_RANGE[0] <= ngram <= NGRAM_RANGE[1]:
            raise ValueError(f"ngram must be an integer from {NGRAM_RANGE[0]} to "
                             f"{NGRAM_RANGE[1]}, not {ngram!r}")
        thread_count = _threads(threads)
        index_params = _params(index_params, "index_params")
        query_params = _params(query_params, "query_params")
        if "indexThreadQty" in index_params:
            raise ValueError("index_params: set the number of threads with threads=, not "
                             "indexThreadQty")
        if method == "exact" and (index_params or query_params):
            raise ValueError("method 'exact' takes no index_params or query_params")
        if method == "pruned" and index_params:
            raise ValueError("method 'pruned' takes no index_params (only query_params)")
        if method == "napp" and len(ids) < 2:
            raise ValueError("method 'napp' needs at least 2 references; use 'exact'")
        index_params, query_params = _with_defaults(method, len(ids), index_params,
                                                    query_params)

        normalized = [normalize(name, strip_legal_suffixes=strip_legal_suffixes)
                      for name in names]
        empty = [ids[position] for position, text in enumerate(normalized) if not text]
        if empty:
            raise ValueError(f"{len(empty)} reference name(s) have no letter or digit, e.g. "
                             f"the names of ids {empty[:5]}")

        fitted = fit(normalized, ngram=ngram, sublinear_tf=SUBLINEAR_TF)
        vectors = fitted.matrix.astype(np.float32)
        versions = {"numpy": np.__version__,
                    "scikit-learn": importlib.import_module("sklearn").__version__}
        search: _Search
        if method == "exact":
            search = _ExactSearch.from_matrix(vectors)
        elif method == "pruned":
            search = _PrunedSearch.from_matrix(vectors, query_params)
        elif method == "invindex":
            search = _InvertedSearch.build(vectors, index_params, query_params)
            versions["nmslib"] = _nmslib().__version__
        else:
            search = _NmslibSearch.build(method, vectors, index_params, query_params,
                                         thread_count)
            versions["nmslib"] = _nmslib().__version__
        manifest = Manifest(
            method=method, space=SPACES.get(method), index_params=index_params,
            query_params=query_params, count=len(ids),
            vocabulary_size=len(fitted.vectorizer.vocabulary), ngram=ngram,
            sublinear_tf=SUBLINEAR_TF, strip_legal_suffixes=strip_legal_suffixes,
            normalizer_version=NORMALIZER_VERSION, artifacts={}, versions=versions)
        return cls(manifest=manifest, vectorizer=fitted.vectorizer,
                   ids=StringTable.from_strings(ids), names=StringTable.from_strings(names),
                   search=search, threads=threads, initials=InitialsTable.build(normalized),
                   rerank=rerank)

    # ----------------------------------------------------------------------- saving, loading

    def save(self, folder: str | os.PathLike[str]) -> Manifest:
        """Write the index into ``folder`` (created if needed) and return its manifest.

        Files of an earlier index in the folder are replaced; ``manifest.json`` is removed
        first and written last, so an interrupted save leaves a folder that will not load.
        """
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        (path / MANIFEST).unlink(missing_ok=True)
        files = (*COMMON_FILES, *METHOD_FILES[self.method],
                 *((INITIALS,) if self._initials is not None else ()))
        for stale in set(ALL_FILES) - set(files):
            (path / stale).unlink(missing_ok=True)

        (path / VOCABULARY).write_text(
            json.dumps(self._vectorizer.vocabulary, ensure_ascii=False, separators=(",", ":")),
            encoding="utf-8")
        with (path / IDF).open("wb") as stream:
            np.save(stream, self._vectorizer.idf, allow_pickle=False)
        with (path / REFERENCES).open("wb") as stream:
            np.savez(stream, ids_utf8=self._ids.utf8, ids_offsets=self._ids.offsets,
                     names_utf8=self._names.utf8, names_offsets=self._names.offsets)
        self._search.save(path)
        if self._initials is not None:
            self._initials.save(path / INITIALS)

        manifest = dataclasses.replace(
            self._manifest, artifacts={name: describe(path / name) for name in files})
        write_manifest(path, manifest)
        self._manifest = manifest
        return manifest

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, verify: bool = True,
             query_params: Mapping[str, ParamValue] | None = None,
             threads: int | None = None, rerank: bool = True) -> EntityIndex:
        """The index saved in ``folder``.

        ``IndexArtifactError`` for a missing, corrupt or inconsistent file. Sizes are always
        checked; with ``verify`` (the default) every file's sha256 too, before it is parsed.
        ``query_params`` override the saved ones (nmslib methods).
        """
        path = Path(folder)
        overrides = _params(query_params, "query_params")
        manifest = read_manifest(path)
        _check_manifest(manifest)
        if manifest.method == "exact" and overrides:
            raise ValueError("method 'exact' takes no query_params")
        optional = (INITIALS,) if INITIALS in manifest.artifacts else ()
        check_files(path, manifest, (*COMMON_FILES, *METHOD_FILES[manifest.method], *optional),
                    verify=verify)

        vocabulary = _load_vocabulary(path / VOCABULARY, manifest.vocabulary_size)
        idf = load_array(path / IDF, "f", (manifest.vocabulary_size,)).astype(np.float64)
        if not np.all(np.isfinite(idf)) or bool(np.any(idf < 1.0)):
            raise IndexArtifactError(f"{path / IDF} holds impossible idf weights")
        ids, names = _load_references(path / REFERENCES, manifest.count)
        search: _Search
        if manifest.method == "exact":
            search = _ExactSearch.load(path / VECTORS, manifest)
        elif manifest.method == "pruned":
            search = _PrunedSearch.load(path / VECTORS, manifest, overrides)
            if overrides:
                manifest = dataclasses.replace(
                    manifest, query_params={**manifest.query_params, **overrides})
        elif manifest.method == "invindex":
            search = _InvertedSearch.load(path / ROWS, manifest, overrides)
            if overrides:
                manifest = dataclasses.replace(
                    manifest, query_params={**manifest.query_params, **overrides})
        else:
            search = _NmslibSearch.load(path, manifest, overrides)
            if overrides:
                manifest = dataclasses.replace(
                    manifest, query_params={**manifest.query_params, **overrides})
        vectorizer = QueryVectorizer(vocabulary, idf, ngram=manifest.ngram,
                                     sublinear_tf=manifest.sublinear_tf)
        initials = _load_initials(path / INITIALS, manifest.count) if optional else None
        return cls(manifest=manifest, vectorizer=vectorizer, ids=ids, names=names,
                   search=search, threads=threads, initials=initials, rerank=rerank)

    # ------------------------------------------------------------------------------ queries

    def match(self, name: str, k: int = 3, min_score: float = 0.0, *,
              rerank: bool | None = None) -> list[Match]:
        """The (at most) ``k`` best references for ``name``, best first, each scoring at least
        ``min_score``. ``ValueError`` when ``name`` has no letter or digit. ``rerank``
        overrides the index's setting for this call."""
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, not {type(name).__name__}")
        normalized = normalize(name, strip_legal_suffixes=self.strip_legal_suffixes)
        if not normalized:
            raise ValueError(f"name {name!r} has no letter or digit to match on")
        return self._query([name], [normalized], k, min_score, threads=1, rerank=rerank)[0]

    def match_many(self, names: Iterable[str], k: int = 3, min_score: float = 0.0, *,
                   rerank: bool | None = None) -> list[list[Match]]:
        """``match`` for each name, in one batch query; one list of matches per name."""
        if isinstance(names, str | bytes):
            raise TypeError("names must be a sequence of names, not a single string")
        names = list(names)
        bad = [position for position, name in enumerate(names) if not isinstance(name, str)]
        if bad:
            raise TypeError(f"names must be strings; positions {bad[:5]} are not")
        normalized = [normalize(name, strip_legal_suffixes=self.strip_legal_suffixes)
                      for name in names]
        empty = [position for position, text in enumerate(normalized) if not text]
        if empty:
            raise ValueError(f"{len(empty)} name(s) have no letter or digit to match on, at "
                             f"positions {empty[:5]}")
        return self._query(names, normalized, k, min_score, threads=self._threads,
                           rerank=rerank)

    def _query(self, names: list[str], normalized: list[str], k: int, min_score: float, *,
               threads: int, rerank: bool | None) -> list[list[Match]]:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, not {k!r}")
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) \
                or not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be a number from 0 to 1, not {min_score!r}")
        results: list[list[Match]] = [[] for _ in normalized]
        if not normalized:
            return results
        rows = self._vectorizer.transform(normalized)
        # A name with no n-gram of the vocabulary has a zero vector: it matches nothing (and
        # nmslib's cosine space would call it identical to everything).
        nonzero = rows.nonzero_rows()
        if rerank is None:
            rerank = self._rerank
        elif not isinstance(rerank, bool):
            raise TypeError("rerank must be True, False or None")
        if len(nonzero) == 0 and not rerank:
            return results
        pool = max(POOL, k) if rerank else k
        found = self._search.search(rows.take(nonzero), min(pool, len(self)), threads) \
            if len(nonzero) else []
        if rerank:
            # Initials may find references for a name none of whose n-grams the index knows.
            first = dict(zip(nonzero.tolist(), found, strict=True))
            nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
            for row, name in enumerate(names):
                candidates, feature_rows = self._candidates(name, rows.row(row),
                                                            *first.get(row, nothing))
                results[row] = self._reranked(candidates, feature_rows, k, min_score)
            return results
        for row, (positions, raw_scores) in zip(nonzero.tolist(), found, strict=True):
            scored = [(_score(raw), position) for position, raw
                      in zip(positions.tolist(), raw_scores.tolist(), strict=True)]
            # Best first; equal scores in reference order, so results do not depend on nmslib.
            scored.sort(key=lambda pair: (-pair[0], pair[1]))
            results[row] = [Match(self._ids[position], self._names[position], score)
                            for score, position in scored[:k]
                            if score > 0.0 and score >= min_score]
        return results

    def _candidates(self, name: str, row: tuple[npt.NDArray[np.int32], npt.NDArray[Any]],
                    positions: npt.NDArray[np.int64], cosines: npt.NDArray[np.float64]
                    ) -> tuple[list[int], list[list[float]]]:
        """The first stage's candidates and those sharing the query's initials, in reference
        order, with their re-ranking features (``rerank.FEATURES``)."""
        query = self._words.name(name)
        pool = dict(zip(positions.tolist(), cosines.tolist(), strict=True))
        for position, cosine in self._initials_pool(query, row):
            pool.setdefault(position, cosine)
        if not pool:
            return [], []
        candidates = sorted(pool)
        alignments = [align(query, self._words.name(self._names[position]))
                      for position in candidates]
        # N-grams no reference has are dropped from the query's vector, so "acme mfg" has a
        # cosine of 1 with "acme": scaled by the share of the query's weight they leave.
        known = self._known_share(" ".join(query.words))
        pool = {position: cosine * known for position, cosine in pool.items()}
        explained = [pool[position] for position in candidates]
        rewritten = [at for at, alignment in enumerate(alignments)
                     if alignment.expanded is not None]
        if rewritten:
            # The query as each of these references' words would write it, against them.
            texts = [text for at in rewritten for text in (
                alignments[at].expanded or "",
                normalize(self._names[candidates[at]],
                          strip_legal_suffixes=self.strip_legal_suffixes))]
            vectors = self._vectorizer.transform(texts)
            for number, at in enumerate(rewritten):
                left, right = vectors.row(2 * number), vectors.row(2 * number + 1)
                shared, left_at, right_at = np.intersect1d(left[0], right[0],
                                                           return_indices=True)
                cosine = float(np.dot(left[1][left_at], right[1][right_at])) if len(shared) \
                    else 0.0
                cosine *= self._known_share(alignments[at].expanded or "")
                explained[at] = max(explained[at], cosine)
        best = max(explained)
        return candidates, [features(alignment, pool[position], value, best)
                            for alignment, position, value
                            in zip(alignments, candidates, explained, strict=True)]

    def _explain(self, name: str) -> tuple[list[int], list[list[float]]]:
        """The re-ranker's candidates and features for one name (for calibration)."""
        normalized = normalize(name, strip_legal_suffixes=self.strip_legal_suffixes)
        rows = self._vectorizer.transform([normalized])
        nothing = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        found = self._search.search(rows, min(POOL, len(self)), 1)[0] \
            if len(rows.nonzero_rows()) else nothing
        return self._candidates(name, rows.row(0), *found)

    def _known_share(self, text: str) -> float:
        """The norm of ``text``'s TF-IDF vector over its n-grams that the vocabulary knows, as a
        share of its norm over all of them (unknown ones weigh the largest possible idf)."""
        counts = Counter(char_ngrams(text, self.ngram))
        if not counts:
            return 0.0
        unknown = math.log(1 + len(self)) + 1.0
        columns, idf = self._vectorizer.columns, self._vectorizer.idf
        known = total = 0.0
        for gram, count in counts.items():
            column = columns.get(gram)
            weight = ((1.0 + math.log(count)) if self._manifest.sublinear_tf else count) * (
                float(idf[column]) if column is not None else unknown)
            total += weight * weight
            if column is not None:
                known += weight * weight
        return math.sqrt(known / total)

    def _reranked(self, candidates: list[int], feature_rows: list[list[float]], k: int,
                  min_score: float) -> list[Match]:
        """Candidates by calibrated probability, best first."""
        scores = [candidate_score(values) for values in feature_rows]
        ranked = sorted(((_score(probability), position) for probability, position
                         in zip(probabilities(scores), candidates, strict=True)),
                        key=lambda pair: (-pair[0], pair[1]))
        return [Match(self._ids[position], self._names[position], score)
                for score, position in ranked[:k] if score > 0.0 and score >= min_score]

    def _initials_pool(self, query: Name, row: tuple[npt.NDArray[np.int32], npt.NDArray[Any]]
                       ) -> list[tuple[int, float]]:
        """References whose leading initials are a word of the query, the best few by the
        rest of the query, with their cosines (methods with posting lists or rows only)."""
        dots = getattr(self._search, "dots", None)
        if self._initials is None or dots is None:
            return []
        columns, values = row[0], row[1].astype(np.float64)
        found: list[tuple[int, float]] = []
        for at, word in enumerate(query.words):
            code = initials_code(word) if word.isalpha() else -1
            if code < 0:
                continue
            positions = self._initials.lookup(code)
            if len(positions) == 0:
                continue
            rest = " ".join(other for where, other in enumerate(query.words) if where != at)
            if rest and len(positions) > INITIALS_POOL:
                rest_columns, rest_values = self._vectorizer.transform([rest]).row(0)
                by_rest = dots(rest_columns, rest_values.astype(np.float64), positions)
                positions = positions[np.argsort(-by_rest, kind="stable")[:INITIALS_POOL]]
            else:
                positions = positions[:INITIALS_POOL]
            positions = np.sort(positions)
            found.extend(zip(positions.tolist(), dots(columns, values, positions).tolist(),
                             strict=True))
        return found

    # --------------------------------------------------------------------------- properties

    def __len__(self) -> int:
        return self._manifest.count

    def __repr__(self) -> str:
        return (f"EntityIndex(method={self.method!r}, references={len(self)}, "
                f"ngram={self.ngram}, strip_legal_suffixes={self.strip_legal_suffixes})")

    @property
    def rerank(self) -> bool:
        """Whether ``match`` re-ranks by default (scores are then calibrated probabilities)."""
        return self._rerank

    @property
    def method(self) -> str:
        return self._manifest.method

    @property
    def ngram(self) -> int:
        return self._manifest.ngram

    @property
    def strip_legal_suffixes(self) -> bool:
        return self._manifest.strip_legal_suffixes

    @property
    def manifest(self) -> Manifest:
        """The settings; after ``save`` or ``load``, with the files' checksums."""
        return self._manifest

    @property
    def ids(self) -> Sequence[str]:
        """The reference ids, in build order (decoded on access)."""
        return self._ids

    @property
    def names(self) -> Sequence[str]:
        """The reference names as given to ``build``, in build order (decoded on access)."""
        return self._names


class _ExactSearch:
    """Cosine with every reference, from the n-gram-major (inverted) form of the vectors."""

    def __init__(self, indptr: npt.NDArray[np.int64], references: npt.NDArray[np.int32],
                 weights: npt.NDArray[np.float32], count: int) -> None:
        self.indptr = indptr
        self.references = references
        self.weights = weights
        self.count = count

    @classmethod
    def from_matrix(cls, vectors: Any) -> _ExactSearch:
        inverted = vectors.T.tocsr()  # scipy, at build time only
        inverted.sort_indices()
        return cls(inverted.indptr.astype(np.int64), inverted.indices.astype(np.int32),
                   inverted.data.astype(np.float32), vectors.shape[0])

    @classmethod
    def load(cls, path: Path, manifest: Manifest) -> _ExactSearch:
        arrays = load_arrays(path, {"indptr": ("iu", 1), "references": ("iu", 1),
                                    "weights": ("f", 1)})
        indptr, references, weights = arrays["indptr"], arrays["references"], arrays["weights"]
        check_offsets(path, "indptr", indptr, manifest.vocabulary_size, len(references))
        if len(weights) != len(references) or (len(references) and (
                int(references.min()) < 0 or int(references.max()) >= manifest.count)) \
                or not bool(np.all(np.isfinite(weights))):
            raise IndexArtifactError(f"{path} does not hold vectors of {manifest.count} "
                                     "references")
        return cls(indptr.astype(np.int64), references.astype(np.int32),
                   weights.astype(np.float32), manifest.count)

    def save(self, folder: Path) -> None:
        with (folder / VECTORS).open("wb") as stream:
            np.savez(stream, indptr=self.indptr, references=self.references,
                     weights=self.weights)

    def dots(self, columns: npt.NDArray[np.int32], values: npt.NDArray[np.float64],
             candidates: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """The dot products of a query row with the given (sorted) references."""
        scores = np.zeros(len(candidates), dtype=np.float64)
        for column, value in zip(columns.tolist(), values.tolist(), strict=True):
            start, end = int(self.indptr[column]), int(self.indptr[column + 1])
            if end == start:
                continue
            listed = self.references[start:end]
            at = np.minimum(np.searchsorted(listed, candidates), end - start - 1)
            present = listed[at] == candidates
            scores[present] += value * self.weights[start + at[present]]
        return scores

    def search(self, queries: SparseRows, k: int, threads: int) -> list[tuple[
            npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
        found = []
        for row in range(queries.shape[0]):
            columns, values = queries.row(row)
            starts = self.indptr[columns]
            lengths = self.indptr[columns + 1] - starts
            postings = ranges(starts, lengths)
            contributions = self.weights[postings] * np.repeat(values.astype(np.float64),
                                                               lengths)
            scores = np.bincount(self.references[postings], weights=contributions,
                                 minlength=self.count)
            candidates = np.flatnonzero(scores > 0.0)
            if len(candidates) > k:
                candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
            found.append((candidates.astype(np.int64), scores[candidates].astype(np.float64)))
        return found


class _NmslibSearch:
    """An nmslib index over the unit vectors (sparse, float32)."""

    def __init__(self, index: Any, space: str) -> None:
        self.index = index
        self.space = space

    @classmethod
    def build(cls, method: str, vectors: Any, index_params: Mapping[str, ParamValue],
              query_params: Mapping[str, ParamValue], threads: int) -> _NmslibSearch:
        nmslib = _nmslib()
        space = SPACES[method]
        index = nmslib.init(method=method, space=space, data_type=nmslib.DataType.SPARSE_VECTOR,
                            dtype=nmslib.DistType.FLOAT)
        index.addDataPointBatch(vectors)
        try:
            index.createIndex({**index_params, "indexThreadQty": threads}, print_progress=False)
            index.setQueryTimeParams(dict(query_params))
        except NMSLIB_ERRORS as error:
            raise ValueError(f"nmslib refused the {method} parameters {dict(index_params)} / "
                             f"{dict(query_params)}: {error}") from None
        return cls(index, space)

    @classmethod
    def load(cls, folder: Path, manifest: Manifest,
             overrides: Mapping[str, ParamValue]) -> _NmslibSearch:
        nmslib = _nmslib()
        space = SPACES[manifest.method]
        index = nmslib.init(method=manifest.method, space=space,
                            data_type=nmslib.DataType.SPARSE_VECTOR, dtype=nmslib.DistType.FLOAT)
        try:
            index.loadIndex(str(folder / NMSLIB_INDEX), load_data=True)
        except NMSLIB_ERRORS as error:
            raise IndexArtifactError(f"nmslib cannot load {folder / NMSLIB_INDEX}: "
                                     f"{error}") from None
        if len(index) != manifest.count:
            raise IndexArtifactError(f"{folder / NMSLIB_INDEX} holds {len(index)} vectors, the "
                                     f"manifest says {manifest.count}")
        try:
            index.setQueryTimeParams(dict(manifest.query_params))
        except NMSLIB_ERRORS as error:
            raise IndexArtifactError(f"nmslib refused the saved query_params "
                                     f"{manifest.query_params}: {error}") from None
        if overrides:
            _check_napp(manifest.index_params, {**manifest.query_params, **overrides})
            try:
                index.setQueryTimeParams({**manifest.query_params, **overrides})
            except NMSLIB_ERRORS as error:
                raise ValueError(f"nmslib refused query_params {dict(overrides)}: "
                                 f"{error}") from None
        return cls(index, space)

    def save(self, folder: Path) -> None:
        self.index.saveIndex(str(folder / NMSLIB_INDEX), save_data=True)

    def search(self, queries: SparseRows, k: int, threads: int) -> list[tuple[
            npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
        found = self.index.knnQueryBatch(queries, k=k, num_threads=threads)
        convert = _from_negdotprod if self.space.startswith("negdotprod") else _from_cosine
        return [(np.asarray(positions, dtype=np.int64), convert(distances))
                for positions, distances in found]


def _kept(frequency: npt.NDArray[np.int64], largest: npt.NDArray[np.float64], skip_bound: float,
          columns: npt.NDArray[np.int32], values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
    """The positions (sorted) of the query n-grams that a pruned search keeps: all but the most
    frequent ones whose left-out contribution to any reference's cosine is at most
    ``skip_bound`` (see ``_PrunedSearch``); at least one."""
    if skip_bound <= 0.0 or len(columns) < 2:
        return np.arange(len(columns))
    order = np.argsort(-frequency[columns], kind="stable")  # most frequent first
    query, most = values[order], largest[columns[order]]
    bound = np.minimum(np.cumsum(query * most),
                       np.sqrt(np.cumsum(query * query)
                               * np.minimum(1.0, np.cumsum(most * most))))
    skipped = min(int(np.searchsorted(bound, skip_bound, side="right")), len(columns) - 1)
    return np.sort(order[skipped:])


def _check_saved_pruning(manifest: Manifest) -> None:
    try:
        _check_pruning(manifest.method, manifest.query_params)
    except ValueError as error:
        raise IndexArtifactError(f"{MANIFEST}: {error}") from None


class _Pruning:
    """What the pruned methods share: a query leaves out the n-grams that barely matter.

    A query's frequent n-grams have long posting lists (" co", "ng ", "ion", ...) but a small
    weight (low idf), and they are most of an exhaustive search's work. The most frequent are
    left out of the candidate search as long as they could add at most ``skipBound`` to the
    cosine of ANY reference: for the left-out set S that is the smaller of
    sum(q_t * max_t) and |q_S| * min(1, |max_S|) (Cauchy-Schwarz), where max_t is the largest
    weight of n-gram t in any reference. The ``candidates`` best references on the kept n-grams
    are then scored with the whole query, so every score returned is the exact cosine. A true
    nearest reference is missed only when it is outside the candidates on the kept n-grams and
    gains nearly ``skipBound`` on the left-out ones. ``skipBound=0`` leaves nothing out: an
    exact search.
    """

    method: ClassVar[str]
    frequency: npt.NDArray[np.int64]  # per n-gram: how many references use it
    largest: npt.NDArray[np.float64]  # per n-gram: its largest weight in any reference
    candidates: int
    skip_bound: float

    def set_query_params(self, query_params: Mapping[str, ParamValue]) -> None:
        _check_pruning(self.method, query_params)
        self.candidates = int(query_params["candidates"])
        self.skip_bound = float(query_params["skipBound"])

    def kept(self, columns: npt.NDArray[np.int32],
             values: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """The positions of the query n-grams that the candidate search uses (at least one)."""
        return _kept(self.frequency, self.largest, self.skip_bound, columns, values)


def _top_k(candidates: npt.NDArray[Any], scores: npt.NDArray[np.float64],
           k: int) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64]]:
    """The k best candidates, and any tied with the k-th (the caller orders ties)."""
    if len(candidates) <= k:
        return candidates, scores
    kth = np.partition(scores, len(scores) - k)[len(scores) - k]
    best = scores >= kth
    return candidates[best], scores[best]


class _PrunedSearch(_Pruning, _ExactSearch):
    """The exact method's posting lists, searched with pruning (``_Pruning``).

    The kept n-grams' posting lists are summed (``bincount``); the best references on them are
    completed with their weights for the left-out n-grams (a binary search in each of those
    posting lists, which are sorted by reference).
    """

    method = "pruned"

    def __init__(self, indptr: npt.NDArray[np.int64], references: npt.NDArray[np.int32],
                 weights: npt.NDArray[np.float32], count: int,
                 query_params: Mapping[str, ParamValue]) -> None:
        super().__init__(indptr, references, weights, count)
        self.frequency = np.diff(indptr)
        self.largest = np.zeros(len(self.frequency), dtype=np.float64)
        used = np.flatnonzero(self.frequency)
        if len(used):
            self.largest[used] = np.maximum.reduceat(weights.astype(np.float64),
                                                     indptr[used])
        self.set_query_params(query_params)

    @classmethod
    def from_matrix(cls, vectors: Any,  # type: ignore[override]
                    query_params: Mapping[str, ParamValue]) -> _PrunedSearch:
        exact = _ExactSearch.from_matrix(vectors)
        return cls(exact.indptr, exact.references, exact.weights, exact.count, query_params)

    @classmethod
    def load(cls, path: Path, manifest: Manifest,  # type: ignore[override]
             overrides: Mapping[str, ParamValue]) -> _PrunedSearch:
        _check_saved_pruning(manifest)
        exact = _ExactSearch.load(path, manifest)
        # The completion step's binary searches need each posting list sorted by reference.
        descending = np.diff(exact.references) <= 0
        starts = exact.indptr[1:-1]
        descending[starts[(starts > 0) & (starts < len(exact.references))] - 1] = False
        if bool(np.any(descending)):
            raise IndexArtifactError(f"{path}: a posting list is not sorted by reference")
        search = cls(exact.indptr, exact.references, exact.weights, exact.count,
                     manifest.query_params)
        if overrides:
            search.set_query_params({**manifest.query_params, **overrides})
        return search

    @staticmethod
    def _best(partial: npt.NDArray[np.float64], references: npt.NDArray[np.int32], lists: int,
              wanted: int) -> npt.NDArray[np.integer[Any]]:
        """References with the ``wanted`` best partial scores, or more (ties, or all reached).

        ``references`` lists those reached by ``lists`` posting lists, rarest n-gram first.
        """
        if len(references) * 16 < len(partial):
            # Few postings: rank them. A reference is in at most `lists` of them, so the best
            # `wanted * lists` postings name at least the best `wanted` references.
            count = min(len(references), wanted * lists)
            top = np.argpartition(-partial[references], count - 1)[:count]
            return np.unique(references[top])
        # Many: any `wanted` references reached give a threshold (the lowest of their scores)
        # that the best `wanted` reach; those of the rarest n-grams give a high one, and one
        # pass over `partial` finds every reference above it.
        prefix = 4 * wanted
        while True:
            first = np.unique(references[:prefix])
            if len(first) >= wanted or prefix >= len(references):
                break
            prefix *= 2
        if len(first) < wanted:
            return first  # every reference reached
        scores = partial[first]
        threshold = np.partition(scores, len(scores) - wanted)[len(scores) - wanted]
        return np.flatnonzero(partial >= threshold)

    def search(self, queries: SparseRows, k: int, threads: int) -> list[tuple[
            npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
        wanted = max(self.candidates, k)
        found = []
        for row in range(queries.shape[0]):
            columns, raw = queries.row(row)
            values = raw.astype(np.float64)
            kept = self.kept(columns, values)
            kept = kept[np.argsort(self.frequency[columns[kept]], kind="stable")]  # rarest first
            spans = [(int(self.indptr[column]), int(self.indptr[column + 1]))
                     for column in columns[kept].tolist()]
            references = np.concatenate([self.references[start:end] for start, end in spans])
            contributions = np.concatenate([
                np.multiply(self.weights[start:end], value, dtype=np.float64)
                for (start, end), value in zip(spans, values[kept].tolist(), strict=True)])
            # The partial scores (kept n-grams only) of every reference they reach.
            partial = np.bincount(references, weights=contributions,
                                  minlength=self.count).astype(np.float64, copy=False)
            candidates = self._best(partial, references, len(kept), wanted)
            if len(candidates) > wanted:
                best = np.argpartition(-partial[candidates], wanted - 1)[:wanted]
                candidates = np.sort(candidates[best])
            scores = partial[candidates]
            for position in np.setdiff1d(np.arange(len(columns)), kept).tolist():
                # Complete the candidates' scores with the n-grams left out.
                start, end = (int(self.indptr[columns[position]]),
                              int(self.indptr[columns[position] + 1]))
                if end == start:
                    continue
                listed = self.references[start:end]
                at = np.minimum(np.searchsorted(listed, candidates), end - start - 1)
                present = listed[at] == candidates
                scores[present] += values[position] * self.weights[start + at[present]]
            candidates, scores = _top_k(candidates, scores, k)
            found.append((candidates.astype(np.int64), scores))
        return found


class _InvertedSearch(_Pruning):
    """nmslib's exact inverted index (``simple_invindx``) finding the candidates of a pruned
    query (``_Pruning``) by their partial dot product; they are re-scored with the whole query
    from the reference vectors kept here."""

    method = "invindex"

    def __init__(self, indptr: npt.NDArray[np.int64], columns: npt.NDArray[np.int32],
                 weights: npt.NDArray[np.float32], vocabulary_size: int,
                 query_params: Mapping[str, ParamValue], index: Any) -> None:
        self.indptr = indptr
        self.columns = columns
        self.weights = weights
        self.vocabulary_size = vocabulary_size
        self.index = index
        self.frequency = np.bincount(columns, minlength=vocabulary_size)
        self.largest = np.zeros(vocabulary_size, dtype=np.float64)
        np.maximum.at(self.largest, columns, weights.astype(np.float64))
        self.set_query_params(query_params)

    @classmethod
    def build(cls, vectors: Any, index_params: Mapping[str, ParamValue],
              query_params: Mapping[str, ParamValue]) -> _InvertedSearch:
        indptr = vectors.indptr.astype(np.int64)
        columns = vectors.indices.astype(np.int32)
        weights = vectors.data.astype(np.float32)
        index = cls._nmslib_index(indptr, columns, weights, vectors.shape)
        try:
            index.createIndex(dict(index_params), print_progress=False)
        except NMSLIB_ERRORS as error:
            raise ValueError(f"nmslib refused the invindex parameters {dict(index_params)}: "
                             f"{error}") from None
        return cls(indptr, columns, weights, vectors.shape[1], query_params, index)

    @classmethod
    def load(cls, path: Path, manifest: Manifest,
             overrides: Mapping[str, ParamValue]) -> _InvertedSearch:
        arrays = load_arrays(path, {"indptr": ("iu", 1), "columns": ("iu", 1),
                                    "weights": ("f", 1)})
        indptr, columns, weights = arrays["indptr"], arrays["columns"], arrays["weights"]
        check_offsets(path, "indptr", indptr, manifest.count, len(columns))
        if len(weights) != len(columns) or (len(columns) and (
                int(columns.min()) < 0 or int(columns.max()) >= manifest.vocabulary_size)) \
                or not bool(np.all(np.isfinite(weights))) \
                or bool(np.any(np.diff(indptr.astype(np.int64)) == 0)):
            raise IndexArtifactError(f"{path} does not hold the vectors of {manifest.count} "
                                     "references")
        _check_saved_pruning(manifest)
        indptr, columns = indptr.astype(np.int64), columns.astype(np.int32)
        weights = weights.astype(np.float32)
        index = cls._nmslib_index(indptr, columns, weights,
                                  (manifest.count, manifest.vocabulary_size))
        try:
            index.createIndex(dict(manifest.index_params), print_progress=False)
        except NMSLIB_ERRORS as error:
            raise IndexArtifactError(f"nmslib cannot index the vectors of {path}: "
                                     f"{error}") from None
        search = cls(indptr, columns, weights, manifest.vocabulary_size, manifest.query_params,
                     index)
        if overrides:
            search.set_query_params({**manifest.query_params, **overrides})
        return search

    @staticmethod
    def _nmslib_index(indptr: npt.NDArray[np.int64], columns: npt.NDArray[np.int32],
                      weights: npt.NDArray[np.float32], shape: tuple[int, int]) -> Any:
        nmslib = _nmslib()
        index = nmslib.init(method="simple_invindx", space=SPACES["invindex"],
                            data_type=nmslib.DataType.SPARSE_VECTOR, dtype=nmslib.DistType.FLOAT)
        index.addDataPointBatch(SparseRows(weights, columns, indptr, shape))
        return index

    def save(self, folder: Path) -> None:
        with (folder / ROWS).open("wb") as stream:
            np.savez(stream, indptr=self.indptr, columns=self.columns, weights=self.weights)

    def search(self, queries: SparseRows, k: int, threads: int) -> list[tuple[
            npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
        rows = [(columns, values.astype(np.float64))
                for columns, values in map(queries.row, range(queries.shape[0]))]
        kept = [self.kept(columns, values) for columns, values in rows]
        lengths = np.fromiter((len(positions) for positions in kept), dtype=np.int64,
                              count=len(kept))
        indptr = np.zeros(len(kept) + 1, dtype=np.int64)
        np.cumsum(lengths, out=indptr[1:])
        pruned = SparseRows(
            np.concatenate([values[positions] for (_, values), positions
                            in zip(rows, kept, strict=True)]).astype(np.float32),
            np.concatenate([columns[positions] for (columns, _), positions
                            in zip(rows, kept, strict=True)]).astype(np.int32),
            indptr, queries.shape)
        fetched = self.index.knnQueryBatch(pruned, k=max(self.candidates, k),
                                           num_threads=threads)
        dense = np.zeros(self.vocabulary_size, dtype=np.float64)
        found = []
        for (columns, values), (positions, _) in zip(rows, fetched, strict=True):
            candidates = np.asarray(positions, dtype=np.int64)
            dense[columns] = values
            scores = self.score(dense, candidates)
            dense[columns] = 0.0
            found.append(_top_k(candidates, scores, k))
        return found

    def dots(self, columns: npt.NDArray[np.int32], values: npt.NDArray[np.float64],
             candidates: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
        """The dot products of a query row with the given references."""
        dense = np.zeros(self.vocabulary_size, dtype=np.float64)
        dense[columns] = values
        return self.score(dense, candidates.astype(np.int64))

    def score(self, dense: npt.NDArray[np.float64],
              candidates: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """The dot products of a (dense) query with the given references' vectors."""
        if len(candidates) == 0:
            return np.zeros(0, dtype=np.float64)
        starts = self.indptr[candidates]
        lengths = self.indptr[candidates + 1] - starts
        positions = ranges(starts, lengths)
        products = dense[self.columns[positions]] * self.weights[positions]
        offsets = np.zeros(len(candidates), dtype=np.int64)
        np.cumsum(lengths[:-1], out=offsets[1:])
        scores: npt.NDArray[np.float64] = np.add.reduceat(products, offsets)
        return scores


def _from_cosine(distances: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    return 1.0 - np.asarray(distances, dtype=np.float64)


def _from_negdotprod(distances: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    return -np.asarray(distances, dtype=np.float64)


def _score(raw: float) -> float:
    """A cosine as reported: within [0, 1], rounded to 6 places (an identical name is 1.0)."""
    return round(min(max(raw, 0.0), 1.0), 6)


def _nmslib() -> ModuleType:
    """nmslib, imported on first use: an "exact" index never loads it."""
    return importlib.import_module("nmslib")


def _threads(threads: int | None) -> int:
    if threads is None:
        return os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive integer or None, not {threads!r}")
    return threads


def _references(ids: Sequence[str], names: Sequence[str]) -> tuple[list[str], list[str]]:
    for what, values in (("ids", ids), ("names", names)):
        if isinstance(values, str | bytes):
            raise TypeError(f"{what} must be a sequence of strings, not a single string")
    ids, names = list(ids), list(names)
    if len(ids) != len(names):
        raise ValueError(f"ids and names must have the same length ({len(ids)} ids, "
                         f"{len(names)} names)")
    if not ids:
        raise ValueError("an index needs at least one reference name")
    for what, values in (("ids", ids), ("names", names)):
        bad = [position for position, value in enumerate(values) if not isinstance(value, str)]
        if bad:
            raise TypeError(f"{what} must be strings; positions {bad[:5]} are not")
    blank = [position for position, value in enumerate(ids) if not value]
    if blank:
        raise ValueError(f"ids must not be empty; positions {blank[:5]} are")
    repeated = [value for value, times in Counter(ids).items() if times > 1]
    if repeated:
        raise ValueError(f"ids must be unique; {len(repeated)} repeat, e.g. {repeated[:5]}")
    return ids, names


def _params(params: Mapping[str, ParamValue] | None, what: str) -> dict[str, ParamValue]:
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise TypeError(f"{what} must be a mapping of nmslib parameters")
    checked: dict[str, ParamValue] = {}
    for key, value in params.items():
        if not isinstance(key, str) or isinstance(value, bool) \
                or not isinstance(value, int | float | str):
            raise ValueError(f"{what}: {key!r}={value!r} is not a parameter name with a "
                             "number or string value")
        checked[key] = value
    return checked


def _with_defaults(method: str, count: int, index_params: dict[str, ParamValue],
                   query_params: dict[str, ParamValue]) -> tuple[dict[str, ParamValue],
                                                                 dict[str, ParamValue]]:
    """The given parameters over the method's defaults (key by key)."""
    if method in PRUNED_METHODS:
        query_params = {**PRUNED_QUERY_PARAMS, **query_params}
        _check_pruning(method, query_params)
        return index_params, query_params
    if method == "sw-graph":
        return {**SW_GRAPH_INDEX_PARAMS, **index_params}, {**SW_GRAPH_QUERY_PARAMS,
                                                            **query_params}
    if method == "napp":
        index_params = {"numPivot": min(NAPP_PIVOTS, count - 1), **index_params}
        index_params.setdefault("numPivotIndex",
                                _capped(NAPP_PIVOTS_INDEXED, index_params["numPivot"]))
        query_params = {"numPivotSearch": _capped(NAPP_PIVOTS_SEARCHED,
                                                  index_params["numPivotIndex"]),
                        **query_params}
        _check_napp(index_params, query_params)
        return index_params, query_params
    return {}, {}


def _capped(default: int, limit: ParamValue) -> int:
    return min(default, limit) if isinstance(limit, int) else default


def _check_napp(index_params: Mapping[str, ParamValue],
                query_params: Mapping[str, ParamValue]) -> None:
    """NAPP finds nothing when a query must share more pivots than a reference keeps."""
    indexed, searched = index_params.get("numPivotIndex"), query_params.get("numPivotSearch")
    if isinstance(indexed, int) and isinstance(searched, int) and searched > indexed:
        raise ValueError(f"query_params: numPivotSearch ({searched}) must not exceed the "
                         f"index's numPivotIndex ({indexed}), or nothing is ever found")


def _check_pruning(method: str, query_params: Mapping[str, ParamValue]) -> None:
    """The query parameters of "pruned" and "invindex": known names, sensible values."""
    unknown = sorted(set(query_params) - set(PRUNED_QUERY_PARAMS))
    missing = sorted(set(PRUNED_QUERY_PARAMS) - set(query_params))
    if unknown or missing:
        raise ValueError(f"query_params: method {method!r} takes {sorted(PRUNED_QUERY_PARAMS)}"
                         f"; {unknown or missing} are not its parameters or are missing")
    candidates, bound = query_params["candidates"], query_params["skipBound"]
    if not isinstance(candidates, int) or not 1 <= candidates <= MAX_CANDIDATES:
        raise ValueError(f"query_params: candidates must be an integer from 1 to "
                         f"{MAX_CANDIDATES}, not {candidates!r}")
    if isinstance(bound, str) or not 0.0 <= bound < 1.0:
        raise ValueError(f"query_params: skipBound must be a number from 0 up to 1 (0: an "
                         f"exact search), not {bound!r}")


def _check_manifest(manifest: Manifest) -> None:
    """What the code needs from a manifest beyond its syntax."""
    if manifest.method not in METHODS:
        raise IndexArtifactError(f"{MANIFEST}: unknown method {manifest.method!r}")
    if manifest.space != SPACES.get(manifest.method):
        raise IndexArtifactError(f"{MANIFEST}: space {manifest.space!r} is not the one method "
                                 f"{manifest.method!r} uses")
    if manifest.normalizer_version != NORMALIZER_VERSION:
        raise IndexArtifactError(
            f"{MANIFEST}: the index was built with normalization version "
            f"{manifest.normalizer_version}, this code applies version {NORMALIZER_VERSION}; "
            "rebuild the index")
    if not NGRAM_RANGE[0] <= manifest.ngram <= NGRAM_RANGE[1] or manifest.count < 1 \
            or manifest.vocabulary_size < 1:
        raise IndexArtifactError(f"{MANIFEST}: impossible counts or n-gram size")


def _load_vocabulary(path: Path, size: int) -> list[str]:
    try:
        vocabulary = json.loads(path.read_bytes())
    except READ_ERRORS as error:
        raise IndexArtifactError(f"{path} is not readable JSON: {error}") from None
    if not isinstance(vocabulary, list) or len(vocabulary) != size \
            or not all(isinstance(gram, str) and gram for gram in vocabulary) \
            or len(set(vocabulary)) != size:
        raise IndexArtifactError(f"{path} is not a list of {size} distinct n-grams")
    return vocabulary


def _load_references(path: Path, count: int) -> tuple[StringTable, StringTable]:
    arrays = load_arrays(path, {"ids_utf8": ("u", 1), "ids_offsets": ("u", 1),
                                "names_utf8": ("u", 1), "names_offsets": ("u", 1)})
    tables = []
    for what in ("ids", "names"):
        utf8, offsets = arrays[f"{what}_utf8"], arrays[f"{what}_offsets"]
        if utf8.dtype != np.uint8:
            raise IndexArtifactError(f"{path}: {what}_utf8 is not bytes")
        check_offsets(path, f"{what}_offsets", offsets, count, len(utf8))
        tables.append(StringTable(utf8, offsets))
    return tables[0], tables[1]



def _load_initials(path: Path, count: int) -> InitialsTable:
    arrays = load_arrays(path, {"codes": ("i", 1), "positions": ("iu", 1)})
    codes, positions = arrays["codes"], arrays["positions"]
    if len(codes) != len(positions) or (len(codes) and (
            bool(np.any(np.diff(codes) < 0)) or int(positions.min()) < 0
            or int(positions.max()) >= count)):
        raise IndexArtifactError(f"{path} does not hold initials of {count} references")
    return InitialsTable(codes.astype(np.int64), positions.astype(np.int32))
