"""The entity-matching library: normalisation, TF-IDF, each search method, and the index folder."""

from __future__ import annotations

import dataclasses
import doctest
import json
import random
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import entity_matching
import numpy as np
import pytest
import scipy.sparse as sp
from entity_matching import EntityIndex, IndexArtifactError, Match, normalize
from entity_matching.artifacts import describe, write_manifest
from entity_matching.normalize import char_ngrams
from entity_matching.vectorize import SparseRows, fit

METHODS = ("exact", "pruned", "invindex", "sw-graph", "napp")
ROOT = Path(__file__).resolve().parents[2]

# ----------------------------------------------------------------------------- reference data

SURNAMES = ("Anderson", "Becker", "Castillo", "Dubois", "Eriksson", "Fischer", "García",
            "Hoffmann", "Ivanova", "Jansen", "Kowalski", "Larsen", "Müller", "Nakamura",
            "O'Connor", "Petrović", "Quintero", "Rossi", "Schröder", "Tanaka", "Ulrich",
            "Vásquez", "Weiß", "Yılmaz", "Zieliński", "Åberg", "Núñez", "Čapek", "Ørsted",
            "Lefèvre", "Brontë", "Søndergaard")
ADJECTIVES = ("Global", "United", "Northern", "Pacific", "Atlantic", "Blue", "Green", "Silver",
              "Golden", "Summit", "Pioneer", "Liberty", "Apex", "Vertex", "Quantum", "Coastal",
              "Alpine", "Royal", "Metro", "Prime")
NOUNS = ("Harbor", "Ridge", "Falcon", "Cedar", "Maple", "Orion", "Beacon", "Crescent",
         "Granite", "Horizon", "Meridian", "Sterling", "Willow", "Aurora", "Cobalt", "Everest")
INDUSTRIES = ("Bank", "Foods", "Logistics", "Energy", "Pharma", "Software", "Systems",
              "Motors", "Textiles", "Insurance", "Capital", "Holdings", "Industries",
              "Technologies", "Solutions", "Partners", "Media", "Airlines", "Shipping",
              "Mining", "Chemicals", "Electronics", "Robotics", "Analytics", "Consulting",
              "Construction", "Healthcare", "Beverages", "Apparel", "Trading")
SUFFIXES = ("Inc.", "LLC", "Ltd", "GmbH", "S.A.", "AG", "PLC", "Corp.", "Co.", "B.V.", "N.V.",
            "Pty Ltd", "Oy", "AB", "S.p.A.", "SARL", "K.K.", "LLP", "Limited", "Corporation",
            "Company", "Incorporated", "")


def repeatable(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (repeatable test data, not secrets)


def company_names(count: int, seed: int) -> list[str]:
    """Distinct company-like names, even without their legal forms or in another word order
    (the vectors ignore both)."""
    rng = repeatable(seed)
    names: list[str] = []
    cores: set[str] = set()
    while len(names) < count:
        pattern = rng.randrange(5)
        if pattern == 0:
            core = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(INDUSTRIES)}"
        elif pattern == 1:
            core = f"{rng.choice(SURNAMES)} {rng.choice(INDUSTRIES)}"
        elif pattern == 2:
            core = f"{rng.choice(SURNAMES)} & {rng.choice(SURNAMES)}"
        elif pattern == 3:
            core = f"{rng.choice(NOUNS)} {rng.choice(INDUSTRIES)}"
        else:
            core = f"{rng.choice(ADJECTIVES)} {rng.choice(SURNAMES)} {rng.choice(INDUSTRIES)}"
        key = " ".join(sorted(normalize(core).split()))
        if key in cores:
            continue
        cores.add(key)
        names.append(f"{core} {rng.choice(SUFFIXES)}".strip())
    return names


NAMES = company_names(400, seed=6)
IDS = [f"C{number:04d}" for number in range(len(NAMES))]
ID_OF = dict(zip(NAMES, IDS, strict=True))


def typo(name: str, number: int) -> str:
    """One edit (deletion, swap or substitution) inside the name's longest word."""
    words = name.split()
    longest = max(range(len(words)), key=lambda position: len(words[position]))
    word = words[longest]
    middle = len(word) // 2
    kind = number % 3
    if kind == 1 and word[middle - 1] != word[middle]:
        word = word[:middle - 1] + word[middle] + word[middle - 1] + word[middle + 1:]
    elif kind == 0:
        word = word[:middle] + word[middle + 1:]
    else:
        word = word[:middle] + ("x" if word[middle] != "x" else "z") + word[middle + 1:]
    words[longest] = word
    return " ".join(words)


