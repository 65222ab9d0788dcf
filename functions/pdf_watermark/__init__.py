"""Stamping documents: any supported document in, a watermarked, read-only PDF out.

Pure library (pypdf and the standard library; LibreOffice only for Office formats), shared by
the S3 Object Lambda transform (``functions/document_transform``, which packages it at its
root) and ``benchmarks/watermark.py``.

What ``stamp_pdf`` (and ``stamp``, which also answers the page count) does to a PDF:

- Opens it with pypdf. An encrypted PDF that opens with the empty user password (the usual
  "restrictions only" PDF) is decrypted and accepted; one that needs a password is refused with
  ``EncryptedDocument``, and so is one encrypted in a way pypdf does not implement (the
  public-key handler ``/Adobe.PubSec`` or another that is not ``/Standard``, a ``/V`` other
  than 1 to 5, a ``/SubFilter``, a crypt filter method other than ``/V2``, ``/AESV2`` and
  ``/AESV3``).
- Stamps every page with the watermark text twice: large and diagonal (bottom left to top
  right, as the reader sees the page) through the middle, mid grey at 25% opacity (an
  ExtGState's ``/ca``); and once small, level and opaque enough to read, centred along the
  bottom edge, so that a crop of the page still carries it. Both take the page's ``/Rotate``
  and its visible box (the crop box within the media box, whatever its origin) into account.
  The text is Helvetica, a standard 14 font with ``WinAnsiEncoding``, so nothing is embedded;
  characters that encoding lacks are drawn as ``?``.
- Draws both from two Form XObjects built once for the document and shared by every page: each
  page gets its own content wrapped in ``q``/``Q`` (a shared one-byte stream in front) and a
  tail stream of a few dozen bytes, ``Q q <matrix> cm /BpWatermark Do Q q <matrix> cm
  /BpFooter Do Q``. Nothing of the page is parsed or rewritten, so a page costs the same
  whatever it holds. pypdf's ``extract_text`` follows Form XObjects, so the watermark text
  is part of every page's extracted text.
- Writes the access id into the document information dictionary (``/AccessId``) and sets
  ``/Producer`` and ``/ModDate``.
- Encrypts with AES-256 (``/V 5 /R 6``): the empty user password, so anyone can open it, and a
  random owner password (``secrets.token_urlsafe``) that is neither kept nor logged, so nobody
  can lift the restrictions with a conforming reader. The permissions allow printing (bits 3
  and 12) and reading for accessibility (bit 10, which PDF 2.0 readers honour regardless) and
  nothing else: no changes, no copying, no annotations or forms, no assembly.

``text_to_pdf`` sets plain text on A4 pages (Helvetica 10 pt, 2 cm margins): tabs expanded to
every 8 columns, spaces that end a line dropped (they are not seen), long lines wrapped at
spaces (or anywhere when a word is longer than a line), a form feed starts a new page, and
characters ``WinAnsiEncoding`` cannot draw (and control characters) become ``?``. Its work is
bounded before it starts: text longer than ``MAX_TEXT_CHARACTERS`` (a tab counting as the 8
spaces it may become), or with more line breaks or form feeds than ``MAX_PAGES`` pages hold, is
refused at once (``DocumentTooLarge``), and a line is wrapped only as far as the pages hold.
Wrapping measures runs of characters at once (``bytes.translate`` and ``sum``), so its cost
grows with the lines it sets, not with the words or spaces in them: before, each space was a
word, and a megabyte of tabs (eight million spaces) took seconds.

``decode_text`` reads the bytes: UTF-8 with or without a byte-order mark, UTF-16 with one, or
the ``charset`` of the ``Content-Type`` when it names a character encoding (``TEXT_CODECS``:
Unicode, ASCII, ISO 8859, the Windows, DOS, EBCDIC, Mac and KOI8 code pages, and the Chinese,
Japanese and Korean encodings; not UTF-7, nor Python's codecs that are no character encoding,
such as idna, punycode, unicode_escape, undefined or base64). Anything else is
``UnsupportedMediaType`` (415), as the bytes are not broken, they are text in an encoding the
function does not read.

``convert_office`` has LibreOffice (``soffice --headless --convert-to pdf``) convert Office
formats, with a timeout, ``HOME`` in a private folder under the temporary directory, and an
environment that carries no AWS credentials.

``detect_type`` decides how to read a document: by content first (``%PDF-`` in the first KB),
then by the key's suffix, then by the ``Content-Type``. ``.pdf`` (``application/pdf``) without
that signature is ``CorruptDocument``; ``.txt`` (``text/plain``) is text; ``.doc .docx .odt
.rtf .xls .xlsx .ods .ppt .pptx .odp`` (and their media types) are Office formats; anything
else is ``UnsupportedMediaType``.

Errors are ``DocumentError`` subclasses, each with the HTTP ``status`` and S3-style ``code``
to answer with, and a message safe to show callers (no file contents, no stack traces):

=========================  ======  ========================  ================================
class                      status  code                      when
=========================  ======  ========================  ================================
``CorruptDocument``        422     ``CorruptDocument``       pypdf or LibreOffice cannot read it
                                                             (damaged, or a feature pypdf lacks)
``EncryptedDocument``      422     ``EncryptedDocument``     a PDF that needs a password, or is
                                                             encrypted in a way pypdf lacks
``UnsupportedMediaType``   415     ``UnsupportedMediaType``  a type or text encoding not handled
``DocumentTooLarge``       413     ``EntityTooLarge``        more than ``MAX_PAGES`` pages;
                                                             text over ``MAX_TEXT_CHARACTERS``
                                                             characters (a tab counting as 8),
                                                             or with more line breaks or form
                                                             feeds than ``MAX_PAGES`` pages hold
``ConversionFailed``       500     ``ConversionFailed``      LibreOffice failed or timed out
=========================  ======  ========================  ================================
"""

