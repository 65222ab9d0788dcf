"""The second stage: the first stage's candidates re-scored with word-level evidence.

Character n-grams see "Intl" and "International" as nearly unrelated, "PG" and "Pacific Granite"
as strangers, and legal forms as noise. This module aligns the words of a query with those of
each candidate and turns the alignment into a probability that the candidate is the query's
entity. Everything here is rules (no word lists beyond connectors and legal forms) and a dozen
fitted numbers:

- **Words and their rarity.** A word weighs the mean idf of its n-grams in the index's own
  TF-IDF model (no extra artifact, so an index saved before the re-ranker existed works too):
  "zorvani" weighs more than "and" or "international".
- **Alignment.** Each query word takes the best unused reference word, in this order: equal;
  two adjacent words equal to one ("health care" / "healthcare"); within one edit (two for words
  of 6 letters or more, transpositions counting one); an abbreviation (the shorter word starts
  with the longer's first letter and its letters occur in order in it: "intl" / "international",
  "mfg" / "manufacturing", "bros" / "brothers"; either side may be the short one); initials of a
  run of consecutive words, connectors skipped ("ibm" / "international business machines",
  "pg" / "pacific granite"). "&", "+" and "and" are one word (``normalize`` writes "&" as
  "and"; "+" is mapped here).
- **Legal forms** are weak evidence: the trailing forms of both names are folded to a canonical
  form ("corp" = "corporation"); the same form agrees, different ones disagree, a missing one
  says nothing.
- **Calibration.** A logistic model over the features below gives each candidate a score; a
  second one turns the best candidate's score and its margin over the runner-up into the
  probability that the answer is right. Both were fitted once (``benchmarks/entity_resolution.py
  --calibrate``) on generated names and queries disjoint from the benchmark's (another seed,
  noise from these rules' families but not the benchmark's abbreviation table), including
  queries whose entity is absent, and are constants here: no training at start-up.

Initials cannot be found by n-grams at all, so the index also keeps, per reference, the codes of
the initials of its first 2 to 4 words (``InitialsTable``); a query word that could be initials
brings the references carrying them, ranked by the rest of the query, into the pool.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from entity_matching.normalize import normalize, strip_suffixes

# How many first-stage candidates the re-ranker sees, and how many per initials key.
POOL = 30
INITIALS_POOL = 5
INITIALS_LOOKUP_LIMIT = 50_000
CONNECTORS = frozenset({"and", "of", "the", "et", "und"})
_INITIALS_RUNS = (2, 3, 4)
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_CODES = {char: position + 1 for position, char in enumerate(_ALPHABET)}
# Legal forms that are spelled two ways; any other form is its own canonical form.
_LEGAL_CANON = {"incorporated": "inc", "corporation": "corp", "company": "co", "limited": "ltd",
                "cos": "co"}

FEATURES = ("cosine", "explained_cosine", "explained_gap", "query_equal", "query_fuzzy",
            "query_abbreviation", "query_initials", "query_unmatched", "reference_covered",
            "first_word", "legal_agree", "legal_differ", "in_order")
# Fitted by ``benchmarks/entity_resolution.py --calibrate`` (see the module docstring).
CANDIDATE_WEIGHTS = (
    3.5664, -0.7417, 12.8581, 0.2907, 0.2893, -3.1711, -4.0276, -5.9114, 11.762, 1.4523, 1.674,
    -1.6146, 0.6533)
CANDIDATE_BIAS = -13.1051
# The answer's probability from (its candidate score, its margin over the runner-up).
ANSWER_WEIGHTS = (0.7669, 0.2215)
ANSWER_BIAS = -0.4359
# The runner-up's score when a pool has one candidate: a reference nothing points to.
NO_RUNNER_UP = -10.0


@dataclass(frozen=True, slots=True)
class Name:
    """A name as the re-ranker sees it: core words, their weights, and canonical legal forms."""

    words: tuple[str, ...]
    weights: tuple[float, ...]
    legal: frozenset[str]


def split_name(name: str) -> tuple[list[str], frozenset[str]]:
    """(core words, canonical trailing legal forms) of a raw name."""
    full = normalize(name.replace("+", " and "), strip_legal_suffixes=False).split()
    core = strip_suffixes(full)
    legal = frozenset(_LEGAL_CANON.get(word, word) for word in full[len(core):])
    return _join_letters(core), legal


def _join_letters(words: list[str]) -> list[str]:
    """Runs of single letters ("s and j", "p g") as one word of initials ("sj", "pg")."""
    joined: list[str] = []
    run: list[str] = []
    for position, word in enumerate(words):
        single = len(word) == 1 and word.isalpha()
        between = word == "and" and run and position + 1 < len(words) \
            and len(words[position + 1]) == 1
        if single or between:
            if single:
                run.append(word)
            continue
        if run:
            joined.append("".join(run))
            run = []
        joined.append(word)
    if run:
        joined.append("".join(run))
    return joined


def initials_codes(words: Sequence[str]) -> list[int]:
    """The codes of the initials of a name's first 2, 3 and 4 content words."""
    content = [word for word in words if word not in CONNECTORS]
    return [code for size in _INITIALS_RUNS if size <= len(content)
            if (code := initials_code("".join(word[0] for word in content[:size]))) >= 0]


