"""The index folder on disk: the manifest, checksums, and compact string tables.

Every file an index writes is listed in ``manifest.json`` with its size and sha256, and the
manifest is written last, so a folder without one is an unfinished save. Loading checks sizes
always and checksums unless told not to, before any file is parsed or handed to nmslib; any
problem, from a missing file to an array of the wrong shape, is an ``IndexArtifactError``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np
import numpy.typing as npt

FORMAT = "entity-matching-index"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

# What a damaged file can make numpy, zipfile or json raise while it is read.
READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile)

ParamValue = int | float | str


class IndexArtifactError(Exception):
    """An index folder that cannot be loaded: a file missing, corrupt or inconsistent."""


@dataclass(frozen=True)
class Artifact:
    """One file of an index: its size in bytes and its sha256 (hex)."""

    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The contents of ``manifest.json``: what was built, how, and every file's checksum."""

    method: str
    space: str | None
    index_params: dict[str, ParamValue]
    query_params: dict[str, ParamValue]
    count: int
    vocabulary_size: int
    ngram: int
    sublinear_tf: bool
    strip_legal_suffixes: bool
    normalizer_version: int
    artifacts: dict[str, Artifact]
    versions: dict[str, str] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        """The manifest as a JSON document."""
        return {
            "format": FORMAT,
            "format_version": self.format_version,
            "method": self.method,
            "space": self.space,
            "index_params": dict(self.index_params),
            "query_params": dict(self.query_params),
            "count": self.count,
            "vocabulary_size": self.vocabulary_size,
            "ngrams": {"n": self.ngram, "padding": "word", "analyzer": "char"},
            "tfidf": {"sublinear_tf": self.sublinear_tf, "smooth_idf": True, "norm": "l2"},
            "normalization": {"strip_legal_suffixes": self.strip_legal_suffixes,
                              "version": self.normalizer_version},
            "versions": dict(self.versions),
            "artifacts": {name: {"bytes": artifact.size, "sha256": artifact.sha256}
                          for name, artifact in sorted(self.artifacts.items())},
        }

    @classmethod
    def from_json(cls, document: object) -> Manifest:
        """A manifest from its JSON document; ``IndexArtifactError`` when it is malformed."""
        try:
            return cls._parse(document)
        except (KeyError, TypeError, ValueError) as error:
            raise IndexArtifactError(f"{MANIFEST} is malformed: {error}") from None

    @classmethod
    def _parse(cls, document: object) -> Manifest:
        doc = _mapping(document, "the document")
        if doc["format"] != FORMAT:
            raise ValueError(f"format is {doc['format']!r}, not {FORMAT!r}")
        version = _int(doc["format_version"], "format_version")
        if version != FORMAT_VERSION:
            raise ValueError(f"format_version {version} is not supported (this code reads "
                             f"{FORMAT_VERSION}); rebuild the index")
        ngrams = _mapping(doc["ngrams"], "ngrams")
        tfidf = _mapping(doc["tfidf"], "tfidf")
        normalization = _mapping(doc["normalization"], "normalization")
        if ngrams["padding"] != "word" or ngrams["analyzer"] != "char":
            raise ValueError("ngrams: only word-padded character n-grams are supported")
        if tfidf["smooth_idf"] is not True or tfidf["norm"] != "l2":
            raise ValueError("tfidf: only smooth idf with l2 norm is supported")
        artifacts = {}
        for name, entry in _mapping(doc["artifacts"], "artifacts").items():
            entry = _mapping(entry, f"artifacts.{name}")
            digest = entry["sha256"]
            if not isinstance(digest, str) or len(digest) != 64:
                raise ValueError(f"artifacts.{name}.sha256 is not a sha256")
            artifacts[str(name)] = Artifact(_int(entry["bytes"], f"artifacts.{name}.bytes"),
                                            digest)
        space = doc["space"]
        if space is not None and not isinstance(space, str):
            raise TypeError("space is not a string")
        return cls(
            method=_str(doc["method"], "method"),
            space=space,
            index_params=_params(doc["index_params"], "index_params"),
            query_params=_params(doc["query_params"], "query_params"),
            count=_int(doc["count"], "count"),
            vocabulary_size=_int(doc["vocabulary_size"], "vocabulary_size"),
            ngram=_int(ngrams["n"], "ngrams.n"),
            sublinear_tf=_bool(tfidf["sublinear_tf"], "tfidf.sublinear_tf"),
            strip_legal_suffixes=_bool(normalization["strip_legal_suffixes"],
                                       "normalization.strip_legal_suffixes"),
            normalizer_version=_int(normalization["version"], "normalization.version"),
            artifacts=artifacts,
            versions={str(key): str(value)
                      for key, value in _mapping(doc.get("versions", {}), "versions").items()},
            format_version=version,
        )


def write_manifest(folder: Path, manifest: Manifest) -> None:
    """Write ``manifest.json`` atomically (a temporary file, then a rename)."""
    temporary = folder / f".{MANIFEST}.tmp"
    temporary.write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=False) + "\n",
                         encoding="utf-8")
    os.replace(temporary, folder / MANIFEST)


def read_manifest(folder: Path) -> Manifest:
    """The folder's manifest; ``IndexArtifactError`` when it is missing or unreadable."""
    path = folder / MANIFEST
    if not path.is_file():
        raise IndexArtifactError(f"{folder} holds no {MANIFEST}: not an index, or an "
                                 "unfinished save")
    try:
        document = json.loads(path.read_bytes())
    except READ_ERRORS as error:
        raise IndexArtifactError(f"{path} is not readable JSON: {error}") from None
    return Manifest.from_json(document)