from __future__ import annotations

import codecs
import contextlib
import io
import math
import os
import re
import secrets
import shutil
import signal
import struct
import subprocess
import tempfile
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from encodings.aliases import aliases as codec_aliases
from pathlib import Path, PurePosixPath
from typing import ClassVar, Literal

from pypdf import PageObject, PasswordType, PdfReader, PdfWriter
from pypdf.constants import UserAccessPermissions
from pypdf.errors import DependencyError, PyPdfError
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    PdfObject,
    StreamObject,
)

PRODUCER = "Serverless Blueprints document transform (pypdf)"
OPACITY = 0.25
FOOTER_OPACITY = 0.6
GREY = 0.5
# The diagonal text spans at most this share of the page's diagonal, and its letters are at
# most this share of the page's shorter side (a short watermark would otherwise be huge).
DIAGONAL_SHARE = 0.75
MAX_LETTER_SHARE = 1 / 6
FOOTER_SIZE = 7.0
FOOTER_MARGIN = 10.0
MAX_PAGES = 5000  # at about half a millisecond a page, well within the 60 s S3 waits
MAX_WATERMARK_CHARACTERS = 1000
PERMISSIONS = (UserAccessPermissions.PRINT | UserAccessPermissions.PRINT_TO_REPRESENTATION
               # Screen readers may read the text (PDF 2.0 has readers ignore this bit anyway);
               # copying it out (EXTRACT) stays forbidden.
               | UserAccessPermissions.EXTRACT_TEXT_AND_GRAPHICS
               # bits 7, 8 and 13-32 are reserved and must be 1
               | UserAccessPermissions.R7 | UserAccessPermissions.R8
               | UserAccessPermissions(0xFFFFF000))