def initials_code(letters: str) -> int:
    """A number for 2 to 4 letters or digits (base 37), or -1."""
    if not 2 <= len(letters) <= max(_INITIALS_RUNS):
        return -1
    code = 0
    for char in letters:
        value = _CODES.get(char)
        if value is None:
            return -1
        code = code * 37 + value
    return code


@dataclass(frozen=True)
class InitialsTable:
    """Reference positions by the codes of their leading initials, sorted by code."""

    codes: npt.NDArray[np.int64]
    positions: npt.NDArray[np.int32]

    @classmethod
    def build(cls, normalized: Sequence[str]) -> InitialsTable:
        codes: list[int] = []
        positions: list[int] = []
        for position, text in enumerate(normalized):
            for code in initials_codes(_join_letters(strip_suffixes(text.split()))):
                codes.append(code)
                positions.append(position)
        code_array = np.asarray(codes, dtype=np.int64)
        order = np.argsort(code_array, kind="stable")
        return cls(code_array[order], np.asarray(positions, dtype=np.int32)[order])

    def lookup(self, code: int) -> npt.NDArray[np.int32]:
        start, end = np.searchsorted(self.codes, [code, code + 1])
        return self.positions[int(start):int(min(end, start + INITIALS_LOOKUP_LIMIT))]

    def save(self, path: Path) -> None:
        with path.open("wb") as stream:
            np.savez(stream, codes=self.codes, positions=self.positions)


class WordWeights:
    """A word's rarity: the mean idf of its n-grams in the index's model (cached)."""

    def __init__(self, columns: Mapping[str, int], idf: npt.NDArray[np.float64],
                 ngram: int) -> None:
        self._columns = columns
        self._idf = idf
        self._unknown = float(idf.max()) if len(idf) else 1.0
        self._ngram = ngram
        self._cache: dict[str, float] = {}

    def __call__(self, word: str) -> float:
        weight = self._cache.get(word)
        if weight is None:
            padded = f" {word} "
            n = self._ngram
            grams = [padded] if len(padded) <= n else \
                [padded[start:start + n] for start in range(len(padded) - n + 1)]
            columns = self._columns
            values = [float(self._idf[column]) if (column := columns.get(gram)) is not None
                      else self._unknown for gram in grams]
            weight = sum(values) / len(values)
            if len(self._cache) < 100_000:
                self._cache[word] = weight
        return weight

    def name(self, raw: str) -> Name:
        words, legal = split_name(raw)
        return Name(tuple(words), tuple(self(word) for word in words), legal)