def ascii_fold(name: str) -> str:
    return name.translate(str.maketrans({"ü": "u", "ö": "o", "ä": "a", "é": "e", "è": "e",
                                         "á": "a", "í": "i", "ñ": "n", "ú": "u", "ć": "c",
                                         "ń": "n", "Å": "A", "Č": "C", "Ø": "O", "ë": "e",
                                         "ø": "o", "ß": "ss", "ı": "i"}))


@pytest.fixture(scope="module", params=METHODS)
def saved(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> tuple[EntityIndex, EntityIndex, Path]:
    """(built index, the same index saved and loaded, its folder) for each method."""
    built = EntityIndex.build(IDS, NAMES, method=request.param, threads=2, rerank=False)
    folder = tmp_path_factory.mktemp(request.param)
    built.save(folder)
    return built, EntityIndex.load(folder, threads=2, rerank=False), folder


@pytest.fixture
def index(saved: tuple[EntityIndex, EntityIndex, Path]) -> EntityIndex:
    return saved[1]


@pytest.fixture
def folder_copy(saved: tuple[EntityIndex, EntityIndex, Path], tmp_path: Path) -> Path:
    """A copy of a saved index folder that a test may damage."""
    return Path(shutil.copytree(saved[2], tmp_path / "index"))


# ------------------------------------------------------------------------------ normalization

@pytest.mark.parametrize(("name", "expected"), [
    ("Société Générale", "societe generale"),
    ("Crème Brûlée Café", "creme brulee cafe"),
    ("Ørsted", "orsted"),
    ("Łódź Æther Œuvre", "lodz aether oeuvre"),
    ("Straße", "strasse"),
    ("ﬁnance ２４", "finance 24"),
    ("ACME", "acme"),
    ("aCmE hOlDiNgS", "acme holdings"),
    ("  Acme,\t(Holdings)!!  Group  ", "acme holdings group"),
    ("Acme-Holdings/Group_One", "acme holdings group one"),
    ("McDonald's", "mcdonalds"),
    ("McDonald’s", "mcdonalds"),
    ("Johnson & Johnson", "johnson and johnson"),
    ("U.S. Steel", "us steel"),
    ("Amazon.com", "amazon com"),
    ("Fund 1.5", "fund 1 5"),
    ("3M", "3m"),
])
def test_normalize_folds_accents_case_and_punctuation(name: str, expected: str) -> None:
    assert normalize(name) == expected


@pytest.mark.parametrize("suffix", [
    "Inc", "Inc.", "INC.", "Incorporated", "LLC", "L.L.C.", "L.L.C", "Ltd", "Ltd.", "Limited",
    "Corp", "Corp.", "Corporation", "Co", "Co.", "Company", "GmbH", "AG", "SA", "S.A.", "S. A.",
    "PLC", "P.L.C.", "LLP", "BV", "B.V.", "NV", "N.V.", "Pty", "Pty Ltd", "Pty. Ltd.", "Oy",
    "Oyj", "AB", "SpA", "S.p.A.", "SARL", "S.A.R.L.", "KK", "K.K.", "SE", "A/S", "ApS", "SAS",
    "SRL", "Ltda", "& Co.", "and Company", "GmbH & Co. KG", "Co., Ltd.", ", Inc.",
])
def test_each_legal_suffix_form_is_removed(suffix: str) -> None:
    separator = "" if suffix.startswith(",") else " "
    assert normalize(f"Nordwind Logistik{separator}{suffix}") == "nordwind logistik"


def test_legal_suffixes_are_kept_when_switched_off() -> None:
    assert normalize("Acme Inc.", strip_legal_suffixes=False) == "acme inc"
    assert normalize("Ferrari S.p.A.", strip_legal_suffixes=False) == "ferrari spa"
    assert normalize("Müller GmbH & Co. KG", strip_legal_suffixes=False) == \
        "muller gmbh and co kg"


def test_only_trailing_legal_forms_go_and_never_the_whole_name() -> None:
    assert normalize("Inc. Magazine Group") == "inc magazine group"
    assert normalize("Company of Heroes") == "company of heroes"
    assert normalize("AB Volvo") == "ab volvo"
    assert normalize("Inc.") == "inc"
    assert normalize("Company Limited") == "company"
    assert normalize("Smith & Co.") == "smith"


@pytest.mark.parametrize("name", ["", "   ", "!!!", "-- / --", "\t\n"])
def test_names_without_letters_or_digits_normalize_to_empty(name: str) -> None:
    assert normalize(name) == ""


def test_normalize_refuses_non_strings() -> None:
    with pytest.raises(TypeError, match="string"):
        normalize(None)  # type: ignore[arg-type]


def test_char_ngrams_pad_each_word() -> None:
    assert char_ngrams("acme", 3) == [" ac", "acm", "cme", "me "]
    assert char_ngrams("a bc", 3) == [" a ", " bc", "bc "]
    assert char_ngrams("acme bank", 3) == [*char_ngrams("acme", 3), *char_ngrams("bank", 3)]
    assert char_ngrams("ab", 2) == [" a", "ab", "b "]


# ---------------------------------------------------------------- TF-IDF without scikit-learn

def random_names(count: int, seed: int) -> list[str]:
    """Names of random words over letters (some accented), digits and punctuation."""
    rng = repeatable(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz" * 3 + "éüøñç0123456789"
    names = []
    for _ in range(count):
        words = ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
                 for _ in range(rng.randint(1, 4))]
        names.append(rng.choice(("", "The ")) + " ".join(words) + rng.choice(("", ", Inc.",
                                                                               " & Co", "!")))
    return names


def as_scipy(rows: SparseRows) -> sp.csr_matrix:
    return sp.csr_matrix((rows.data, rows.indices, rows.indptr), shape=rows.shape)


def assert_same_rows(ours: sp.csr_matrix, theirs: sp.csr_matrix) -> None:
    theirs = theirs.tocsr()
    theirs.sort_indices()
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(ours.indptr, theirs.indptr)
    np.testing.assert_array_equal(ours.indices, theirs.indices)
    np.testing.assert_allclose(ours.data, theirs.data, rtol=1e-12, atol=0)


@pytest.mark.parametrize(("ngram", "sublinear_tf"), [(3, True), (3, False), (2, True), (4, False)])
def test_query_transform_equals_scikit_learn(ngram: int, sublinear_tf: bool) -> None:
    references = [normalize(name) for name in random_names(300, seed=ngram)]
    references = [name for name in references if name]
    queries = [normalize(name) for name in random_names(300, seed=100 + ngram)]
    queries += [normalize(name) for name in NAMES[:50]] + ["qqqq zzzz", "ωμέγα"]

    fitted = fit(references, ngram=ngram, sublinear_tf=sublinear_tf)

    assert_same_rows(as_scipy(fitted.vectorizer.transform(references)), fitted.matrix)
    expected = fitted.sklearn_vectorizer.transform(queries)
    assert_same_rows(as_scipy(fitted.vectorizer.transform(queries)), expected)
    # Unknown grams are dropped, and a name with none known is an all-zero row, as in sklearn.
    assert expected[len(queries) - 1].nnz == 0


def test_query_transform_rows_are_unit_length() -> None:
    fitted = fit([normalize(name) for name in NAMES], ngram=3, sublinear_tf=True)
    rows = as_scipy(fitted.vectorizer.transform([normalize(name) for name in NAMES[:20]]))
    np.testing.assert_allclose(sp.linalg.norm(rows, axis=1), 1.0, rtol=1e-12)


# ------------------------------------------------------------------------------------ building

def test_build_save_load_roundtrip_keeps_everything(
        saved: tuple[EntityIndex, EntityIndex, Path]) -> None:
    built, loaded, folder = saved
    queries = [typo(name, number) for number, name in enumerate(NAMES[:60])]

    assert loaded.match_many(queries) == built.match_many(queries)
    assert len(loaded) == len(NAMES)
    assert list(loaded.ids) == IDS
    assert list(loaded.names) == NAMES
    manifest = loaded.manifest
    assert manifest == built.manifest
    assert manifest.method == built.method
    assert (manifest.count, manifest.ngram, manifest.strip_legal_suffixes) == (400, 3, True)
    assert json.loads((folder / "manifest.json").read_text()) == manifest.to_json()
    files = {path.name for path in folder.iterdir()} - {"manifest.json"}
    assert files == set(manifest.artifacts)
    for name, artifact in manifest.artifacts.items():
        assert describe(folder / name) == artifact


def test_default_parameters_are_recorded(saved: tuple[EntityIndex, EntityIndex, Path]) -> None:
    manifest = saved[1].manifest
    expected = {
        "exact": (None, {}, {}),
        "pruned": (None, {}, {"candidates": 100, "skipBound": 0.5}),
        "invindex": ("negdotprod_sparse_fast", {}, {"candidates": 100, "skipBound": 0.5}),
        "sw-graph": ("cosinesimil_sparse_fast", {"NN": 15, "efConstruction": 100},
                     {"efSearch": 100}),
        # numPivot must stay below the number of references (400 here).
        "napp": ("negdotprod_sparse_fast", {"numPivot": 399, "numPivotIndex": 32},
                 {"numPivotSearch": 2}),
    }[manifest.method]
    assert (manifest.space, manifest.index_params, manifest.query_params) == expected
    assert set(manifest.versions) >= {"numpy", "scikit-learn"}


def test_saving_another_method_into_a_folder_replaces_the_old_index(tmp_path: Path) -> None:
    EntityIndex.build(IDS, NAMES, method="sw-graph").save(tmp_path)
    EntityIndex.build(IDS, NAMES, method="exact").save(tmp_path)

    assert not (tmp_path / "index.bin").exists()
    assert EntityIndex.load(tmp_path).method == "exact"


# ------------------------------------------------------------------------------------ matching

def test_exact_names_match_with_score_one(index: EntityIndex) -> None:
    found = index.match_many(NAMES, k=1)

    assert [matches[0].id for matches in found] == IDS
    assert all(matches[0].score == 1.0 for matches in found)
    assert found[0][0] == Match(IDS[0], NAMES[0], 1.0)


@pytest.mark.parametrize("variant", [str.upper, str.lower, str.title, ascii_fold])
def test_case_and_accent_variants_match(index: EntityIndex,
                                       variant: Callable[[str], str]) -> None:
    found = index.match_many([variant(name) for name in NAMES], k=1)

    assert [matches[0].id for matches in found] == IDS
    assert all(matches[0].score == 1.0 for matches in found)


def test_legal_suffix_variants_match(index: EntityIndex) -> None:
    rng = repeatable(3)
    cores = [normalize(name, strip_legal_suffixes=True) for name in NAMES]
    queries = [f"{core} {rng.choice(('Inc', 'GmbH', 'S.A.', 'Ltd.', 'Co., Ltd.', ''))}"
               for core in cores]

    found = index.match_many(queries, k=1)

    assert [matches[0].id for matches in found] == IDS
    assert all(matches[0].score == 1.0 for matches in found)


def test_typos_find_the_right_entity(index: EntityIndex) -> None:
    queries = [typo(name, number) for number, name in enumerate(NAMES)]
    assert all(query != name for query, name in zip(queries, NAMES, strict=True))

    found = index.match_many(queries, k=3)

    top1 = np.mean([matches[0].id == IDS[n] for n, matches in enumerate(found) if matches])
    top3 = np.mean([IDS[n] in {m.id for m in matches} for n, matches in enumerate(found)])
    assert top1 >= 0.95
    assert top3 >= 0.98


def test_approximate_methods_agree_with_exact(index: EntityIndex) -> None:
    exact = EntityIndex.build(IDS, NAMES, method="exact")
    queries = [typo(name, number) for number, name in enumerate(NAMES)]

    ours = [matches[0].id for matches in index.match_many(queries, k=1)]
    baseline = [matches[0].id for matches in exact.match_many(queries, k=1)]

    assert np.mean([a == b for a, b in zip(ours, baseline, strict=True)]) >= 0.97


def test_scores_are_cosines_in_order(index: EntityIndex) -> None:
    queries = [typo(name, number) for number, name in enumerate(NAMES[:100])]
    queries += ["Global Bank", "Müller", "Harbor", "zz top", "Acme"]

    for matches in index.match_many(queries, k=5):
        scores = [match.score for match in matches]
        assert len(matches) <= 5
        assert all(0.0 < score <= 1.0 for score in scores)
        assert scores == sorted(scores, reverse=True)
        assert len({match.id for match in matches}) == len(matches)


def test_min_score_filters_matches(index: EntityIndex) -> None:
    query = typo(NAMES[0], 0)
    close = index.match(query, k=5)

    assert close
    assert close[0].score < 1.0
    assert index.match(query, k=5, min_score=1.0) == []
    assert index.match(query, k=5, min_score=close[0].score) == close[:1]
    assert all(match.score >= 0.5 for match in index.match(query, k=5, min_score=0.5))


def test_names_sharing_no_ngram_match_nothing(index: EntityIndex) -> None:
    # Every gram unknown: a zero vector, which nmslib's cosine space would call identical.
    assert index.match("Ωμέγα Ψ") == []
    assert index.match_many(["Ωμέγα", NAMES[1]], k=1)[0] == []


def test_match_many_equals_match_one_by_one(index: EntityIndex) -> None:
    queries = [typo(name, number) for number, name in enumerate(NAMES[::7])] + ["Ωμέγα"]

    assert index.match_many(queries, k=3) == [index.match(query, k=3) for query in queries]
    assert index.match_many(queries, k=2, min_score=0.6) == \
        [index.match(query, k=2, min_score=0.6) for query in queries]
    assert index.match_many([]) == []


def test_k_is_capped_by_the_reference_count() -> None:
    small = EntityIndex.build(["a", "b"], ["Acme Bank", "Acme Foods"], method="exact")

    assert [match.id for match in small.match("Acme", k=10)] == ["a", "b"]


@pytest.mark.parametrize("method", METHODS)
def test_repeated_names_are_separate_entities_in_reference_order(method: str) -> None:
    ids = [*IDS[:50], "dup-1", "dup-2"]
    names = [*NAMES[:50], "Zephyr Analytics Inc.", "ZEPHYR ANALYTICS LTD"]
    index = EntityIndex.build(ids, names, method=method)

    found = index.match("Zephyr Analytics", k=2, rerank=False)
    reranked = index.match("Zephyr Analytics", k=2)

    assert [(match.id, match.score) for match in found] == [("dup-1", 1.0), ("dup-2", 1.0)]
    # The re-ranker cannot tell them apart either: equal (and so unsure) scores.
    assert [match.id for match in reranked] == ["dup-1", "dup-2"]
    assert reranked[0].score == reranked[1].score


@pytest.mark.parametrize("name", ["", "   ", "!!!", "-/-"])
def test_names_without_letters_are_refused(index: EntityIndex, name: str) -> None:
    with pytest.raises(ValueError, match="no letter or digit"):
        index.match(name)
    with pytest.raises(ValueError, match=r"positions \[1\]"):
        index.match_many([NAMES[0], name])


def test_query_arguments_are_checked(index: EntityIndex) -> None:
    with pytest.raises(ValueError, match="k must be"):
        index.match(NAMES[0], k=0)
    with pytest.raises(ValueError, match="min_score"):
        index.match(NAMES[0], min_score=1.5)
    with pytest.raises(TypeError, match="single string"):
        index.match_many(NAMES[0])
    with pytest.raises(TypeError, match="must be a string"):
        index.match(None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"ids": ["a", "b", "a", "c"]}, "ids must be unique"),
    ({"ids": ["a", "", "b", "c"]}, "ids must not be empty"),
    ({"names": ["Acme", "!!!", "Globex", "Initech"]}, "no letter or digit"),
    ({"ids": ["a", "b"]}, "same length"),
    ({"ids": [], "names": []}, "at least one"),
    ({"method": "hnsw"}, "method must be one of"),
    ({"ngram": 1}, "ngram must be"),
    ({"ngram": 6}, "ngram must be"),
    ({"method": "exact", "query_params": {"efSearch": 10}}, "takes no"),
    ({"index_params": {"indexThreadQty": 4}}, "threads="),
    ({"index_params": {"NN": [1]}}, "not a parameter name"),
    ({"method": "sw-graph", "index_params": {"bogus": 1}}, "nmslib refused"),
    ({"method": "invindex", "index_params": {"bogus": 1}}, "nmslib refused"),
    ({"index_params": {"NN": 10}}, "takes no index_params"),
    ({"method": "napp", "query_params": {"numPivotSearch": 40}}, "numPivotSearch"),
    ({"threads": 0}, "threads must be"),
])
def test_build_refuses_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"ids": ["a", "b", "c", "d"],
                                    "names": ["Acme", "Globex", "Initech", "Umbrella"]}
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        EntityIndex.build(**arguments)  # type: ignore[arg-type]


