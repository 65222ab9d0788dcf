"""Name normalisation and the character n-grams that TF-IDF counts.

Both run at build time (over the reference names) and at query time (over the names to match),
so they must stay identical between the two: a change here changes the vectors, and
``NORMALIZER_VERSION`` goes up with it (an index built by another version is refused on load).
The rules are listed in the package docstring.
"""

from __future__ import annotations

import re
import unicodedata

NORMALIZER_VERSION = 1

# Letters that NFKD does not decompose into a base letter and a combining mark.
_FOLDS = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d",
                        "þ": "th", "ı": "i", "ħ": "h", "ŧ": "t", "ŀ": "l"})
# Apostrophes join ("McDonald's" -> "mcdonalds"); "&" is the word "and".
_APOSTROPHES = re.compile(r"['’ʼ`´]")
_AMPERSAND = re.compile(r"&")
# A dotted run of single letters is one acronym: "S.A." -> "sa", "l.l.c" -> "llc". Letters only,
# so "1.5" and "amazon.com" are left to the punctuation rule.
_ACRONYM = re.compile(r"(?<![^\W_])(?:[^\W\d_]\.)+[^\W\d_](?![^\W_])\.?")
_NOT_WORD = re.compile(r"[\W_]+")

# Legal forms, as token sequences after the rules above ("L.L.C." is already "llc", "A/S" is
# "a s", "& Co." is "and co"). Only a name's trailing tokens are stripped.
_LEGAL_WORDS = (
    "inc", "incorporated", "corp", "corporation", "co", "company", "cos", "ltd", "limited",
    "ltda", "llc", "llp", "lp", "plc", "gmbh", "mbh", "ag", "kg", "kgaa", "ohg", "se", "sa",
    "sas", "sarl", "spa", "srl", "sro", "bv", "nv", "cv", "pty", "pte", "oy", "oyj", "ab",
    "as", "asa", "aps", "kk", "bhd", "sdn", "nl",
)
# Acronyms that are also written with spaces between their letters ("S. A.", "A/S", "B V").
_SPELLED = ("llc", "llp", "lp", "plc", "ag", "kg", "se", "sa", "sas", "spa", "srl", "sro", "bv",
            "nv", "ab", "as", "kk")
LEGAL_SUFFIXES: frozenset[tuple[str, ...]] = frozenset(
    {(word,) for word in _LEGAL_WORDS}
    | {tuple(word) for word in _SPELLED}
    | {("and", "co"), ("and", "company"), ("and", "cie"), ("et", "cie")}
)
_LONGEST_SUFFIX = max(len(suffix) for suffix in LEGAL_SUFFIXES)


def normalize(name: str, *, strip_legal_suffixes: bool = True) -> str:
    """The normalised form of ``name``: lower-case ASCII-like words separated by one space.

    The empty string when ``name`` has no letter or digit. ``TypeError`` for a non-string.
    """
    if not isinstance(name, str):
        raise TypeError(f"a name must be a string, not {type(name).__name__}")
    text = unicodedata.normalize("NFKD", name).casefold()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(char for char in text if not unicodedata.combining(char))
    text = text.translate(_FOLDS)
    text = _APOSTROPHES.sub("", text)
    text = _AMPERSAND.sub(" and ", text)
    text = _ACRONYM.sub(lambda match: match.group().replace(".", ""), text)
    tokens = _NOT_WORD.sub(" ", text).split()
    if strip_legal_suffixes:
        tokens = strip_suffixes(tokens)
    return " ".join(tokens)


def strip_suffixes(tokens: list[str]) -> list[str]:
    """``tokens`` without trailing legal forms, longest first, never down to nothing."""
    while True:
        for size in range(min(_LONGEST_SUFFIX, len(tokens) - 1), 0, -1):
            if tuple(tokens[-size:]) in LEGAL_SUFFIXES:
                tokens = tokens[:-size]
                break
        else:
            return tokens


def char_ngrams(normalized: str, n: int) -> list[str]:
    """The character ``n``-grams of a normalised name, each word padded with one space a side.

    A word whose padded form is ``n`` characters or fewer is one gram (``" a "`` for n=3). No
    gram spans two words, so word order does not change the vector.
    """
    grams: list[str] = []
    for word in normalized.split():
        padded = f" {word} "
        if len(padded) <= n:
            grams.append(padded)
        else:
            grams.extend(padded[start:start + n] for start in range(len(padded) - n + 1))
    return grams