def describe(path: Path) -> Artifact:
    """A file's size and sha256."""
    with path.open("rb") as stream:
        digest = hashlib.file_digest(stream, "sha256").hexdigest()
    return Artifact(path.stat().st_size, digest)


def check_files(folder: Path, manifest: Manifest, expected: Iterable[str], *,
                verify: bool) -> None:
    """Every expected file is listed, present and of its size (and, with ``verify``, its sha256).

    Runs before any file is parsed, so nmslib never sees a file that does not match the
    manifest (it can allocate without bound on a damaged one).
    """
    wanted = set(expected)
    listed = set(manifest.artifacts)
    if listed != wanted:
        missing, extra = sorted(wanted - listed), sorted(listed - wanted)
        raise IndexArtifactError(f"{MANIFEST} lists the wrong files for method "
                                 f"{manifest.method!r}: missing {missing}, unexpected {extra}")
    for name in sorted(wanted):
        path = folder / name
        artifact = manifest.artifacts[name]
        try:
            size = path.stat().st_size
        except OSError:
            raise IndexArtifactError(f"{path} is missing") from None
        if size != artifact.size:
            raise IndexArtifactError(f"{path} has {size} bytes, the manifest says "
                                     f"{artifact.size}: truncated or replaced")
        if verify:
            try:
                actual = describe(path)
            except OSError as error:
                raise IndexArtifactError(f"{path} cannot be read: {error}") from None
            if actual.sha256 != artifact.sha256:
                raise IndexArtifactError(f"{path} does not match its sha256 in the manifest: "
                                         "corrupt or replaced")


def load_arrays(path: Path, shapes: Mapping[str, tuple[str, int]]) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` file, each checked for its dtype kind and number of dimensions.

    ``shapes`` maps a member name to (dtype kinds such as ``"iu"``, ndim). No pickles.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: np.asarray(archive[name]) for name in shapes}
    except READ_ERRORS as error:
        raise IndexArtifactError(f"{path} is not a readable array archive: {error}") from None
    for name, (kinds, ndim) in shapes.items():
        array = arrays[name]
        if array.dtype.kind not in kinds or array.ndim != ndim:
            raise IndexArtifactError(f"{path}: {name} is {array.dtype}[{array.ndim}d], "
                                     f"expected kind {kinds!r} with {ndim} dimension(s)")
    return arrays


def load_array(path: Path, kinds: str, shape: tuple[int, ...]) -> np.ndarray:
    """One ``.npy`` array of the given dtype kinds and shape. No pickles."""
    try:
        array = np.load(path, allow_pickle=False)
    except READ_ERRORS as error:
        raise IndexArtifactError(f"{path} is not a readable array: {error}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in kinds \
            or array.shape != shape:
        raise IndexArtifactError(f"{path} is not an array of shape {shape}")
    return array


def check_offsets(path: Path, name: str, offsets: np.ndarray, count: int, total: int) -> None:
    """``offsets`` has ``count + 1`` non-decreasing entries from 0 to ``total``."""
    if (offsets.shape != (count + 1,) or int(offsets[0]) != 0 or int(offsets[-1]) != total
            or bool(np.any(np.diff(offsets.astype(np.int64)) < 0))):
        raise IndexArtifactError(f"{path}: {name} does not describe {count} entries over "
                                 f"{total} values")


class StringTable(Sequence[str]):
    """Strings stored as one UTF-8 buffer and their offsets; decoded one at a time on demand.

    A million reference names cost one array each instead of a million Python objects, which
    keeps a cold start short: only the names a query returns are ever decoded.
    """

    def __init__(self, utf8: npt.NDArray[np.uint8], offsets: npt.NDArray[np.integer[Any]]) -> None:
        self.utf8 = utf8
        self.offsets = offsets

    @classmethod
    def from_strings(cls, strings: Sequence[str]) -> StringTable:
        encoded = [text.encode("utf-8") for text in strings]
        lengths = np.fromiter((len(item) for item in encoded), dtype=np.int64,
                              count=len(encoded))
        total = int(lengths.sum())
        dtype = np.uint32 if total < 2**32 else np.uint64
        offsets: npt.NDArray[np.integer[Any]] = np.zeros(len(encoded) + 1, dtype=dtype)
        np.cumsum(lengths, out=offsets[1:], dtype=dtype)
        utf8 = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        return cls(utf8, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("string table index out of range")
        start, end = int(self.offsets[index]), int(self.offsets[index + 1])
        try:
            return self.utf8[start:end].tobytes().decode("utf-8")
        except UnicodeDecodeError:
            raise IndexArtifactError(f"entry {index} of a string table is not UTF-8: the "
                                     "index files are corrupt") from None

    def __iter__(self) -> Iterator[str]:
        for index in range(len(self)):
            yield self[index]


def _mapping(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"{what} is not an object")
    return value


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{what} is not a non-negative integer")
    return value


def _str(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} is not a string")
    return value


def _bool(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what} is not true or false")
    return value


def _params(value: object, what: str) -> dict[str, ParamValue]:
    params = dict(_mapping(value, what))
    for key, item in params.items():
        if not isinstance(item, int | float | str) or (isinstance(item, float)
                                                       and not math.isfinite(item)):
            raise TypeError(f"{what}.{key} is not a number or string")
    return params