def test_build_refuses_non_string_names() -> None:
    with pytest.raises(TypeError, match=r"positions \[1\]"):
        EntityIndex.build(["a", "b"], ["Acme", None])  # type: ignore[list-item]


def test_legal_suffix_switch_is_saved_and_applied(tmp_path: Path) -> None:
    EntityIndex.build(["a", "b"], ["Acme Inc.", "Acme Ltd"], method="exact",
                      strip_legal_suffixes=False).save(tmp_path)
    index = EntityIndex.load(tmp_path)

    assert index.strip_legal_suffixes is False
    assert index.match("Acme Ltd", k=1)[0].id == "b"
    assert index.match("Acme Ltd", k=1, rerank=False)[0].score == 1.0


def test_query_params_can_be_overridden_on_load(tmp_path: Path) -> None:
    EntityIndex.build(IDS, NAMES, method="sw-graph").save(tmp_path / "graph")
    EntityIndex.build(IDS, NAMES, method="napp").save(tmp_path / "napp")

    tuned = EntityIndex.load(tmp_path / "graph", query_params={"efSearch": 200})

    assert tuned.manifest.query_params == {"efSearch": 200}
    assert tuned.match(NAMES[0], k=1)[0].id == IDS[0]
    with pytest.raises(ValueError, match="nmslib refused"):
        EntityIndex.load(tmp_path / "graph", query_params={"efSearchh": 200})
    with pytest.raises(ValueError, match="numPivotSearch"):
        EntityIndex.load(tmp_path / "napp", query_params={"numPivotSearch": 33})


