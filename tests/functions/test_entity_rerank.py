"""The re-ranker: word-level rules, hand-written cases, calibrated scores, old indexes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from entity_matching import EntityIndex
from entity_matching.artifacts import write_manifest
from entity_matching.index import INITIALS
from entity_matching.rerank import (
    InitialsTable,
    initials_code,
    initials_codes,
    is_abbreviation,
    probabilities,
    split_name,
    within_edits,
)

MIN_SCORE = 0.5  # the service's default

# Real-looking references with near neighbours for each case below.
REFERENCES = (
    "International Business Machines Corp", "International Paper Company",
    "International Flavors & Fragrances Inc", "Intel Corporation", "IBM Credit Union",
    "Paper Source LLC", "Business Machines Leasing Ltd", "Pacific Granite Energy Inc",
    "Pacific Gas Partners LLC", "Granite Energy Holdings", "Acme Manufacturing GmbH",
    "Acme Media LLC", "Acme Inc", "Acme GmbH", "Smith & Jones LLC", "Smith Logistics Ltd",
    "Jones Capital Partners", "Johnson & Johnson", "Procter & Gamble Co",
    "General Electric Company", "General Motors Corporation", "Northern Trust Corp",
    "Brothers Grimm Bakery", "Miller Brothers Construction Inc", "Miller Construction Co",
    "United Parcel Service Inc", "United States Steel Corporation", "Bank of America Corp",
    "American Express Company", "National Semiconductor Corp", "Texas Instruments Inc",
    "Zorvani Logistics Group", "Vantrix Software Systems", "Kestrel Analytics Ltd",
)
IDS = tuple(f"r{position}" for position in range(len(REFERENCES)))


@pytest.fixture(scope="module")
def index() -> EntityIndex:
    return EntityIndex.build(IDS, REFERENCES)


def best(index: EntityIndex, name: str) -> tuple[str | None, float]:
    found = index.match(name, k=3)
    return (found[0].name, found[0].score) if found else (None, 0.0)


# ---------------------------------------------------------------------------------- the rules

@pytest.mark.parametrize(("short", "long"), [
    ("intl", "international"), ("mfg", "manufacturing"), ("bros", "brothers"),
    ("natl", "national"), ("svcs", "services"), ("mgmt", "management"), ("corp", "corporation"),
])
def test_contractions_and_prefixes_are_abbreviations(short: str, long: str) -> None:
    assert is_abbreviation(short, long)


@pytest.mark.parametrize(("short", "long"), [
    ("ltni", "international"), ("nfg", "manufacturing"), ("international", "intl"),
    ("x", "xylophone"), ("m3g", "manufacturing"),
])
def test_other_letters_are_not(short: str, long: str) -> None:
    assert not is_abbreviation(short, long)


def test_edit_distance_is_bounded_and_counts_transpositions_once() -> None:
    assert within_edits("vantrix", "vantrix", 1) == 0
    assert within_edits("vantrix", "vnatrix", 1) == 1
    assert within_edits("vantrix", "vantrx", 1) == 1
    assert within_edits("vantrix", "zorvani", 2) == -1
    assert within_edits("ab", "abcd", 1) == -1


def test_names_split_into_words_initials_and_canonical_legal_forms() -> None:
    assert split_name("S&J Logistics Co., Ltd.") == (["sj", "logistics"],
                                                      frozenset({"co", "ltd"}))
    assert split_name("I.B.M. Corporation") == (["ibm"], frozenset({"corp"}))
    assert split_name("Smith + Jones") == (["smith", "and", "jones"], frozenset())


def test_initials_of_the_leading_words_are_indexed() -> None:
    assert initials_codes(["international", "business", "machines"]) == [
        initials_code("ib"), initials_code("ibm")]
    assert initials_codes(["bank", "of", "america"]) == [initials_code("ba")]
    assert initials_code("a") == initials_code("abcde") == initials_code("a-b") == -1
    table = InitialsTable.build(["pacific granite energy", "pacific gas partners", "acme"])
    assert table.lookup(initials_code("pg")).tolist() == [0, 1]
    assert table.lookup(initials_code("pge")).tolist() == [0]
    assert table.lookup(initials_code("zz")).tolist() == []


def test_probabilities_stay_in_the_unit_interval_and_fall_with_a_close_runner_up() -> None:
    alone = probabilities([5.0])[0]
    contested = probabilities([5.0, 4.9])[0]
    assert 0.0 < contested < alone < 1.0
    assert all(0.0 <= value <= 1.0 for value in probabilities([-50.0, 0.0, 50.0]))


# -------------------------------------------------------------------------- hand-written cases

@pytest.mark.parametrize(("query", "expected"), [
    ("IBM", "International Business Machines Corp"),
    ("I.B.M. Corp", "International Business Machines Corp"),
    ("PG Energy", "Pacific Granite Energy Inc"),
    ("UPS", "United Parcel Service Inc"),
])
def test_initials_find_their_entity(index: EntityIndex, query: str, expected: str) -> None:
    assert best(index, query)[0] == expected


@pytest.mark.parametrize(("query", "expected"), [
    ("Intl Paper", "International Paper Company"),
    ("Int'l Flavors and Fragrances", "International Flavors & Fragrances Inc"),
    ("Acme Mfg", "Acme Manufacturing GmbH"),
    ("Miller Bros Construction", "Miller Brothers Construction Inc"),
    ("Natl Semiconductor", "National Semiconductor Corp"),
    ("Texas Instr", "Texas Instruments Inc"),
])
def test_abbreviations_find_their_entity(index: EntityIndex, query: str, expected: str) -> None:
    found = index.match(query, k=2)
    assert found[0].name == expected
    # "Acme Mfg" might still be "Acme Inc" (a word added): right, but not always confident.
    assert found[0].score >= MIN_SCORE or found[0].score > 2 * found[1].score


@pytest.mark.parametrize("query", ["Smith and Jones", "Smith & Jones", "Smith + Jones",
                                   "Jones & Smith LLC"])
def test_ampersand_and_plus_are_the_word_and_in_any_order(index: EntityIndex,
                                                          query: str) -> None:
    name, score = best(index, query)
    assert name == "Smith & Jones LLC"
    assert score >= MIN_SCORE


def test_word_order_does_not_matter(index: EntityIndex) -> None:
    assert best(index, "Machines International Business")[0] == (
        "International Business Machines Corp")
    assert best(index, "Logistics Zorvani Group")[0] == "Zorvani Logistics Group"


def test_a_legal_form_is_weak_evidence_between_otherwise_equal_names(
        index: EntityIndex) -> None:
    # "Acme Inc" and "Acme GmbH" are the same name to the n-grams (legal forms stripped).
    assert best(index, "ACME Incorporated")[0] == "Acme Inc"
    assert best(index, "Acme G.m.b.H.")[0] == "Acme GmbH"
    assert index.match("Acme Incorporated", k=2, rerank=False)[0].score == \
        index.match("Acme Incorporated", k=2, rerank=False)[1].score
    # ... and only weak: it does not outweigh the words.
    assert best(index, "Acme Manufacturing Inc")[0] == "Acme Manufacturing GmbH"


def test_typos_still_match_with_confidence(index: EntityIndex) -> None:
    name, score = best(index, "Vantrix Sofware Sytems")
    assert name == "Vantrix Software Systems"
    assert score >= MIN_SCORE


@pytest.mark.parametrize("stranger", ["Quillfeather Orchards", "Brightwater Dental Clinic",
                                      "Okonkwo Textiles", "Machines", "Paper", "Energy Partners"])
def test_strangers_score_below_the_default_min_score(index: EntityIndex, stranger: str) -> None:
    assert index.match(stranger, k=3, min_score=MIN_SCORE) == []
    assert all(match.score < MIN_SCORE for match in index.match(stranger, k=3))


def test_scores_are_probabilities_best_first(index: EntityIndex) -> None:
    found = index.match("International", k=10)
    assert all(0.0 < match.score <= 1.0 for match in found)
    assert [match.score for match in found] == sorted((match.score for match in found),
                                                      reverse=True)


# ------------------------------------------------------------------------------ the switch

def test_rerank_false_answers_the_cosine_as_before(index: EntityIndex) -> None:
    plain = EntityIndex.build(IDS, REFERENCES, rerank=False)
    assert not plain.rerank
    assert index.rerank
    assert plain.match("Acme Manufacturing GmbH", k=1)[0].score == 1.0
    assert plain.match_many(["Intl Paper"], k=2) == index.match_many(["Intl Paper"], k=2,
                                                                     rerank=False)
    with pytest.raises(TypeError):
        index.match("Acme", rerank="yes")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["exact", "pruned", "invindex"])
def test_saved_indexes_keep_their_initials(tmp_path: Path, method: str) -> None:
    built = EntityIndex.build(IDS, REFERENCES, method=method)
    manifest = built.save(tmp_path)
    assert INITIALS in manifest.artifacts
    loaded = EntityIndex.load(tmp_path)
    assert best(loaded, "IBM") == best(built, "IBM")
    assert best(loaded, "IBM")[0] == "International Business Machines Corp"
    assert EntityIndex.load(tmp_path, rerank=False).rerank is False


def test_an_index_saved_before_the_re_ranker_loads_and_re_ranks(tmp_path: Path) -> None:
    manifest = EntityIndex.build(IDS, REFERENCES).save(tmp_path)
    (tmp_path / INITIALS).unlink()
    artifacts = {name: value for name, value in manifest.artifacts.items() if name != INITIALS}
    write_manifest(tmp_path, dataclasses.replace(manifest, artifacts=artifacts))

    old = EntityIndex.load(tmp_path)

    assert best(old, "Intl Paper")[0] == "International Paper Company"
    assert best(old, "Natl Semiconductor")[0] == "National Semiconductor Corp"


def test_match_many_re_ranks_like_match(index: EntityIndex) -> None:
    names = ["IBM", "Intl Paper", "Smith + Jones", "Quillfeather Orchards"]
    assert index.match_many(names, k=2) == [index.match(name, k=2) for name in names]