A4 = (595.28, 841.89)
TEXT_SIZE = 10.0
TEXT_LEADING = 12.5
TEXT_MARGIN = 56.69  # 2 cm
TAB_SIZE = 8
# Text is refused beyond this many characters, a tab counting as TAB_SIZE (what it may expand
# to): 25 MiB of text with room for some tabs. Anything near it needs about MAX_PAGES pages.
MAX_TEXT_CHARACTERS = 32 * 2**20
# str.splitlines's line boundaries, the form feed aside (it starts a page).
_LINE_BREAKS = ("\n", "\r", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029")

# The codecs (the standard library's names) that decode a charset of text: Unicode, ASCII, the
# ISO 8859 parts, the Windows, DOS, EBCDIC, Mac, KOI8 and other single-byte code pages, and the
# Chinese, Japanese and Korean encodings. Left out are the codecs that are not character
# encodings (idna and punycode decode domain names, unicode_escape and raw_unicode_escape
# Python literals, charmap needs a mapping, undefined refuses everything, and base64, hex,
# quopri, uu, zlib, bz2 and rot13 are bytes-to-bytes or str-to-str transforms), UTF-7 (it turns
# ASCII into other characters, so HTML and the WHATWG Encoding standard forbid it), and
# Windows' mbcs and oem.
TEXT_CODECS = frozenset({
    "utf_8", "utf_8_sig", "utf_16", "utf_16_le", "utf_16_be", "utf_32", "utf_32_le",
    "utf_32_be", "ascii", "latin_1",
    *(f"iso8859_{part}" for part in (*range(1, 12), *range(13, 17))),
    *(f"cp{page}" for page in (
        1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258, 874,  # Windows
        437, 720, 737, 775, 850, 852, 855, 856, 857, 858, 860, 861, 862, 863, 864, 865, 866,
        869, 1006, 1125,  # DOS
        273, 424, 500, 875, 1026, 1140)),  # EBCDIC, with cp037 below
    "cp037", "koi8_r", "koi8_t", "koi8_u", "kz1048", "ptcp154", "tis_620", "hp_roman8",
    "palmos",
    *(f"mac_{script}" for script in ("arabic", "croatian", "cyrillic", "farsi", "greek",
                                      "iceland", "latin2", "roman", "romanian", "turkish")),
    "big5", "big5hkscs", "cp932", "cp949", "cp950", "euc_jis_2004", "euc_jisx0213", "euc_jp",
    "euc_kr", "gb2312", "gbk", "gb18030", "hz", "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2",
    "iso2022_jp_2004", "iso2022_jp_3", "iso2022_jp_ext", "iso2022_kr", "johab", "shift_jis",
    "shift_jis_2004", "shift_jisx0213"})
_NAME_PARTS = re.compile(r"[a-z0-9]+")

OFFICE_SUFFIXES = frozenset({".doc", ".docx", ".odt", ".rtf", ".xls", ".xlsx", ".ods", ".ppt",
                             ".pptx", ".odp"})
OFFICE_MEDIA_TYPES = {
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.oasis.opendocument.text": ".odt",
    "application/rtf": ".rtf",
    "text/rtf": ".rtf",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.oasis.opendocument.spreadsheet": ".ods",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "application/vnd.oasis.opendocument.presentation": ".odp",
}
OFFICE_TIMEOUT_SECONDS = 45.0
# Kept between conversions in a warm container: LibreOffice's first start builds its profile,
# which takes seconds. One conversion runs at a time (Lambda's model), so no lock.
OFFICE_HOME = Path(tempfile.gettempdir()) / "libreoffice-home"
# What LibreOffice may need from the function's environment; credentials stay behind.
OFFICE_ENVIRONMENT = ("PATH", "LD_LIBRARY_PATH", "LANG", "LC_ALL", "FONTCONFIG_PATH",
                      "FONTCONFIG_FILE", "SAL_USE_VCLPLUGIN")
PDF_SIGNATURE = b"%PDF-"
SIGNATURE_WINDOW = 1024  # readers accept the signature anywhere in the first KB

# Helvetica's advance widths (its AFM, 1/1000 em) for WinAnsiEncoding codes 32-255; 0 where the
# encoding has no character (those are never drawn: they become '?').
_HELVETICA_WIDTHS = (0,) * 32 + (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722,
    722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722,
    667, 944, 667, 667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556,
    556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500,
    500, 334, 260, 334, 584, 0, 556, 0, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333,
    1000, 0, 611, 0, 0, 222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 0, 500,
    667, 278, 333, 556, 556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400,
    584, 333, 333, 333, 556, 537, 278, 333, 333, 365, 556, 834, 834, 834, 611, 667, 667, 667,
    667, 667, 667, 1000, 722, 667, 667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778,
    778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889,
    500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556, 556, 556, 556, 584, 611,
    556, 556, 556, 556, 500, 556, 500)
# Codes without a glyph (controls, and those WinAnsiEncoding leaves undefined) become '?'.
_DRAWABLE = bytes(code if _HELVETICA_WIDTHS[code] else ord("?") for code in range(256))
_MAX_WIDTH = max(_HELVETICA_WIDTHS)
_WIDTH_HIGH = bytes(width >> 8 for width in _HELVETICA_WIDTHS)
_WIDTH_LOW = bytes(width & 0xFF for width in _HELVETICA_WIDTHS)
_SPACE = ord(" ")
_CAP_HEIGHT = 718 / 1000
_DESCENT = 207 / 1000
_ASCENT = 931 / 1000
# pypdf raises these (besides its own) on malformed input, and NotImplementedError for what it
# does not implement (encryption, stream filters); they all mean "cannot read it".
_PDF_ERRORS: tuple[type[BaseException], ...] = (
    PyPdfError, ValueError, TypeError, KeyError, IndexError, AttributeError, AssertionError,
    ArithmeticError, RecursionError, NotImplementedError, zlib.error, struct.error)


# --- errors ------------------------------------------------------------------------------------

class DocumentError(Exception):
    """A document that cannot be stamped: ``status`` and ``code`` say how to answer, and the
    message is safe to show."""

    status: ClassVar[int] = 422
    code: ClassVar[str] = "InvalidDocument"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CorruptDocument(DocumentError):  # noqa: N818 (the names are the API)
    status = 422
    code = "CorruptDocument"


class EncryptedDocument(DocumentError):  # noqa: N818 (the names are the API)
    status = 422
    code = "EncryptedDocument"


class UnsupportedMediaType(DocumentError):  # noqa: N818 (the names are the API)
    status = 415
    code = "UnsupportedMediaType"


class DocumentTooLarge(DocumentError):  # noqa: N818 (the names are the API)
    status = 413
    code = "EntityTooLarge"


class ConversionFailed(DocumentError):  # noqa: N818 (the names are the API)
    status = 500
    code = "ConversionFailed"


# --- what a document is ------------------------------------------------------------------------

@dataclass(frozen=True)
class DocumentType:
    """How to read a document: a PDF, plain text (in ``charset`` when one was declared), or an
    Office format (``suffix`` is the one LibreOffice gets)."""

    kind: Literal["pdf", "text", "office"]
    suffix: str = ""
    charset: str | None = None


def detect_type(data: bytes, *, key: str = "", content_type: str | None = None) -> DocumentType:
    """What ``data`` is, by content, then by the key's suffix, then by the ``Content-Type``."""
    media_type, charset = _media_type(content_type)
    if PDF_SIGNATURE in data[:SIGNATURE_WINDOW]:
        return DocumentType("pdf")
    suffix = PurePosixPath(key).suffix.lower()
    if suffix == ".pdf" or (not suffix and media_type == "application/pdf"):
        raise CorruptDocument("The document is not a PDF: it lacks the %PDF- signature")
    if suffix == ".txt" or (not suffix and media_type == "text/plain"):
        return DocumentType("text", charset=charset if media_type == "text/plain" else None)
    if suffix in OFFICE_SUFFIXES:
        return DocumentType("office", suffix=suffix)
    if not suffix and media_type in OFFICE_MEDIA_TYPES:
        return DocumentType("office", suffix=OFFICE_MEDIA_TYPES[media_type])
    raise UnsupportedMediaType("Only PDF, plain text (.txt) and Office documents (.doc, .docx, "
                               ".odt, .rtf, .xls, .xlsx, .ods, .ppt, .pptx, .odp) are supported")


def _media_type(content_type: str | None) -> tuple[str | None, str | None]:
    if not content_type:
        return None, None
    message = Message()
    message["Content-Type"] = content_type
    charset = message.get_content_charset()
    return message.get_content_type(), charset


def decode_text(data: bytes, charset: str | None = None) -> str:
    """The text in ``data``: a byte-order mark decides, else ``charset``, else UTF-8. Only
    character encodings are read (``TEXT_CODECS``); any other charset, and bytes that are not
    valid in the encoding, are ``UnsupportedMediaType``."""
    codec = _text_codec(charset) if charset else "utf_8"
    # UTF-32's little-endian mark begins with UTF-16's, so it counts only in declared UTF-32.
    marks = _UTF_32_MARKS if codec is not None and codec.startswith("utf_32") else ()
    named = "its declared charset" if charset else "UTF-8"
    for mark, encoding, name in (*marks, *_MARKS):
        if data.startswith(mark):
            data, codec, named = data[len(mark):], encoding, name
            break
    if codec is None:
        raise UnsupportedMediaType("The text's charset is not a character encoding this "
                                   "function reads; use UTF-8")
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise UnsupportedMediaType(f"The text is not valid {named}; text documents must be "
                                   "UTF-8 or declare their charset") from None
    except (LookupError, ValueError):  # a codec missing from this Python, or failing oddly
        raise UnsupportedMediaType("The text's charset is not a character encoding this "
                                   "function reads; use UTF-8") from None


_MARKS = ((codecs.BOM_UTF8, "utf_8", "UTF-8"), (codecs.BOM_UTF16_LE, "utf_16_le", "UTF-16"),
          (codecs.BOM_UTF16_BE, "utf_16_be", "UTF-16"))
_UTF_32_MARKS = ((codecs.BOM_UTF32_LE, "utf_32_le", "UTF-32"),
                 (codecs.BOM_UTF32_BE, "utf_32_be", "UTF-32"))


def _text_codec(charset: str) -> str | None:
    """Python's codec for ``charset`` (any case, IANA's name or one of Python's aliases) when
    it is one of ``TEXT_CODECS``, else ``None``. The name is looked up in the standard
    library's alias table, never through ``codecs.lookup``, so no other codec is ever tried."""
    name = "_".join(_NAME_PARTS.findall(charset.lower()))
    name = codec_aliases.get(name, name)
    return name if name in TEXT_CODECS else None


# --- WinAnsi text ------------------------------------------------------------------------------

def _winansi(text: str) -> bytes:
    """``text`` in WinAnsiEncoding, every character Helvetica cannot draw there as '?'."""
    encoded = unicodedata.normalize("NFC", text).encode("cp1252", errors="replace")
    return encoded.translate(_DRAWABLE, delete=b"\xad")  # a soft hyphen is a hint, not a glyph


def _width(encoded: bytes, size: float) -> float:
    return sum(map(_HELVETICA_WIDTHS.__getitem__, encoded)) * size / 1000


def _hex(encoded: bytes) -> str:
    return f"<{encoded.hex().upper()}>"


def _number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _matrix(values: tuple[float, float, float, float, float, float]) -> str:
    return " ".join(_number(value) for value in values)


def _stream(data: bytes, entries: dict[str, PdfObject] | None = None, *,
            compress: bool = False) -> StreamObject:
    stream = StreamObject()
    if compress:
        stream.set_data(zlib.compress(data, 6))
        stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    else:
        stream.set_data(data)
    for key, value in (entries or {}).items():
        stream[NameObject(key)] = value
    return stream


def _add(writer: PdfWriter, value: PdfObject) -> IndirectObject:
    """``value`` as a new indirect object of ``writer`` (pypdf has no public way to do this)."""
    return writer._add_object(value)


def _helvetica() -> DictionaryObject:
    return DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding")})


# --- plain text ----------------------------------------------------------------------------------

def text_to_pdf(text: str) -> bytes:
    """``text`` set on A4 pages in Helvetica 10 pt (see the module docstring);
    ``DocumentTooLarge`` beyond ``MAX_TEXT_CHARACTERS`` or ``MAX_PAGES``."""
    width, height = A4
    limit = (width - 2 * TEXT_MARGIN) * 1000 / TEXT_SIZE  # the measure, in 1/1000 em
    per_page = int((height - 2 * TEXT_MARGIN) // TEXT_LEADING)
    _check_text_size(text, per_page)
    pages: list[list[bytes]] = []
    sheets = text.split("\f")
    if len(sheets) > 1 and not sheets[-1].strip("\r\n"):
        sheets.pop()  # a trailing form feed does not add a blank page
    for sheet in sheets:
        page = _new_page(pages)
        for line in sheet.splitlines():
            # Spaces at the end of a line are not seen: a line of tabs is one blank line.
            for piece in _wrap(_winansi(line.expandtabs(TAB_SIZE)).rstrip(b" "), limit):
                if len(page) == per_page:
                    page = _new_page(pages)
                page.append(piece)

    writer = PdfWriter()
    font = _add(writer, _helvetica())
    resources = _add(writer, DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): font}),
        NameObject("/ProcSet"): ArrayObject([NameObject("/PDF"), NameObject("/Text")])}))
    top = height - TEXT_MARGIN - TEXT_SIZE
    for lines in pages:
        page_object = writer.add_blank_page(width, height)
        operations = [f"BT /F1 {_number(TEXT_SIZE)} Tf {_number(TEXT_LEADING)} TL "
                      f"{_number(TEXT_MARGIN)} {_number(top)} Td"]
        operations.extend(f"{_hex(line)} Tj T*" if line else "T*" for line in lines)
        operations.append("ET\n")
        page_object[NameObject("/Resources")] = resources
        page_object[NameObject("/Contents")] = _add(
            writer, _stream("\n".join(operations).encode("ascii"), compress=True))
    writer.add_metadata({"/Producer": PRODUCER})
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _check_text_size(text: str, per_page: int) -> None:
    """Refuse, before any of it is set, text longer than ``MAX_TEXT_CHARACTERS`` (a tab
    counting as ``TAB_SIZE``) or with more line breaks or form feeds than ``MAX_PAGES`` pages
    hold (each break starts a line, each form feed a page)."""
    characters = len(text) + (TAB_SIZE - 1) * text.count("\t")
    if characters > MAX_TEXT_CHARACTERS:
        raise DocumentTooLarge(f"The text is longer than {MAX_TEXT_CHARACTERS:,} characters "
                               f"(a tab counting as {TAB_SIZE})")
    breaks = sum(map(text.count, _LINE_BREAKS)) - text.count("\r\n")
    if breaks > MAX_PAGES * per_page or text.count("\f") > MAX_PAGES:
        raise DocumentTooLarge(f"The text needs more than {MAX_PAGES} pages")