def within_edits(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance of ``a`` and ``b`` if at most ``limit``, else -1."""
    if abs(len(a) - len(b)) > limit:
        return -1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        low = i
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
            low = min(low, value)
        if low > limit:
            return -1
        previous2, previous = previous, current
    return previous[-1] if previous[-1] <= limit else -1


def is_abbreviation(short: str, long: str) -> bool:
    """``short`` keeps ``long``'s first letter and some of its letters, in order."""
    return abbreviation_strength(short, long) > 0.0


def abbreviation_strength(short: str, long: str) -> float:
    """How surely ``short`` abbreviates ``long``: 1 for a prefix of 3 letters or more ("intl"
    is not, "assoc" is) or a contraction that keeps the last letter too ("mfg", "bros",
    "intl", "st"); 0.5 for any other in-order subset of its letters ("cnslt"); else 0."""
    if len(short) < 2 or len(short) >= len(long) or short[0] != long[0] or not short.isalpha():
        return 0.0
    if long.startswith(short):
        return 1.0 if len(short) >= 3 else 0.5
    at = 1
    for char in short[1:]:
        at = long.find(char, at) + 1
        if at == 0:
            return 0.0
    return 1.0 if short[-1] == long[-1] else 0.5


_EQUAL, _FUZZY, _ABBREVIATION, _INITIALS = range(4)


@dataclass(frozen=True, slots=True)
class Alignment:
    """What the words of a query and a reference share (``align``): the word-level features,
    and the query with its abbreviations and initials written as the reference's words (None
    when there were none), whose n-gram cosine says how well the rest agrees."""

    values: tuple[float, ...]
    expanded: str | None


def features(alignment: Alignment, cosine: float, explained: float,
             best_explained: float) -> list[float]:
    """The feature vector (``FEATURES``) of one candidate: its cosine, its cosine once the
    words are explained (``Alignment.expanded``) and how far that is from the best candidate's,
    then the word-level values."""
    return [cosine, explained, explained - best_explained, *alignment.values]


def align(query: Name, reference: Name) -> Alignment:
    """Align the words of ``query`` with those of ``reference`` (rules in the module doc)."""
    qwords, rwords = query.words, reference.words
    expanded = list(qwords)
    used = [False] * len(rwords)
    kinds: list[int | None] = [None] * len(qwords)
    strengths = [1.0] * len(qwords)
    order: list[int] = []
    # Equal words, and two adjacent words equal to one, first.
    for i, word in enumerate(qwords):
        for j, other in enumerate(rwords):
            if not used[j] and word == other:
                used[j], kinds[i] = True, _EQUAL
                order.append(j)
                break
    for i in range(len(qwords) - 1):
        if kinds[i] is None and kinds[i + 1] is None:
            pair = qwords[i] + qwords[i + 1]
            for j, other in enumerate(rwords):
                if not used[j] and pair == other:
                    used[j], kinds[i], kinds[i + 1] = True, _EQUAL, _EQUAL
                    expanded[i], expanded[i + 1] = other, ""
                    order.append(j)
                    break
    for j in range(len(rwords) - 1):
        if not used[j] and not used[j + 1]:
            pair = rwords[j] + rwords[j + 1]
            for i, word in enumerate(qwords):
                if kinds[i] is None and word == pair:
                    used[j] = used[j + 1] = True
                    kinds[i] = _EQUAL
                    expanded[i] = f"{rwords[j]} {rwords[j + 1]}"
                    order.append(j)
                    break
    # A legal form in front on one side and at the end on the other ("AB Volvo", "Volvo AB").
    for j, other in enumerate(rwords):
        if not used[j] and _LEGAL_CANON.get(other, other) in query.legal:
            used[j] = True
    for i, word in enumerate(qwords):
        if kinds[i] is None and _LEGAL_CANON.get(word, word) in reference.legal:
            kinds[i] = _EQUAL
    # Then near spellings, initials and abbreviations.
    for i, word in enumerate(qwords):
        if kinds[i] is not None:
            continue
        limit = 2 if len(word) >= 6 else 1 if len(word) >= 3 else 0
        best: tuple[int, int] | None = None
        strength = 1.0
        if limit:
            for j, other in enumerate(rwords):
                if not used[j] and within_edits(word, other, limit) >= 0:
                    best = (_FUZZY, j)
                    break
        if best is None and 2 <= len(word) <= 5 and word.isalpha():
            run = _initials_run(word, rwords, used)
            if run:
                for j in run:
                    used[j] = True
                kinds[i] = _INITIALS
                expanded[i] = " ".join(rwords[j] for j in run)
                order.append(run[0])
                continue
        if best is None:
            strength = 0.0
            for j, other in enumerate(rwords):
                if not used[j]:
                    # A reference word shortening the query's: prefixes only ("Tech" for
                    # "Technologies"), as a short reference word is a contraction of many.
                    found = max(abbreviation_strength(word, other),
                                1.0 if len(other) >= 3 and word.startswith(other) else 0.0)
                    if found > strength:
                        best, strength = (_ABBREVIATION, j), found
        if best is not None:
            used[best[1]] = True
            kinds[i] = best[0]
            strengths[i] = strength
            if best[0] == _ABBREVIATION:
                expanded[i] = rwords[best[1]]
            order.append(best[1])
    # A reference word written as initials in the query's words ("IBM Corp" for the full name).
    for j, other in enumerate(rwords):
        if not used[j] and 2 <= len(other) <= 5:
            free = [kind is None for kind in kinds]
            run = _initials_run(other, qwords, [not flag for flag in free])
            if run:
                used[j] = True
                for i in run:
                    kinds[i] = _INITIALS
                    expanded[i] = ""
                expanded[run[0]] = other

    qtotal = sum(query.weights) or 1.0
    shares = [0.0, 0.0, 0.0, 0.0]
    unmatched = 0.0
    for kind, weight, strength in zip(kinds, query.weights, strengths, strict=True):
        if kind is None:
            unmatched += weight
        else:
            shares[kind] += weight * strength
            unmatched += weight * (1.0 - strength)
    rtotal = sum(reference.weights) or 1.0
    covered = sum(weight for flag, weight in zip(used, reference.weights, strict=True) if flag)
    both = bool(query.legal) and bool(reference.legal)
    agree = both and bool(query.legal & reference.legal)
    inversions = sum(1 for a, b in itertools.pairwise(order) if b < a)
    values = (shares[_EQUAL] / qtotal, shares[_FUZZY] / qtotal,
              shares[_ABBREVIATION] / qtotal, shares[_INITIALS] / qtotal, unmatched / qtotal,
              covered / rtotal, 1.0 if used and used[0] else 0.0, 1.0 if agree else 0.0,
              1.0 if both and not agree else 0.0, 1.0 if inversions == 0 else 0.0)
    changed = expanded != list(qwords)
    return Alignment(values, " ".join(word for word in expanded if word) if changed else None)


def _initials_run(letters: str, words: Sequence[str], used: Sequence[bool]) -> list[int]:
    """Positions of consecutive unused words (connectors skipped) whose initials are
    ``letters``; [] if none."""
    for start, word in enumerate(words):
        if used[start] or word in CONNECTORS or word[0] != letters[0]:
            continue
        run: list[int] = []
        at = 0
        for j in range(start, len(words)):
            if words[j] in CONNECTORS and run:
                continue
            if used[j] or words[j][0] != letters[at]:
                break
            run.append(j)
            at += 1
            if at == len(letters):
                return run
    return []


def candidate_score(values: Sequence[float]) -> float:
    """The candidate model's linear score."""
    return CANDIDATE_BIAS + sum(weight * value for weight, value
                                in zip(CANDIDATE_WEIGHTS, values, strict=True))


def probabilities(scores: Sequence[float]) -> list[float]:
    """Calibrated probabilities for candidates' linear scores (each against the best other)."""
    ordered = sorted(scores, reverse=True)
    first = ordered[0] if ordered else NO_RUNNER_UP
    second = ordered[1] if len(ordered) > 1 else NO_RUNNER_UP
    result = []
    for score in scores:
        margin = score - (second if score == first else first)
        result.append(_sigmoid(ANSWER_BIAS + ANSWER_WEIGHTS[0] * score
                               + ANSWER_WEIGHTS[1] * margin))
    return result


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


__all__ = [
    "FEATURES",
    "INITIALS_POOL",
    "POOL",
    "Alignment",
    "InitialsTable",
    "Name",
    "WordWeights",
    "abbreviation_strength",
    "align",
    "candidate_score",
    "features",
    "initials_code",
    "initials_codes",
    "is_abbreviation",
    "probabilities",
    "split_name",
    "within_edits",
]