# ----------------------------------------------------- "pruned" and "invindex": pruned search

PRUNED = ("pruned", "invindex")


def test_the_default_method_is_the_pruned_search() -> None:
    index = EntityIndex.build(IDS, NAMES)

    assert index.method == "pruned"
    assert index.manifest.query_params == {"candidates": 100, "skipBound": 0.5}


@pytest.mark.parametrize("method", PRUNED)
def test_the_skipped_ngrams_never_add_more_than_the_bound(method: str) -> None:
    index = EntityIndex.build(IDS, NAMES, method=method, query_params={"skipBound": 0.4})
    search = index._search  # the backend, to see which n-grams a query leaves out
    fitted = fit([normalize(name) for name in NAMES], ngram=3, sublinear_tf=True)
    references = fitted.matrix
    queries = [typo(name, number) for number, name in enumerate(NAMES[:150])]
    queries += ["Global Holdings", "Anderson & Becker", "Pacific Harbor Bank", "Acme"]
    rows = index._vectorizer.transform([normalize(query) for query in queries])

    pruned = 0
    for row in range(len(queries)):
        columns, values = rows.row(row)
        kept = search.kept(columns, values.astype(np.float64))
        skipped = np.setdiff1d(np.arange(len(columns)), kept)
        assert len(kept) >= 1
        query = np.zeros(references.shape[1])
        query[columns[skipped]] = values[skipped]
        assert float((references @ query).max()) <= 0.4 + 1e-9
        pruned += len(skipped) > 0
    assert pruned > len(queries) // 2  # the bound does leave n-grams out