def _new_page(pages: list[list[bytes]]) -> list[bytes]:
    if len(pages) >= MAX_PAGES:
        raise DocumentTooLarge(f"The text needs more than {MAX_PAGES} pages")
    page: list[bytes] = []
    pages.append(page)
    return page


def _wrap(line: bytes, limit: float) -> Iterator[bytes]:
    """``line`` (WinAnsi bytes Helvetica draws) in pieces no wider than ``limit`` (1/1000 em,
    at least a character's): broken at the last space that fits, which is dropped (other
    spaces stay), or, in a word wider than a line, after the last character that fits. The
    work is per piece, not per word or space (see ``_fitting``)."""
    end = len(line)
    if _units(line) <= limit:
        yield line
        return
    begin, count = 0, 0
    while begin < end:
        count = _fitting(line, begin, count, limit)
        stop = begin + count
        if stop >= end:
            yield line[begin:]
            return
        space = stop if line[stop] == _SPACE else line.rfind(b" ", begin + 1, stop)
        if space > begin:
            yield line[begin:space]
            begin = space + 1
        else:  # a word wider than a line
            yield line[begin:stop]
            begin = stop


def _fitting(line: bytes, begin: int, guess: int, limit: float) -> int:
    """How many characters of ``line`` from ``begin`` fit in ``limit``. It starts from
    ``guess`` (the previous piece's count: pieces tend to be alike), aims once by the average
    width when that is off by more than a character, then measures runs of characters that
    surely fit, or surely overflow, at once (``_units``), and single ones only within the widest
    character's width of the edge. The number of steps does not grow with the piece."""
    end = len(line)
    count = max(1, min(guess, end - begin))
    used = _units(line[begin:begin + count])
    if used > limit or (begin + count < end and limit - used >= _MAX_WIDTH):
        count = max(1, min(int(count * limit / max(used, 1)), end - begin))
        used = _units(line[begin:begin + count])
    while used > limit and count > 1:  # drop characters; never so many that the rest is short
        drop = max(1, int((used - limit) // _MAX_WIDTH))
        used -= _units(line[begin + count - drop:begin + count])
        count -= drop
    while begin + count < end:  # add characters
        room = limit - used
        add = min(int(room // _MAX_WIDTH), end - begin - count)
        if add:
            used += _units(line[begin + count:begin + count + add])
            count += add
        elif (width := _HELVETICA_WIDTHS[line[begin + count]]) <= room:
            used += width
            count += 1
        else:
            break
    return count


def _units(encoded: bytes) -> int:
    """The width of ``encoded`` in 1/1000 em. Each byte is translated to the high and the low
    byte of its width, so ``sum`` adds them with no Python call per character."""
    return sum(encoded.translate(_WIDTH_HIGH)) * 256 + sum(encoded.translate(_WIDTH_LOW))


# --- Office formats ----------------------------------------------------------------------------

def convert_office(data: bytes, suffix: str, soffice: Path, *,
                   timeout_seconds: float = OFFICE_TIMEOUT_SECONDS) -> bytes:
    """The PDF LibreOffice makes of ``data`` (an Office document whose name ends in
    ``suffix``), with ``soffice`` headless."""
    suffix = suffix.lower()
    if suffix not in OFFICE_SUFFIXES:
        raise UnsupportedMediaType(f"{suffix or 'This type'} is not an Office format")
    with tempfile.TemporaryDirectory(prefix="office-") as folder:
        work = Path(folder)
        source = work / f"document{suffix}"
        source.write_bytes(data)
        target = work / "pdf"
        target.mkdir()
        OFFICE_HOME.mkdir(mode=0o700, parents=True, exist_ok=True)
        environment = {name: os.environ[name] for name in OFFICE_ENVIRONMENT
                       if name in os.environ}
        environment.update(HOME=str(OFFICE_HOME), TMPDIR=str(work))
        command = [str(soffice), f"-env:UserInstallation={(OFFICE_HOME / 'profile').as_uri()}",
                   "--headless", "--invisible", "--nodefault", "--nolockcheck", "--nologo",
                   "--norestore", "--convert-to", "pdf", "--outdir", str(target), str(source)]
        returncode, output = _run(command, environment, work, timeout_seconds)
        converted = target / "document.pdf"
        pdf = converted.read_bytes() if converted.is_file() else b""
    if returncode == 0 and pdf.startswith(PDF_SIGNATURE):
        return pdf
    if returncode == 0 or "could not be loaded" in output:
        raise CorruptDocument("The document could not be converted to PDF: it is damaged or "
                              "not in the format its name says")
    shutil.rmtree(OFFICE_HOME, ignore_errors=True)  # a profile left broken must not stay
    raise ConversionFailed(f"The Office conversion failed (LibreOffice exit status "
                           f"{returncode})")


def _run(command: list[str], environment: dict[str, str], folder: Path,
         timeout_seconds: float) -> tuple[int, str]:
    """Run ``command`` in its own process group; its exit status and output."""
    try:
        process = subprocess.Popen(  # noqa: S603 (a configured executable, no shell)
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=environment, cwd=folder, start_new_session=True)
    except OSError as error:
        raise ConversionFailed("LibreOffice could not be started") from error
    try:
        output, _ = process.communicate(timeout=timeout_seconds)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        shutil.rmtree(OFFICE_HOME, ignore_errors=True)
        raise ConversionFailed(f"The Office conversion took longer than "
                               f"{timeout_seconds:g} s") from None
    finally:
        _kill_group(process)  # helpers LibreOffice started must not outlive the request
    return process.returncode, output.decode("utf-8", errors="replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# --- stamping ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Stamped:
    """A stamped document and its page count."""

    pdf: bytes
    pages: int


def stamp_pdf(pdf: bytes, *, watermark: str, access_id: str) -> bytes:
    """``pdf`` stamped with ``watermark`` on every page, ``access_id`` in its metadata, and
    encrypted read-only (see the module docstring)."""
    return stamp(pdf, watermark=watermark, access_id=access_id).pdf


def stamp(pdf: bytes, *, watermark: str, access_id: str) -> Stamped:
    """As ``stamp_pdf``, answering the page count too."""
    text = _winansi(" ".join(watermark.split()))
    if not text or len(text) > MAX_WATERMARK_CHARACTERS:
        raise ValueError(f"the watermark must have 1 to {MAX_WATERMARK_CHARACTERS} characters")
    if not access_id:
        raise ValueError("the access id must not be empty")
    reader = _open(pdf)
    try:
        writer = PdfWriter(clone_from=reader)
        pages = _stamp_pages(writer, text)
        writer.add_metadata({
            "/AccessId": access_id, "/Producer": PRODUCER,
            "/ModDate": datetime.now(UTC).strftime("D:%Y%m%d%H%M%SZ")})
        writer.encrypt(user_password="", owner_password=secrets.token_urlsafe(32),
                       permissions_flag=PERMISSIONS, algorithm="AES-256")
        output = io.BytesIO()
        writer.write(output)
    except DependencyError:  # pypdf without cryptography: the function's fault, not the PDF's
        raise
    except _PDF_ERRORS as error:
        raise _unreadable(error, "The PDF could not be read: it is damaged") from error
    return Stamped(output.getvalue(), pages)


def _open(pdf: bytes) -> PdfReader:
    try:
        # pypdf reads the encryption dictionary here and tries the empty password.
        reader = PdfReader(io.BytesIO(pdf), strict=False)
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise EncryptedDocument("The PDF is protected by a password")
        count = len(reader.pages)
    except DependencyError:
        raise
    except _PDF_ERRORS as error:
        raise _unreadable(error, "The PDF could not be read: it is damaged or not a PDF") \
            from error
    if count == 0:
        raise CorruptDocument("The PDF has no pages")
    if count > MAX_PAGES:
        raise DocumentTooLarge(f"The PDF has more than {MAX_PAGES} pages")
    return reader


def _unreadable(error: BaseException, message: str) -> DocumentError:
    """The refusal for a PDF pypdf failed on with ``error``: ``EncryptedDocument`` when it
    lacks the document's kind of encryption (a security handler other than the standard one,
    such as the public-key /Adobe.PubSec, an algorithm version or a crypt filter method it does
    not implement), else ``CorruptDocument`` with ``message`` (or, for another feature pypdf
    lacks, a message that says so)."""
    if not isinstance(error, NotImplementedError):
        return CorruptDocument(message)
    if _raised_in(error, "pypdf._encryption"):
        return EncryptedDocument("The PDF is encrypted in a way this function does not read")
    return CorruptDocument("The PDF could not be read: it uses a feature this function does "
                           "not read")


def _raised_in(error: BaseException, module: str) -> bool:
    """Whether ``error`` was raised by code of ``module`` (pypdf's exceptions do not say which
    part of the document they concern)."""
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_globals.get("__name__") == module:
            return True
        trace = trace.tb_next
    return False


@dataclass(frozen=True)
class _Marks:
    """What every page shares: the two forms and the stream that opens each page's ``q``."""

    watermark: IndirectObject
    watermark_width: float
    watermark_size: float
    footer: IndirectObject
    footer_width: float
    opening: IndirectObject


def _stamp_pages(writer: PdfWriter, text: bytes) -> int:
    marks = _make_marks(writer, text)
    seen: set[int] = set()
    count = 0
    for page in writer.pages:
        count += 1
        reference = page.indirect_reference
        if reference is not None:
            if reference.idnum in seen:  # a page object listed twice in the page tree
                continue
            seen.add(reference.idnum)
        _stamp_page(writer, page, marks)
    return count


def _make_marks(writer: PdfWriter, text: bytes) -> _Marks:
    font = _add(writer, _helvetica())
    size = 100.0  # the form's own size; each page scales it
    width = _width(text, size)
    watermark_form = _add(writer, _form(
        f"/BpGs gs {_number(GREY)} g BT /BpF {_number(size)} Tf "
        f"{_number(-width / 2)} {_number(-_CAP_HEIGHT * size / 2)} Td {_hex(text)} Tj ET\n",
        (-width / 2 - size / 10, -(_CAP_HEIGHT / 2 + _DESCENT) * size - 1,
         width / 2 + size / 10, (_ASCENT - _CAP_HEIGHT / 2) * size + 1),
        font, OPACITY))
    footer_width = _width(text, FOOTER_SIZE)
    footer_form = _add(writer, _form(
        f"/BpGs gs {_number(GREY * 0.6)} g BT /BpF {_number(FOOTER_SIZE)} Tf "
        f"{_number(-footer_width / 2)} 0 Td {_hex(text)} Tj ET\n",
        (-footer_width / 2 - 1, -_DESCENT * FOOTER_SIZE - 1, footer_width / 2 + 1,
         _ASCENT * FOOTER_SIZE + 1),
        font, FOOTER_OPACITY))
    return _Marks(watermark_form, width, size, footer_form, footer_width,
                  _add(writer, _stream(b"q\n")))


def _form(content: str, bbox: tuple[float, float, float, float], font: IndirectObject,
          opacity: float) -> StreamObject:
    state = DictionaryObject({NameObject("/Type"): NameObject("/ExtGState"),
                              NameObject("/ca"): FloatObject(opacity),
                              NameObject("/CA"): FloatObject(opacity)})
    return _stream(content.encode("ascii"), {
        "/Type": NameObject("/XObject"), "/Subtype": NameObject("/Form"),
        "/FormType": NumberObject(1),
        "/BBox": ArrayObject(FloatObject(round(value, 3)) for value in bbox),
        "/Resources": DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/BpF"): font}),
            NameObject("/ExtGState"): DictionaryObject({NameObject("/BpGs"): state}),
            NameObject("/ProcSet"): ArrayObject([NameObject("/PDF"), NameObject("/Text")])}),
    })


def _stamp_page(writer: PdfWriter, page: PageObject, marks: _Marks) -> None:
    x0, y0, x1, y1 = _visible_box(page)
    rotation = _rotation(page)
    # The page as the reader sees it: /Rotate turns it clockwise.
    seen_width, seen_height = (y1 - y0, x1 - x0) if rotation in (90, 270) else (x1 - x0, y1 - y0)
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)

    diagonal = math.hypot(seen_width, seen_height)
    letters = min(DIAGONAL_SHARE * diagonal / marks.watermark_width * marks.watermark_size,
                  MAX_LETTER_SHARE * min(seen_width, seen_height))
    watermark = _placement(centre, rotation, seen_width, seen_height,
                           (seen_width / 2, seen_height / 2),
                           math.atan2(seen_height, seen_width), letters / marks.watermark_size)
    footer_scale = min(1.0, max(seen_width - 2 * FOOTER_MARGIN, 1.0) / marks.footer_width)
    footer = _placement(centre, rotation, seen_width, seen_height,
                        (seen_width / 2, min(FOOTER_MARGIN, seen_height / 4)), 0.0,
                        footer_scale)

    resources = _resolved(page.get("/Resources"))
    if not isinstance(resources, DictionaryObject):
        resources = DictionaryObject()
        page[NameObject("/Resources")] = resources
    xobjects = _resolved(resources.get("/XObject"))
    if not isinstance(xobjects, DictionaryObject):
        xobjects = DictionaryObject()
        resources[NameObject("/XObject")] = xobjects
    watermark_name = _resource_name(xobjects, "/BpWatermark", marks.watermark)
    footer_name = _resource_name(xobjects, "/BpFooter", marks.footer)

    tail = (f"\nQ\nq {_matrix(watermark)} cm {watermark_name} Do Q\n"
            f"q {_matrix(footer)} cm {footer_name} Do Q\n")
    page[NameObject("/Contents")] = ArrayObject([
        marks.opening, *_content_references(writer, page),
        _add(writer, _stream(tail.encode("ascii")))])


def _resolved(value: object) -> object:
    """``value``, or what it refers to (``dict.get`` does not follow references)."""
    return value.get_object() if isinstance(value, IndirectObject) else value


def _visible_box(page: PageObject) -> tuple[float, float, float, float]:
    """The crop box within the media box (both normalised), or the media box alone."""
    media = _normalised(page.mediabox)
    crop = _normalised(page.cropbox)
    box = (max(media[0], crop[0]), max(media[1], crop[1]),
           min(media[2], crop[2]), min(media[3], crop[3]))
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        box = media
    if box[2] - box[0] < 1 or box[3] - box[1] < 1:
        raise CorruptDocument("A page of the PDF has no area")
    return box


def _normalised(rectangle: object) -> tuple[float, float, float, float]:
    left, bottom, right, top = (float(value) for value in rectangle)  # type: ignore[attr-defined]
    if not all(math.isfinite(value) for value in (left, bottom, right, top)):
        raise CorruptDocument("A page of the PDF has a box that is not a rectangle")
    return min(left, right), min(bottom, top), max(left, right), max(bottom, top)


def _rotation(page: PageObject) -> int:
    """``/Rotate``, to the nearest quarter turn in 0-270 (other values are invalid)."""
    try:
        value = float(_resolved(page.get("/Rotate", 0)))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0
    if not math.isfinite(value):
        return 0
    return int(((value % 360) + 45) // 90 * 90) % 360


_QUARTER_TURNS = {0: (1.0, 0.0), 90: (0.0, 1.0), 180: (-1.0, 0.0), 270: (0.0, -1.0)}


def _placement(centre: tuple[float, float], rotation: int, seen_width: float,
               seen_height: float, point: tuple[float, float], angle: float,
               scale: float) -> tuple[float, float, float, float, float, float]:
    """The ``cm`` matrix that puts a form's origin at ``point`` of the page as the reader sees
    it (from its bottom left corner), turned ``angle`` radians counter-clockwise there and
    scaled by ``scale``."""
    cos_r, sin_r = _QUARTER_TURNS[rotation]
    # The reader's right is (cos_r, sin_r) in user space, the reader's up (-sin_r, cos_r).
    u, v = point[0] - seen_width / 2, point[1] - seen_height / 2
    x = centre[0] + u * cos_r - v * sin_r
    y = centre[1] + u * sin_r + v * cos_r
    turn = angle + math.radians(rotation)
    cos_t, sin_t = math.cos(turn), math.sin(turn)
    return (scale * cos_t, scale * sin_t, -scale * sin_t, scale * cos_t, x, y)


def _resource_name(xobjects: DictionaryObject, base: str, form: IndirectObject) -> str:
    """``base``, or ``base`` with a number when the page already uses that name for another
    object (resource dictionaries are often shared, so ours may be there already)."""
    name, number = base, 1
    while name in xobjects:
        existing = xobjects.raw_get(name)
        if isinstance(existing, IndirectObject) and existing.idnum == form.idnum:
            return name
        number += 1
        name = f"{base}{number}"
    xobjects[NameObject(name)] = form
    return name


def _content_references(writer: PdfWriter, page: PageObject) -> list[PdfObject]:
    """The page's content streams, as references (direct streams are made indirect)."""
    if "/Contents" not in page:
        return []
    contents: PdfObject = page.raw_get("/Contents")
    if isinstance(contents, IndirectObject):
        resolved = contents.get_object()
        if not isinstance(resolved, ArrayObject):
            return [contents]
        contents = resolved
    items = list(contents) if isinstance(contents, ArrayObject) else [contents]
    references: list[PdfObject] = []
    for item in items:
        if isinstance(item, IndirectObject):
            references.append(item)
        elif isinstance(item, StreamObject):
            references.append(_add(writer, item))
    return references
