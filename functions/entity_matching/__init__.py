"""Entity matching: the closest reference names to a free-text name, with a calibrated score.

It builds an index from a list of names into a folder, loads it, and matches one or many names:
character n-grams find candidates, and a re-ranker scores them again with words, abbreviations,
initials and legal forms (``rerank``, on by default). The matcher and index-builder Lambdas package
this folder at their root (imported as ``entity_matching``); notebooks and batch jobs use it the
same way.

Example::

    >>> from entity_matching import EntityIndex, normalize
    >>> normalize("Société Générale S.A.")
    'societe generale'
    >>> index = EntityIndex.build(["c1", "c2", "c3"],
    ...                           ["Acme Corporation", "Globex Inc.", "Initech LLC"])
    >>> index.match("ACME corp.")                  # the probability that c1 is right
    [Match(id='c1', name='Acme Corporation', score=0.99...)]
    >>> index.match("ACME corp.", rerank=False)    # the n-gram cosine alone
    [Match(id='c1', name='Acme Corporation', score=1.0)]
    >>> manifest = index.save(folder)          # any local folder, e.g. "/tmp/companies"
    >>> loaded = EntityIndex.load(folder)      # checks every file against the manifest
    >>> [[m.id for m in found] for found in loaded.match_many(["Globex", "Initek"], k=1)]
    [['c2'], ['c3']]
    >>> loaded.match("Umbrella Corp", min_score=0.5)  # no confident match
    []

API
---
``normalize(name: str, *, strip_legal_suffixes: bool = True) -> str``
    The normalised form (rules below); ``""`` when the name has no letter or digit.

``Match(id: str, name: str, score: float)``
    A frozen dataclass: the reference's id, its name as given to ``build``, and its score in
    [0, 1], rounded to 6 places: with the re-ranker, the calibrated probability that the
    reference is the name's entity (step 5 below); without it, the cosine similarity (an
    identical normalised name scores 1.0).

``EntityIndex.build(ids: Sequence[str], names: Sequence[str], *, method: str = "pruned",
index_params: Mapping[str, int | float | str] | None = None,
query_params: Mapping[str, int | float | str] | None = None,
strip_legal_suffixes: bool = True, ngram: int = 3, threads: int | None = None,
rerank: bool = True) -> EntityIndex``
    ``ids[i]`` identifies ``names[i]``. Ids must be unique, non-empty strings; names may
    repeat (each id is its own entry, and equal names score equally). ``ValueError`` (naming
    the problem) for repeated ids, a name with no letter or digit, a bad method, n-gram size
    (2..5) or parameter. ``index_params`` and ``query_params`` (nmslib's, or ``candidates``
    and ``skipBound`` for the pruned methods) are merged key by key over the method's
    defaults (below); "exact" takes none. ``threads`` (default: the CPU
    count) builds the nmslib index and runs ``match_many`` (``match`` uses one). ``rerank``:
    whether ``match`` re-ranks unless told otherwise. Needs scikit-learn, imported here only.

``EntityIndex.save(folder: str | os.PathLike[str]) -> Manifest``
    Writes every file below into ``folder`` (created if needed; an earlier index there is
    replaced) and ``manifest.json`` last, and returns the manifest.

``EntityIndex.load(folder: str | os.PathLike[str], *, verify: bool = True,
query_params: Mapping[str, int | float | str] | None = None,
threads: int | None = None, rerank: bool = True) -> EntityIndex``
    Sizes are always checked against the manifest; with ``verify`` every sha256 too, before
    any file is parsed or given to nmslib (nmslib can try to allocate without bound on a
    damaged file). Then the arrays' dtypes, shapes and offsets, the vocabulary, the counts,
    and the normalisation version are checked. Any missing, corrupt or inconsistent file
    raises ``IndexArtifactError``. ``verify=False`` saves hashing time on trusted storage
    (about 0.1 s per 100 MB) but still catches truncation. ``query_params`` override the
    saved ones, for tuning without a rebuild. An index saved before the re-ranker existed (no
    ``initials.npz``) loads and re-ranks, without the initials lookup.

``EntityIndex.match(name: str, k: int = 3, min_score: float = 0.0, *,
rerank: bool | None = None) -> list[Match]``
    At most ``k`` matches, best first, each with ``score >= min_score`` and ``score > 0``.
    ``rerank`` (default: the index's) chooses the score: a calibrated probability, so that
    ``min_score=0.5`` answers "no confident match" (``[]``) for a name whose entity is not
    listed rather than its nearest stranger; or the cosine, where a reference sharing no
    n-gram with the name is never a match. Equal scores are listed in
    reference order (an approximate method may return any of several equal references when
    they do not all fit in ``k``). ``ValueError`` when ``name`` has no letter or digit; a name
    made only of n-grams the references never use has no match (``[]``).

``EntityIndex.match_many(names: Iterable[str], k: int = 3, min_score: float = 0.0, *,
rerank: bool | None = None) -> list[list[Match]]``
    The same, one list per name, in one nmslib batch query. ``ValueError`` (with positions)
    when any name has no letter or digit: filter with ``normalize(...)`` first if needed.

Also ``len(index)``, ``index.rerank``, ``index.method``, ``index.ngram``,
``index.strip_legal_suffixes``, ``index.manifest`` and the ``index.ids`` / ``index.names``
sequences.

``IndexArtifactError``: the one exception for an index folder that cannot be loaded.

The method
----------
1. Normalisation (``normalize``), applied to references and queries alike: Unicode NFKD with
   combining marks removed ("é" -> "e"), case folding ("ß" -> "ss"), a few letters NFKD
   leaves alone folded (ø, æ, œ, ł, đ, ð, þ, dotless i), apostrophes removed ("McDonald's"
   -> "mcdonalds"), "&" -> "and", dotted single-letter acronyms joined ("S.A." -> "sa",
   "U.S." -> "us"), every other non-alphanumeric character a space, whitespace collapsed.
   Then, unless ``strip_legal_suffixes=False``, legal forms at the END of the name are
   REMOVED, repeatedly, longest first, never leaving nothing: Inc, Incorporated, Corp,
   Corporation, Co, Company, Ltd, Limited, LLC / L.L.C., LLP, LP, PLC, GmbH, AG, KG, SE,
   SA / S.A., SAS, SARL, SpA / S.p.A., SRL, BV, NV, Pty, Pte, Oy, Oyj, AB, AS / A/S, ASA, ApS,
   KK, Ltda, Bhd, "& Co" and others (``normalize.LEGAL_SUFFIXES``). So "Toyota Motor Co.,
   Ltd." -> "toyota motor" and "Müller GmbH & Co. KG" -> "muller". Removing (rather than
   mapping to a canonical token) makes "Acme", "ACME Inc." and "Acme Ltd" the same name: a
   query rarely carries the reference's legal form. The cost: two references differing only by
   legal form tie. Legal forms in front ("AB Volvo") or mid-name are kept.
2. Character n-grams (default n=3) of each word padded with one space a side ("acme" ->
   " ac", "acm", "cme", "me "). The padding marks word starts and ends, which weigh most in
   names; no gram spans two words, so word order does not matter. Trigrams are the usual
   choice for short strings: a one-letter typo touches at most three of a word's grams, and
   bigrams are too common to tell names apart. ``ngram`` may be 2 to 5.
3. TF-IDF, fitted by scikit-learn's ``TfidfVectorizer`` at build time (the analyzer above,
   smooth idf, L2 norm, and sublinear tf ``1 + ln(count)`` so that a repeated word, as in
   "Nunez & Nunez", does not outweigh the rest of the name). Only the vocabulary and idf are
   kept; queries are vectorised by this package with numpy (the same rules, checked against
   scikit-learn by the tests), so the query path needs neither scikit-learn nor scipy.
4. Search over the unit vectors; the score is their cosine similarity. Every method answers
   exact cosines for the references it returns; they differ in how they find them:

   - ``"pruned"`` (default): the references' vectors as posting lists (one per n-gram). A
     query leaves out its most common n-grams (" co", "ion", ...: long lists, low idf) as long
     as they could add at most ``skipBound`` (0.5) to any reference's cosine, takes the
     ``candidates`` (100) best references on the rest, and completes their scores with the
     n-grams left out. numpy only. ``skipBound=0`` makes it exact.
   - ``"invindex"``: the same pruning, with nmslib's exact inverted index (``simple_invindx``,
     ``negdotprod_sparse_fast``) finding the candidates; nmslib rebuilds it at load.
   - ``"napp"``: the post's configuration: NAPP in ``negdotprod_sparse_fast`` (-dot, which is
     -cos for these unit vectors) with nmslib's default ``numPivot=512, numPivotIndex=32``
     and ``numPivotSearch=2`` (capped below the reference count for small lists).
   - ``"sw-graph"``: nmslib's small-world graph in ``cosinesimil_sparse_fast`` (distance
     1 - cos) with ``NN=15, efConstruction=100`` and ``efSearch=100``.
   - ``"exact"``: the cosine with every reference that shares an n-gram with the query, from
     the posting lists (numpy only; nmslib is not even imported).

   ``benchmarks/README.md`` has the figures behind the default: the graph methods miss the
   nearest reference for over 10% of queries on these short, sparse vectors, NAPP is slower
   than brute force, and the pruned lists reach recall 0.985 at 5x brute force's speed at 1M.
5. The re-ranker (``rerank.py``, unless ``rerank=False``): the search's 30 best candidates,
   plus up to 5 references per query word that could be initials ("IBM", "PG") found through
   ``initials.npz`` (the codes of each reference's first 2 to 4 initials; n-grams cannot find
   "International Business Machines" from "IBM") and ranked by the rest of the query. Each
   candidate's words are aligned with the query's: equal, within one or two edits, an
   abbreviation by rule (a prefix, or the first letter and others in order: "Intl",
   "Mfg", "Bros"), initials of consecutive words; word rarity weighs each (the mean idf of its
   n-grams). Legal forms, stripped for the n-grams, count as weak evidence here. A logistic
   model over these features and the cosines (before and after the aligned words are written
   out) scores each candidate, and a second one turns the best score and its margin over the
   runner-up into a probability. Both were fitted offline on generated names disjoint from the
   benchmark's (``benchmarks/entity_resolution.py --calibrate``) and are constants: nothing is
   trained at start-up, and the query path still needs numpy only.

The index folder
----------------
=====================  ==================================================================
``manifest.json``      format and version, method, space, index and query parameters,
                       counts, n-gram and TF-IDF settings, normalisation flag and version,
                       library versions, and each file's size and sha256. Written last.
``vocabulary.json``    the n-grams, in column order (a JSON list).
``idf.npy``            the idf weights, float64.
``references.npz``     ids and names, each one UTF-8 buffer plus offsets (decoded on demand).
``vectors.npz``        "pruned" and "exact": the vectors as posting lists (int64 indptr,
                       int32 reference numbers, float32 weights).
``rows.npz``           "invindex": the vectors row by row (nmslib's index is rebuilt at load).
``index.bin``,         "napp" and "sw-graph": nmslib's ``saveIndex`` with its data.
``index.bin.dat``
``initials.npz``       the codes of each reference's leading initials (int64, sorted) and
                       the references they belong to (int32). Absent from indexes saved
                       before the re-ranker; they load without it.
=====================  ==================================================================

No pickles anywhere. An index built under another normalisation version is refused on load
(rebuild it). The manifest is the root of trust: its checksums bind the files to it, but a
manifest rewritten to match other files is only caught where counts or shapes disagree.

Sizes measured for 100,000 synthetic company names (about 25 characters and 18 distinct
n-grams each): references 4.1 MB, vectors 14.7 MB ("exact", 19 MB in all), nmslib data
16.6 MB plus an 18.5 MB graph or NAPP index (39 MB in all). All grow linearly with the
number of references and the length of their names.
"""

from entity_matching.artifacts import IndexArtifactError, Manifest
from entity_matching.index import EntityIndex, Match
from entity_matching.normalize import normalize

__all__ = ["EntityIndex", "IndexArtifactError", "Manifest", "Match", "normalize"]