@pytest.mark.parametrize("method", PRUNED)
def test_with_a_zero_bound_the_pruned_search_is_exact(method: str) -> None:
    exact = EntityIndex.build(IDS, NAMES, method="exact")
    index = EntityIndex.build(IDS, NAMES, method=method,
                              query_params={"skipBound": 0, "candidates": 5})
    queries = [typo(name, number) for number, name in enumerate(NAMES)]
    queries += ["Global Holdings", "Anderson", "Bank"]

    assert index.match_many(queries, k=5) == exact.match_many(queries, k=5)


@pytest.mark.parametrize("method", PRUNED)
def test_the_pruned_search_scores_are_exact_cosines(method: str) -> None:
    exact = EntityIndex.build(IDS, NAMES, method="exact", rerank=False)
    index = EntityIndex.build(IDS, NAMES, method=method, rerank=False)
    queries = [typo(name, number) for number, name in enumerate(NAMES[:100])]

    for ours, everything in zip(index.match_many(queries, k=3),
                                exact.match_many(queries, k=len(NAMES)), strict=True):
        scores = {match.id: match.score for match in everything}
        assert ours
        assert all(match.score == scores[match.id] for match in ours)


@pytest.mark.parametrize("method", PRUNED)
@pytest.mark.parametrize(("query_params", "message"), [
    ({"efSearch": 10}, "not its parameters"),
    ({"candidates": 0}, "candidates must be"),
    ({"candidates": 10_001}, "candidates must be"),
    ({"candidates": 2.5}, "candidates must be"),
    ({"skipBound": 1.0}, "skipBound must be"),
    ({"skipBound": -0.1}, "skipBound must be"),
    ({"skipBound": "high"}, "skipBound must be"),
])
def test_pruned_query_params_are_checked(tmp_path: Path, method: str,
                                         query_params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EntityIndex.build(IDS[:20], NAMES[:20], method=method,
                          query_params=query_params)  # type: ignore[arg-type]
    EntityIndex.build(IDS[:20], NAMES[:20], method=method).save(tmp_path)
    with pytest.raises(ValueError, match=message):
        EntityIndex.load(tmp_path, query_params=query_params)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", PRUNED)
def test_pruned_query_params_can_be_tuned_on_load(tmp_path: Path, method: str) -> None:
    EntityIndex.build(IDS, NAMES, method=method).save(tmp_path)

    tuned = EntityIndex.load(tmp_path, query_params={"skipBound": 0.5})

    assert tuned.manifest.query_params == {"candidates": 100, "skipBound": 0.5}
    assert tuned.match(NAMES[3], k=1)[0].id == IDS[3]


@pytest.mark.parametrize("method", PRUNED)
def test_a_pruned_index_with_impossible_saved_params_is_refused(tmp_path: Path,
                                                                method: str) -> None:
    EntityIndex.build(IDS, NAMES, method=method).save(tmp_path)
    rewrite_manifest(tmp_path, query_params={"candidates": 0, "skipBound": 0.3})

    with pytest.raises(IndexArtifactError, match="candidates"):
        EntityIndex.load(tmp_path, verify=False)


# ------------------------------------------------------------------------ the index on disk

def artifact_files(folder: Path) -> list[str]:
    return sorted(json.loads((folder / "manifest.json").read_text())["artifacts"])


def rewrite_manifest(folder: Path, **changes: object) -> None:
    manifest = EntityIndex.load(folder, verify=False).manifest
    document = {**manifest.to_json(), **changes}
    (folder / "manifest.json").write_text(json.dumps(document))


def test_an_interrupted_save_leaves_a_folder_that_does_not_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    EntityIndex.build(IDS, NAMES, method="exact").save(tmp_path)
    index = EntityIndex.build(IDS[:10], NAMES[:10], method="exact")

    def fail(self: object, folder: Path) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("entity_matching.index._ExactSearch.save", fail)
    with pytest.raises(OSError, match="disk full"):
        index.save(tmp_path)

    with pytest.raises(IndexArtifactError, match="no manifest"):
        EntityIndex.load(tmp_path)


@pytest.mark.parametrize("verify", [True, False])
def test_missing_files_are_refused(folder_copy: Path, verify: bool) -> None:
    for name in [*artifact_files(folder_copy), "manifest.json"]:
        damaged = Path(shutil.copytree(folder_copy, folder_copy.parent / f"missing-{name}"))
        (damaged / name).unlink()
        with pytest.raises(IndexArtifactError, match=r"missing|no manifest"):
            EntityIndex.load(damaged, verify=verify)


@pytest.mark.parametrize("verify", [True, False])
def test_truncated_files_are_refused(folder_copy: Path, verify: bool) -> None:
    for name in artifact_files(folder_copy):
        damaged = Path(shutil.copytree(folder_copy, folder_copy.parent / f"cut-{name}"))
        data = (damaged / name).read_bytes()
        (damaged / name).write_bytes(data[:len(data) // 2])
        with pytest.raises(IndexArtifactError, match="truncated"):
            EntityIndex.load(damaged, verify=verify)


def test_corrupt_files_are_refused_before_they_are_parsed(folder_copy: Path) -> None:
    for name in artifact_files(folder_copy):
        damaged = Path(shutil.copytree(folder_copy, folder_copy.parent / f"bad-{name}"))
        data = bytearray((damaged / name).read_bytes())
        for position in range(0, len(data), max(1, len(data) // 7)):
            data[position] ^= 0xFF
        (damaged / name).write_bytes(bytes(data))
        with pytest.raises(IndexArtifactError, match="sha256"):
            EntityIndex.load(damaged)


@pytest.mark.parametrize("text", ["", "{", "[]", '{"format": "something else"}', "\x00\xff"])
def test_an_unreadable_manifest_is_refused(folder_copy: Path, text: str) -> None:
    (folder_copy / "manifest.json").write_text(text, encoding="latin-1")

    with pytest.raises(IndexArtifactError, match=r"manifest\.json"):
        EntityIndex.load(folder_copy)


@pytest.mark.parametrize("changes", [
    {"format_version": 99},
    {"method": "hnsw"},
    {"space": "l2_sparse"},
    {"count": 401},
    {"count": -1},
    {"vocabulary_size": 10},
    {"normalization": {"strip_legal_suffixes": True, "version": 99}},
    {"ngrams": {"n": 3, "padding": "none", "analyzer": "char"}},
    {"index_params": {"NN": None}},
])
def test_an_inconsistent_manifest_is_refused(folder_copy: Path,
                                             changes: dict[str, object]) -> None:
    rewrite_manifest(folder_copy, **changes)

    with pytest.raises(IndexArtifactError):
        EntityIndex.load(folder_copy)


def test_a_manifest_listing_other_files_is_refused(folder_copy: Path) -> None:
    manifest = EntityIndex.load(folder_copy).manifest
    (folder_copy / "extra.bin").write_bytes(b"x")
    listed = {**manifest.artifacts, "../extra.bin": describe(folder_copy / "extra.bin")}
    write_manifest(folder_copy, dataclasses.replace(manifest, artifacts=listed))

    with pytest.raises(IndexArtifactError, match="wrong files"):
        EntityIndex.load(folder_copy)


def test_files_of_another_index_are_refused_even_with_matching_checksums(
        folder_copy: Path, saved: tuple[EntityIndex, EntityIndex, Path], tmp_path: Path) -> None:
    method = saved[0].method
    other = tmp_path / "other"
    EntityIndex.build(IDS[:200], NAMES[:200], method=method).save(other)
    manifest = EntityIndex.load(folder_copy).manifest
    for name in artifact_files(folder_copy):
        if name in ("vocabulary.json", "idf.npy", "index.bin", "initials.npz"):
            # A vocabulary of the same size, or an nmslib graph or initials over fewer
            # references, cannot be told from the right one without its checksum: the manifest
            # is the trust root.
            continue
        shutil.copy(other / name, folder_copy / name)
        listed = {**manifest.artifacts, name: describe(folder_copy / name)}
        write_manifest(folder_copy, dataclasses.replace(manifest, artifacts=listed))
        with pytest.raises(IndexArtifactError):
            EntityIndex.load(folder_copy)
        shutil.copy(saved[2] / name, folder_copy / name)


# ------------------------------------------------------------------- imports and documentation

def test_the_query_path_imports_neither_scikit_learn_nor_scipy(
        saved: tuple[EntityIndex, EntityIndex, Path]) -> None:
    method, folder = saved[0].method, saved[2]
    script = textwrap.dedent(f"""
        import json, sys
        from entity_matching import EntityIndex
        found = EntityIndex.load({str(folder)!r}).match({NAMES[5]!r})
        loaded = sorted({{name.split(".")[0] for name in sys.modules}}
                        & {{"sklearn", "scipy", "nmslib"}})
        print(json.dumps([found[0].id, loaded]))
    """)
    result = subprocess.run(  # noqa: S603 (this interpreter, a script of this test)
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "functions")})

    found, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert found == IDS[5]
    assert loaded == ([] if method in ("exact", "pruned") else ["nmslib"])


def test_the_documented_example_runs(tmp_path: Path) -> None:
    result = doctest.testmod(entity_matching, extraglobs={"folder": str(tmp_path)},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0

