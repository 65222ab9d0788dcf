"""The document transform: the stamping library on real PDFs, and the S3 Object Lambda handler
against a local HTTP server standing in for S3 and a stubbed ``WriteGetObjectResponse``."""

from __future__ import annotations

import io
import itertools
import json
import math
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote

import pdf_watermark as watermark
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from pypdf import PasswordType, PdfReader
from pypdf.constants import UserAccessPermissions as Permission
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, NumberObject, StreamObject

from tests.functions.document_support import (
    ACCESS_ID,
    SAMPLE_PAGES,
    WATERMARK,
    PageSpec,
    Served,
    Source,
    body_text,
    drawn_forms,
    entry,
    fake_soffice,
    inherited_pdf,
    make_pdf,
    object_lambda_event,
    object_stream_pdf,
    open_stamped,
    pdf_writer,
    reencrypted_pdf,
    seen_direction,
    seen_point,
    seen_size,
    serve,
    to_bytes,
)
from tests.functions.events import LambdaContext
from tests.functions.test_entity_index_builder import (
    import_fresh,
    powertools_environment,
    set_aws_environment,
)

CONTEXT = LambdaContext("document-transform", 1024)

MODULE = "document_transform.app"


def stamp(pdf: bytes, text: str = WATERMARK) -> bytes:
    return watermark.stamp_pdf(pdf, watermark=text, access_id=ACCESS_ID)


@pytest.fixture(scope="module")
def sample() -> bytes:
    return make_pdf()


@pytest.fixture(scope="module")
def stamped(sample: bytes) -> PdfReader:
    return open_stamped(stamp(sample))


# --- stamping ----------------------------------------------------------------------------------

def test_every_page_carries_the_watermark_and_keeps_its_content(stamped: PdfReader) -> None:
    assert len(stamped.pages) == len(SAMPLE_PAGES)
    for number, page in enumerate(stamped.pages, start=1):
        text = page.extract_text()
        assert body_text(number) in text
        assert text.count(WATERMARK) == 2  # the diagonal and the footer


def test_pages_keep_their_rotation_and_boxes(stamped: PdfReader) -> None:
    for page, spec in zip(stamped.pages, SAMPLE_PAGES, strict=True):
        assert page.rotation == spec.rotate
        assert tuple(float(value) for value in page.mediabox) == spec.box


def test_the_access_id_is_in_the_metadata(stamped: PdfReader) -> None:
    assert stamped.metadata is not None
    assert stamped.metadata["/AccessId"] == ACCESS_ID
    assert stamped.metadata["/Producer"] == watermark.PRODUCER


def test_the_copy_is_aes_256_and_opens_without_a_password(sample: bytes) -> None:
    reader = PdfReader(io.BytesIO(stamp(sample)))
    assert (entry(reader.trailer, "/Encrypt", "/V"), entry(reader.trailer, "/Encrypt", "/R")) \
        == (5, 6)
    assert entry(reader.trailer, "/Encrypt", "/CF", "/StdCF", "/CFM") == "/AESV3"
    # The empty password opens it as a user, not as the owner: the owner password is not empty.
    assert reader.decrypt("") == PasswordType.USER_PASSWORD


def test_the_copy_may_be_printed_and_read_aloud_only(stamped: PdfReader) -> None:
    permissions = stamped.user_access_permissions
    assert permissions is not None
    assert stamped.are_permissions_valid  # /Perms agrees with /P
    assert Permission.PRINT in permissions
    assert Permission.PRINT_TO_REPRESENTATION in permissions
    assert Permission.EXTRACT_TEXT_AND_GRAPHICS in permissions  # accessibility only
    for denied in (Permission.MODIFY, Permission.EXTRACT, Permission.ADD_OR_MODIFY,
                   Permission.FILL_FORM_FIELDS, Permission.ASSEMBLE_DOC):
        assert denied not in permissions, denied.name


def test_every_copy_gets_its_own_owner_password(sample: bytes) -> None:
    first, second = (PdfReader(io.BytesIO(stamp(sample))) for _ in range(2))
    assert entry(first.trailer, "/Encrypt", "/O") != entry(second.trailer, "/Encrypt", "/O")


@pytest.mark.parametrize("number", range(len(SAMPLE_PAGES)))
def test_the_watermark_runs_diagonally_through_the_middle_as_the_reader_sees_it(
        stamped: PdfReader, number: int) -> None:
    page = stamped.pages[number]
    width, height = seen_size(page)
    a, b, _, _, e, f = drawn_forms(page)["/BpWatermark"]
    assert seen_point(page, e, f) == pytest.approx((width / 2, height / 2))
    # (the matrix is written to four decimals)
    assert seen_direction(page, a, b) == pytest.approx(math.degrees(math.atan2(height, width)),
                                                       abs=0.05)
    form = entry(page, "/Resources", "/XObject", "/BpWatermark")
    left, _, right, _ = (float(value) for value in form["/BBox"])
    assert (right - left) * math.hypot(a, b) < math.hypot(width, height)


@pytest.mark.parametrize("number", range(len(SAMPLE_PAGES)))
def test_the_footer_is_level_along_the_bottom_edge(stamped: PdfReader, number: int) -> None:
    page = stamped.pages[number]
    width, _ = seen_size(page)
    a, b, _, _, e, f = drawn_forms(page)["/BpFooter"]
    assert seen_point(page, e, f) == pytest.approx((width / 2, watermark.FOOTER_MARGIN))
    assert seen_direction(page, a, b) == pytest.approx(0, abs=1e-6)


def test_pages_share_one_form_and_get_a_small_stream_each(stamped: PdfReader) -> None:
    forms = {entry(page, "/Resources", "/XObject").raw_get(name).idnum
             for page in stamped.pages for name in ("/BpWatermark", "/BpFooter")}
    assert len(forms) == 2
    for page in stamped.pages:
        assert entry(page, "/Contents", 0).get_data() == b"q\n"
        assert len(entry(page, "/Contents", -1).get_data()) < 200


def test_inherited_rotation_box_and_resources_are_followed() -> None:
    reader = open_stamped(stamp(inherited_pdf()))
    for page in reader.pages:
        assert page.rotation == 270
        width, height = seen_size(page)
        assert (width, height) == (600, 400)
        a, b, _, _, e, f = drawn_forms(page)["/BpWatermark"]
        assert seen_point(page, e, f) == pytest.approx((300, 200))
        assert seen_direction(page, a, b) == pytest.approx(math.degrees(math.atan2(400, 600)),
                                                           abs=0.05)
        assert WATERMARK in page.extract_text()


def test_a_hundred_pages_are_stamped() -> None:
    pdf = make_pdf([PageSpec(rotate=90 * (number % 4)) for number in range(100)])
    result = watermark.stamp(pdf, watermark=WATERMARK, access_id=ACCESS_ID)
    assert result.pages == 100
    reader = open_stamped(result.pdf)
    assert all(WATERMARK in page.extract_text() for page in reader.pages)


def test_characters_winansi_lacks_are_drawn_as_question_marks(sample: bytes) -> None:
    reader = open_stamped(stamp(sample, "Ζωή Müller ✓ 2026"))
    assert "??? Müller ? 2026" in reader.pages[0].extract_text()


def test_names_the_document_already_uses_are_left_alone() -> None:
    writer = pdf_writer([PageSpec()])
    own = StreamObject()
    own.set_data(b"BT /F1 12 Tf 36 400 Td (The document's own form) Tj ET")
    own.update({NameObject("/Type"): NameObject("/XObject"),
                NameObject("/Subtype"): NameObject("/Form"),
                NameObject("/BBox"): ArrayObject(NumberObject(value) for value in (0, 0, 612, 792)),
                NameObject("/Resources"): entry(writer.pages[0], "/Resources")})
    entry(writer.pages[0], "/Resources")[NameObject("/XObject")] = DictionaryObject(
        {NameObject("/BpWatermark"): writer._add_object(own)})
    extra = StreamObject()
    extra.set_data(b"q /BpWatermark Do Q\n")
    writer.pages[0][NameObject("/Contents")] = ArrayObject(
        [writer.pages[0].raw_get("/Contents"), writer._add_object(extra)])
    page = open_stamped(stamp(to_bytes(writer))).pages[0]
    assert set(drawn_forms(page)) == {"/BpWatermark", "/BpWatermark2", "/BpFooter"}
    assert b"own form" in entry(page, "/Resources", "/XObject", "/BpWatermark").get_data()
    text = page.extract_text()
    assert "The document's own form" in text
    assert text.count(WATERMARK) == 2


def test_documents_over_the_page_limit_are_too_large(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watermark, "MAX_PAGES", 3)
    with pytest.raises(watermark.DocumentTooLarge) as raised:
        stamp(make_pdf([PageSpec()] * 4))
    assert (raised.value.status, raised.value.code) == (413, "EntityTooLarge")
    assert len(open_stamped(stamp(make_pdf([PageSpec()] * 3))).pages) == 3
    with pytest.raises(watermark.DocumentTooLarge):
        watermark.text_to_pdf("line\n" * 500)


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_a_pdf_that_opens_without_a_password_is_accepted(algorithm: str) -> None:
    pdf = make_pdf(SAMPLE_PAGES[:2], user_password="", algorithm=algorithm)
    reader = open_stamped(stamp(pdf))
    assert [WATERMARK in page.extract_text() for page in reader.pages] == [True, True]
    assert (entry(reader.trailer, "/Encrypt", "/V"), entry(reader.trailer, "/Encrypt", "/R")) \
        == (5, 6)


def test_a_pdf_that_needs_a_password_is_refused() -> None:
    with pytest.raises(watermark.EncryptedDocument) as raised:
        stamp(make_pdf(SAMPLE_PAGES[:1], user_password="secret", algorithm="AES-256"))
    assert (raised.value.status, raised.value.code) == (422, "EncryptedDocument")
    assert "password" in raised.value.message


# Encryption pypdf does not implement: the public-key security handler, a handler nobody knows
# (or none named), algorithm versions it lacks (/V 7 is in no standard, /V 0 is undocumented),
# a /SubFilter, and a crypt filter method it lacks.
UNSUPPORTED_ENCRYPTION: dict[str, dict[str, Any]] = {
    "public-key": {"Filter": NameObject("/Adobe.PubSec"),
                   "SubFilter": NameObject("/adbe.pkcs7.s5")},
    "unknown-handler": {"Filter": NameObject("/AcmeSecurity")},
    "no-handler": {"Filter": None},
    "v7": {"V": NumberObject(7)},
    "v0": {"V": NumberObject(0)},
    "sub-filter": {"SubFilter": NameObject("/adbe.pkcs7.s4")},
    "unknown-crypt-method": {"CFM": NameObject("/AcmeCrypt")},
}


def test_a_reencrypted_pdf_is_stamped_when_left_as_it_was() -> None:
    reader = open_stamped(stamp(reencrypted_pdf()))
    assert WATERMARK in reader.pages[0].extract_text()


@pytest.mark.parametrize("entries", UNSUPPORTED_ENCRYPTION.values(),
                         ids=UNSUPPORTED_ENCRYPTION.keys())
def test_a_pdf_encrypted_in_a_way_pypdf_does_not_read_is_refused(entries: dict[str, Any]) -> None:
    with pytest.raises(watermark.EncryptedDocument) as raised:
        stamp(reencrypted_pdf(**entries))
    assert (raised.value.status, raised.value.code) == (422, "EncryptedDocument")
    assert "encrypted in a way" in raised.value.message


@pytest.mark.parametrize("data", [
    b"",
    b"%PDF-1.7\nnot a PDF after all\n%%EOF\n",
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\ntrailer << /Root 1 0 R >>\n"
    b"%%EOF\n",
    make_pdf(SAMPLE_PAGES[:2])[:300],
    object_stream_pdf("/AcmeDecode"),
], ids=["empty", "nonsense", "no-pages", "truncated", "unknown-stream-filter"])
def test_a_corrupt_pdf_is_refused(data: bytes) -> None:
    with pytest.raises(watermark.CorruptDocument) as raised:
        stamp(data)
    assert (raised.value.status, raised.value.code) == (422, "CorruptDocument")


def test_the_watermark_and_access_id_must_not_be_empty(sample: bytes) -> None:
    with pytest.raises(ValueError, match="watermark"):
        watermark.stamp_pdf(sample, watermark=" \t", access_id=ACCESS_ID)
    with pytest.raises(ValueError, match="access id"):
        watermark.stamp_pdf(sample, watermark=WATERMARK, access_id="")


@pytest.mark.parametrize(("error", "status", "code"), [
    (watermark.CorruptDocument, 422, "CorruptDocument"),
    (watermark.EncryptedDocument, 422, "EncryptedDocument"),
    (watermark.UnsupportedMediaType, 415, "UnsupportedMediaType"),
    (watermark.DocumentTooLarge, 413, "EntityTooLarge"),
    (watermark.ConversionFailed, 500, "ConversionFailed"),
])
def test_errors_say_how_to_answer(error: type[watermark.DocumentError], status: int,
                                  code: str) -> None:
    assert issubclass(error, watermark.DocumentError)
    assert (error.status, error.code) == (status, code)
    assert error("shown").message == "shown"


# --- plain text ---------------------------------------------------------------------------------

def lines_of(reader: PdfReader) -> list[list[str]]:
    return [page.extract_text().splitlines() for page in reader.pages]


def test_text_becomes_a4_pages_of_helvetica() -> None:
    reader = PdfReader(io.BytesIO(watermark.text_to_pdf("Hello, world.\nSecond line.")))
    page = reader.pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (595, 842)
    font = entry(page, "/Resources", "/Font", "/F1")
    assert (font["/BaseFont"], font["/Encoding"]) == ("/Helvetica", "/WinAnsiEncoding")
    assert lines_of(reader) == [["Hello, world.", "Second line."]]


def test_long_lines_wrap_at_spaces_and_words_longer_than_a_line_are_cut() -> None:
    words = " ".join(f"word{number:03d}" for number in range(200))
    reader = PdfReader(io.BytesIO(watermark.text_to_pdf(words + "\n" + "x" * 500)))
    lines = lines_of(reader)[0]
    # Helvetica's x is 0.5 em: 96 of them at 10 pt fill the 481.9 pt between the margins.
    wrapped, cut = lines[:-6], lines[-6:]
    assert " ".join(wrapped).split() == words.split()
    assert all(len(line) <= 96 for line in lines)
    assert len(wrapped) > 10
    assert cut == ["x" * 96] * 5 + ["x" * 20]


def test_text_is_paginated_and_a_form_feed_starts_a_page() -> None:
    text = "\n".join(f"line {number}" for number in range(150)) + "\fafter the form feed\f"
    pages = lines_of(PdfReader(io.BytesIO(watermark.text_to_pdf(text))))
    per_page = len(pages[0])
    assert 55 < per_page < 70
    assert [line for page in pages[:-1] for line in page] == [f"line {n}" for n in range(150)]
    assert pages[-1] == ["after the form feed"]


def test_tabs_expand_and_blank_lines_stay() -> None:
    pages = lines_of(PdfReader(io.BytesIO(watermark.text_to_pdf("a\tb\n\n\nc"))))
    assert pages[0][0] == "a       b"
    assert pages[0][-1] == "c"


def test_characters_winansi_lacks_become_question_marks() -> None:
    text = "Grüße, Zoë – 10 € · Привет 你好 \x07 done"
    pages = lines_of(PdfReader(io.BytesIO(watermark.text_to_pdf(text))))
    assert pages == [["Grüße, Zoë – 10 € · ?????? ?? ? done"]]


def test_empty_text_is_one_blank_page() -> None:
    reader = PdfReader(io.BytesIO(watermark.text_to_pdf("")))
    assert len(reader.pages) == 1
    assert reader.pages[0].extract_text() == ""


def drawn_lines(pdf: bytes) -> list[list[bytes]]:
    """The lines each page draws, as the WinAnsi bytes shown (``b""`` for a blank line)."""
    pages = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        contents = page.get_contents()
        assert contents is not None
        lines: list[bytes] = []
        shown: bytes | None = None
        for operands, operator in contents.operations:
            if operator == b"Tj":
                string = operands[0]
                shown = string.original_bytes if hasattr(string, "original_bytes") \
                    else bytes(string)
            elif operator == b"T*":
                lines.append(shown or b"")
                shown = None
        pages.append(lines)
    return pages


# The measure holds 173 spaces (278/1000 em each at 10 pt in 481.9 pt), "a" and 171 of them.
def test_runs_of_spaces_wrap_at_a_space_and_keep_the_others() -> None:
    text = "a" + "\t" * 100 + "b"  # 'a', 799 spaces, 'b'
    assert drawn_lines(watermark.text_to_pdf(text)) == [[
        b"a" + b" " * 171, b" " * 173, b" " * 173, b" " * 173, b" " * 105 + b"b"]]


def test_spaces_that_end_a_line_are_not_set() -> None:
    # 100,000 tabs are 800,000 spaces: about 4,600 lines, 80 pages, if they were set.
    pdf = watermark.text_to_pdf("abc\t\t\n" + "\t" * 100_000 + "\n  indented  ")
    assert drawn_lines(pdf) == [[b"abc", b"", b"  indented"]]


@pytest.fixture
def set_lines(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many lines of the text (before wrapping) were set, and how many pieces they were
    wrapped into: the work text_to_pdf did."""
    counts = [0, 0]
    winansi, wrap = watermark._winansi, watermark._wrap

    def counted_winansi(text: str) -> bytes:
        counts[0] += 1
        return winansi(text)

    def counted_wrap(line: bytes, measure: float) -> Any:
        for piece in wrap(line, measure):
            counts[1] += 1
            yield piece

    monkeypatch.setattr(watermark, "_winansi", counted_winansi)
    monkeypatch.setattr(watermark, "_wrap", counted_wrap)
    return counts


def test_text_longer_than_the_character_limit_is_refused_before_it_is_set(
        monkeypatch: pytest.MonkeyPatch, set_lines: list[int]) -> None:
    monkeypatch.setattr(watermark, "MAX_TEXT_CHARACTERS", 1000)
    for text in ("a" * 1001, "\t" * 126, "a\n" * 500 + "\t"):  # a tab counts as 8
        with pytest.raises(watermark.DocumentTooLarge) as raised:
            watermark.text_to_pdf(text)
        assert (raised.value.status, raised.value.code) == (413, "EntityTooLarge")
        assert "1,000 characters" in raised.value.message
    assert set_lines == [0, 0]
    watermark.text_to_pdf("\t" * 125)  # 1,000: at the limit
    watermark.text_to_pdf("a" * 1000)


LINES_PER_PAGE = 58  # (841.89 - 2 * 56.69) // 12.5


def test_text_with_more_lines_than_the_pages_hold_is_refused_before_it_is_set(
        monkeypatch: pytest.MonkeyPatch, set_lines: list[int]) -> None:
    monkeypatch.setattr(watermark, "MAX_PAGES", 2)
    for text in ("\n" * (2 * LINES_PER_PAGE + 1), "line\r\n" * (2 * LINES_PER_PAGE + 1),
                 "\u2028" * (2 * LINES_PER_PAGE + 1), "page\f" * 3 + "more"):
        with pytest.raises(watermark.DocumentTooLarge, match="more than 2 pages"):
            watermark.text_to_pdf(text)
    assert set_lines == [0, 0]
    assert len(drawn_lines(watermark.text_to_pdf("line\r\n" * 2 * LINES_PER_PAGE))) == 2


def test_a_long_line_is_wrapped_only_as_far_as_the_pages_hold(
        monkeypatch: pytest.MonkeyPatch, set_lines: list[int]) -> None:
    monkeypatch.setattr(watermark, "MAX_PAGES", 2)
    with pytest.raises(watermark.DocumentTooLarge, match="more than 2 pages"):
        watermark.text_to_pdf("x" * 1_000_000)  # 10,417 lines of 96 if it were all set
    assert set_lines == [1, 2 * LINES_PER_PAGE + 1]


def test_pieces_hold_as_much_as_fits_whatever_came_before() -> None:
    # Wrapping starts from the previous piece's length: narrow and wide runs in turn.
    runs = ("i" * 300 + "W" * 70) * 4 + " word " * 30
    pieces = [line for page in drawn_lines(watermark.text_to_pdf(runs)) for line in page]
    assert b"".join(pieces).replace(b" ", b"") == runs.replace(" ", "").encode()
    width = watermark._HELVETICA_WIDTHS
    measure = (watermark.A4[0] - 2 * watermark.TEXT_MARGIN) * 100  # in 1/1000 em at 10 pt
    for piece, following in itertools.pairwise(pieces):
        used = sum(width[code] for code in piece)
        assert used <= measure
        if b" " not in piece:  # a cut word: the next character would not have fitted
            assert used + width[following[0]] > measure


def test_converted_text_can_be_stamped() -> None:
    reader = open_stamped(stamp(watermark.text_to_pdf("Minutes of the meeting\n" * 200)))
    assert len(reader.pages) > 1
    for page in reader.pages:
        assert "Minutes of the meeting" in page.extract_text()
        assert WATERMARK in page.extract_text()


@pytest.mark.parametrize(("data", "charset", "text"), [
    ("Grüße".encode(), None, "Grüße"),
    (b"\xef\xbb\xbf" + "Grüße".encode(), None, "Grüße"),
    ("Grüße".encode("utf-16"), None, "Grüße"),
    ("Grüße".encode("latin-1"), "iso-8859-1", "Grüße"),
    ("Grüße".encode("cp1252"), "windows-1252", "Grüße"),
], ids=["utf-8", "utf-8-bom", "utf-16-bom", "latin-1", "windows-1252"])
def test_text_is_decoded(data: bytes, charset: str | None, text: str) -> None:
    assert watermark.decode_text(data, charset) == text


@pytest.mark.parametrize(("data", "charset"), [
    ("Grüße".encode("latin-1"), None),
    (b"abc", "no-such-charset"),
    (b"abc", "base64"),
], ids=["latin-1-as-utf-8", "unknown-charset", "not-a-text-codec"])
def test_text_that_does_not_decode_is_unsupported(data: bytes, charset: str | None) -> None:
    with pytest.raises(watermark.UnsupportedMediaType) as raised:
        watermark.decode_text(data, charset)
    assert raised.value.status == 415


# Real character encodings, under the names (any case, IANA's or Python's) a Content-Type gives.
TEXT_CHARSETS = [
    ("Grüße".encode(), "UTF8"),
    ("Grüße".encode("utf-16-le"), "UTF-16LE"),
    ("Grüße".encode("utf-32"), "utf-32"),
    (b"plain", "US-ASCII"),
    ("Grüße".encode("latin-1"), "ISO_8859-1:1987"),
    ("10 €".encode("iso-8859-15"), "ISO-8859-15"),
    ("Привет".encode("koi8-r"), "KOI8-R"),
    ("Привет".encode("cp1251"), "windows-1251"),
    ("Grüße".encode("mac-roman"), "macintosh"),
    ("Grüße".encode("cp037"), "IBM037"),
    ("日本語".encode("shift_jis"), "Shift_JIS"),
    ("日本語".encode("iso2022_jp"), "ISO-2022-JP"),
    ("한국어".encode("euc-kr"), "EUC-KR"),
    ("中文".encode("gb18030"), "GB18030"),
    ("繁體".encode("big5"), "Big5"),
]


@pytest.mark.parametrize(("data", "charset"), TEXT_CHARSETS,
                         ids=[charset for _, charset in TEXT_CHARSETS])
def test_text_in_a_real_character_encoding_is_decoded(data: bytes, charset: str) -> None:
    assert watermark.decode_text(data, charset) == data.decode(charset)


# Codecs Python knows that are not character encodings: they decode domain names (idna,
# punycode), Python literals (unicode_escape, raw_unicode_escape), nothing at all (undefined),
# bytes through a mapping the caller must supply (charmap), or turn bytes into bytes or str into
# str (base64, hex, uu, zlib, bz2, quopri, rot13). Also UTF-7, which turns ASCII into other
# characters (HTML and the WHATWG Encoding standard forbid it), Windows-only codecs (mbcs, oem)
# and names nobody knows.
NOT_TEXT_CHARSETS = ["punycode", "undefined", "idna", "unicode_escape", "raw-unicode-escape",
                     "charmap", "utf-7", "UTF7", "rot13", "rot_13", "hex", "hex_codec", "base64",
                     "uu", "zlib", "bz2", "quopri", "mbcs", "oem", "string_escape",
                     "x-user-defined", "encodings.utf_8", "no-such-charset"]
# ASCII text each of them reads or fails on (punycode and undefined with a UnicodeError that
# is not a UnicodeDecodeError), and bytes only some of them read.
ODD_TEXTS = [b"Hello, world", b"+AGE- \\x41 \\N{BULLET} caf\xc3\xa9"]


@pytest.mark.parametrize("charset", NOT_TEXT_CHARSETS)
def test_a_charset_that_is_not_a_character_encoding_is_unsupported(charset: str) -> None:
    for data in ODD_TEXTS:
        with pytest.raises(watermark.UnsupportedMediaType) as raised:
            watermark.decode_text(data, charset)
        assert raised.value.status == 415
        assert "charset" in raised.value.message


# --- what a document is ------------------------------------------------------------------------

PDF_BYTES = b"%PDF-1.7\n..."


@pytest.mark.parametrize(("data", "key", "content_type", "expected"), [
    (PDF_BYTES, "a/report.bin", "application/octet-stream", watermark.DocumentType("pdf")),
    (b"\xef\xbb\xbf junk %PDF-1.4", "scan", None, watermark.DocumentType("pdf")),
    (b"notes", "a/notes.TXT", None, watermark.DocumentType("text")),
    (b"notes", "a/notes", "text/plain; charset=ISO-8859-1",
     watermark.DocumentType("text", charset="iso-8859-1")),
    (b"notes", "a/notes.txt", "binary/octet-stream", watermark.DocumentType("text")),
    (b"PK\x03\x04", "a/offer.docx", "binary/octet-stream",
     watermark.DocumentType("office", suffix=".docx")),
    (b"PK\x03\x04", "a/sheet.ODS", None, watermark.DocumentType("office", suffix=".ods")),
    (b"PK\x03\x04", "a/deck", "application/vnd.openxmlformats-officedocument."
     "presentationml.presentation", watermark.DocumentType("office", suffix=".pptx")),
    (b"{\\rtf1", "a/letter", "application/rtf", watermark.DocumentType("office", suffix=".rtf")),
], ids=["pdf-by-content", "pdf-after-junk", "txt", "text-plain", "suffix-first", "docx", "ods",
        "pptx-by-type", "rtf-by-type"])
def test_types_are_detected(data: bytes, key: str, content_type: str | None,
                            expected: watermark.DocumentType) -> None:
    assert watermark.detect_type(data, key=key, content_type=content_type) == expected


@pytest.mark.parametrize(("data", "key", "content_type", "error"), [
    (b"\x89PNG\r\n", "a/photo.png", "image/png", watermark.UnsupportedMediaType),
    (b"PK\x03\x04", "a/archive.zip", "application/zip", watermark.UnsupportedMediaType),
    (b"data", "a/blob", None, watermark.UnsupportedMediaType),
    (b"<html>", "a/page.pdf", "application/pdf", watermark.CorruptDocument),
    (b"<html>", "a/page", "application/pdf", watermark.CorruptDocument),
], ids=["png", "zip", "unknown", "pdf-suffix-not-pdf", "pdf-type-not-pdf"])
def test_other_types_are_refused(data: bytes, key: str, content_type: str | None,
                                 error: type[watermark.DocumentError]) -> None:
    with pytest.raises(error):
        watermark.detect_type(data, key=key, content_type=content_type)


# --- Office formats ----------------------------------------------------------------------------

@pytest.fixture
def office_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "libreoffice-home"
    monkeypatch.setattr(watermark, "OFFICE_HOME", home)
    return home


def test_office_documents_are_converted_by_libreoffice(tmp_path: Path, office_home: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    set_aws_environment(monkeypatch)
    converted = make_pdf(SAMPLE_PAGES[:2])
    soffice = fake_soffice(tmp_path / "office", pdf=converted)
    assert watermark.convert_office(b"PK\x03\x04 a docx", ".DOCX", soffice) == converted
    arguments = (tmp_path / "office" / "args").read_text().splitlines()
    assert arguments[:2] == [f"-env:UserInstallation={(office_home / 'profile').as_uri()}",
                             "--headless"]
    assert arguments[-5:-2] == ["--convert-to", "pdf", "--outdir"]
    assert arguments[-1].endswith("/document.docx")
    environment = dict(line.split("=", 1) for line in
                       (tmp_path / "office" / "env").read_text().splitlines() if "=" in line)
    assert environment["HOME"] == str(office_home)
    assert not [name for name in environment if name.startswith("AWS_")]
    assert not Path(arguments[-1]).exists()  # the work folder is gone


@pytest.mark.parametrize(("exit_code", "message", "error"), [
    (0, "", watermark.CorruptDocument),
    (1, "Error: source file could not be loaded", watermark.CorruptDocument),
    (77, "", watermark.ConversionFailed),
], ids=["no-output", "not-loaded", "crash"])
def test_failed_conversions_are_errors(tmp_path: Path, office_home: Path, exit_code: int,
                                       message: str, error: type[watermark.DocumentError]) -> None:
    soffice = fake_soffice(tmp_path / "office", pdf=None, exit_code=exit_code, message=message)
    with pytest.raises(error):
        watermark.convert_office(b"data", ".doc", soffice)


def test_a_conversion_that_hangs_is_stopped(tmp_path: Path, office_home: Path) -> None:
    soffice = fake_soffice(tmp_path / "office", pdf=b"%PDF-1.4", sleep=30)
    with pytest.raises(watermark.ConversionFailed, match="longer than"):
        watermark.convert_office(b"data", ".odt", soffice, timeout_seconds=0.5)


def test_a_missing_soffice_is_a_conversion_failure(tmp_path: Path, office_home: Path) -> None:
    with pytest.raises(watermark.ConversionFailed, match="could not be started"):
        watermark.convert_office(b"data", ".xlsx", tmp_path / "no-soffice")


def test_only_office_suffixes_are_converted(tmp_path: Path) -> None:
    with pytest.raises(watermark.UnsupportedMediaType):
        watermark.convert_office(b"data", ".sh", tmp_path / "soffice")


# --- the handler -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def transform_module() -> Iterator[ModuleType]:
    """The module, imported once (as in a warm container) with Powertools' settings and fake
    credentials, which its S3 client keeps."""
    with pytest.MonkeyPatch.context() as patch:
        set_aws_environment(patch)
        powertools_environment(patch, "document-transform")
        module = import_fresh(MODULE)
    yield module
    sys.modules.pop(MODULE, None)


@pytest.fixture(scope="module")
def fake_s3() -> Iterator[Source]:
    yield from serve()


@pytest.fixture
def source(fake_s3: Source) -> Iterator[Source]:
    fake_s3.reset()
    yield fake_s3
    fake_s3.reset()


class Answers:
    """The module's S3 client, stubbed (so every call is still checked against the API's model)
    and recorded."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.stubber = Stubber(client)
        self.calls: list[dict[str, Any]] = []

    def write_get_object_response(self, **arguments: Any) -> Any:
        self.calls.append(arguments)
        return self.client.write_get_object_response(**arguments)

    @property
    def only(self) -> dict[str, Any]:
        assert len(self.calls) == 1, f"{len(self.calls)} WriteGetObjectResponse calls"
        return self.calls[0]


@pytest.fixture
def answers(transform_module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Answers]:
    recorder = Answers(transform_module.s3)
    recorder.stubber.add_response("write_get_object_response", {})
    monkeypatch.setattr(transform_module, "s3", recorder)
    with recorder.stubber:
        yield recorder


@pytest.fixture
def transform(transform_module: ModuleType, answers: Answers, source: Source,
              office_home: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The module under the component's environment, read at each invocation."""
    monkeypatch.delenv("MAX_DOCUMENT_BYTES", raising=False)
    monkeypatch.delenv("SOFFICE_PATH", raising=False)
    return transform_module


def good_headers(text: str = WATERMARK, access_id: str = ACCESS_ID) -> dict[str, str]:
    return {"X-Blueprints-Watermark": quote(text), "x-blueprints-access-id": access_id}


def invoke(module: ModuleType, source: Source, *, key: str = "contracts/2026/agreement.pdf",
           headers: dict[str, str] | None = None, path: str = "/original",
           signed: str = "host") -> dict[str, Any]:
    event = object_lambda_event(source.url(path, signed),
                                good_headers() if headers is None else headers, key=key)
    result: dict[str, Any] = module.handler(event, CONTEXT)
    return result


def capture_log(module: ModuleType, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    log = io.StringIO()
    monkeypatch.setattr(module.logger.registered_handler, "stream", log)
    return log


def metric_values(output: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in output.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for definition in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            name = definition["Name"]
            value = document[name]
            values[name] = values.get(name, 0) + (sum(value) if isinstance(value, list)
                                                  else value)
    return values


def assert_refused(answers: Answers, result: dict[str, Any], status: int, code: str,
                   original: bytes = b"") -> dict[str, Any]:
    call = answers.only
    assert result == {"status_code": status}
    assert call["StatusCode"] == status
    assert call["ErrorCode"] == code
    assert call["ErrorMessage"]
    assert "Body" not in call
    assert (call["RequestRoute"], call["RequestToken"]) == ("io-use1-001", "OutputToken-abc123")
    if original:
        assert original not in json.dumps(call, default=repr).encode()
    answers.stubber.assert_no_pending_responses()
    return call


def test_a_pdf_is_answered_stamped(transform: ModuleType, source: Source, answers: Answers,
                                   sample: bytes, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    log = capture_log(transform, monkeypatch)
    source.routes["/original"] = Served(sample, headers={"Content-Type": "application/pdf"})
    result = invoke(transform, source)
    assert result == {"status_code": 200}
    call = answers.only
    assert (call["StatusCode"], call["ContentType"]) == (200, "application/pdf")
    assert "ErrorCode" not in call
    reader = open_stamped(call["Body"])
    assert len(reader.pages) == len(SAMPLE_PAGES)
    assert all(WATERMARK in page.extract_text() for page in reader.pages)
    assert reader.metadata is not None
    assert reader.metadata["/AccessId"] == ACCESS_ID
    metrics = metric_values(capsys.readouterr().out)
    assert (metrics["DocumentsStamped"], metrics["PagesStamped"]) == (1, len(SAMPLE_PAGES))
    assert "TransformFailed" not in metrics
    logged = log.getvalue()
    assert ACCESS_ID in logged
    assert "1a5ed718-5f53-471d-b6fe-5cf62d88d02a" in logged  # S3's request id correlates
    for private in ("Zoë", "Zo\\u00eb", "zoe@example.com", quote(WATERMARK)):
        assert private not in logged


def test_text_is_answered_as_a_stamped_pdf(transform: ModuleType, source: Source,
                                           answers: Answers) -> None:
    text = "Agenda\n\t1. Budget — 10 €\n" + "A line long enough to be wrapped. " * 20
    source.routes["/original"] = Served(b"\xef\xbb\xbf" + text.encode(),
                                        headers={"Content-Type": "text/plain; charset=utf-8"})
    assert invoke(transform, source, key="minutes/agenda.txt") == {"status_code": 200}
    reader = open_stamped(answers.only["Body"])
    extracted = reader.pages[0].extract_text()
    assert "Agenda" in extracted
    assert "1. Budget — 10 €" in extracted
    assert WATERMARK in extracted


def test_office_documents_are_converted_then_stamped(transform: ModuleType, source: Source,
                                                     answers: Answers, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    converted = make_pdf(SAMPLE_PAGES[:3])
    monkeypatch.setenv("SOFFICE_PATH", str(fake_soffice(tmp_path / "office", pdf=converted)))
    source.routes["/original"] = Served(b"PK\x03\x04 an offer", headers={
        "Content-Type": "application/vnd.openxmlformats-officedocument.wordprocessingml."
                        "document"})
    assert invoke(transform, source, key="offers/offer.docx") == {"status_code": 200}
    reader = open_stamped(answers.only["Body"])
    assert [WATERMARK in page.extract_text() for page in reader.pages] == [True] * 3
    assert (tmp_path / "office" / "args").read_text().splitlines()[-1].endswith(".docx")


def test_headers_signed_into_the_url_are_sent_with_the_download(
        transform: ModuleType, source: Source, answers: Answers, sample: bytes) -> None:
    source.routes["/original"] = Served(sample)
    headers = {**good_headers(), "x-amz-checksum-mode": "ENABLED"}
    result = invoke(transform, source, headers=headers, signed="host;x-amz-checksum-mode")
    assert result == {"status_code": 200}
    [(path, sent)] = source.requests
    assert path == "/original"
    assert sent["x-amz-checksum-mode"] == "ENABLED"
    assert "x-blueprints-watermark" not in sent  # not signed, so not sent


TOO_LONG = "x" * 201
BAD_HEADERS = {
    "no-watermark": {"x-blueprints-access-id": ACCESS_ID},
    "no-access-id": {"x-blueprints-watermark": quote(WATERMARK)},
    "empty-watermark": good_headers(text=""),
    "blank-watermark": good_headers(text="   "),
    "long-watermark": good_headers(text=TOO_LONG),
    "not-utf-8": {**good_headers(), "X-Blueprints-Watermark": "caf%E9"},
    "control-character": good_headers(text="line\nbreak"),
    "short-access-id": good_headers(access_id="abc-123"),
    "long-access-id": good_headers(access_id="a" * 65),
    "access-id-with-slash": good_headers(access_id="../../etc/passwd"),
    "two-watermarks": {**good_headers(), "x-blueprints-watermark": quote("someone else")},
}


@pytest.mark.parametrize("headers", BAD_HEADERS.values(), ids=BAD_HEADERS.keys())
def test_requests_without_valid_headers_get_400_and_nothing_is_read(
        transform: ModuleType, source: Source, answers: Answers, sample: bytes,
        headers: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    source.routes["/original"] = Served(sample)
    result = invoke(transform, source, headers=headers)
    assert_refused(answers, result, 400, "InvalidRequest", sample)
    assert source.requests == []
    assert metric_values(capsys.readouterr().out)["TransformFailed"] == 1


def test_a_watermark_of_200_characters_is_accepted(transform: ModuleType, source: Source,
                                                   answers: Answers, sample: bytes) -> None:
    text = ("Zoë " * 50)[:200]
    source.routes["/original"] = Served(sample)
    assert invoke(transform, source, headers=good_headers(text=text)) == {"status_code": 200}


@pytest.mark.parametrize(("response", "status", "code"), [
    (Served(b"<Error><Code>AccessDenied</Code></Error>", 403), 403, "AccessDenied"),
    (Served(b"<Error><Code>InternalError</Code></Error>", 500), 502, "BadGateway"),
    (Served(b"<Error><Code>SlowDown</Code></Error>", 503), 502, "BadGateway"),
], ids=["403", "500", "503"])
def test_errors_from_s3_are_forwarded(transform: ModuleType, source: Source, answers: Answers,
                                      response: Served, status: int, code: str) -> None:
    source.routes["/original"] = response
    assert_refused(answers, invoke(transform, source), status, code)


def test_a_missing_object_is_404(transform: ModuleType, source: Source,
                                 answers: Answers) -> None:
    assert_refused(answers, invoke(transform, source, path="/missing"), 404, "NoSuchKey")


def test_a_download_that_times_out_is_504(transform: ModuleType, source: Source,
                                          answers: Answers, sample: bytes,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transform, "FETCH_TIMEOUT_SECONDS", 0.2)
    source.routes["/original"] = Served(sample, delay=1.0)
    assert_refused(answers, invoke(transform, source), 504, "GatewayTimeout", sample)


def test_a_refused_connection_is_502(transform: ModuleType, source: Source, answers: Answers,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    closed = Source(port=1)  # nothing listens on port 1
    event = object_lambda_event(closed.url("/original"), good_headers())
    result = transform.handler(event, CONTEXT)
    assert_refused(answers, result, 502, "BadGateway")


def test_text_over_the_character_limit_is_413(transform: ModuleType, source: Source,
                                              answers: Answers,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(watermark, "MAX_TEXT_CHARACTERS", 1000)
    original = b"\t" * 126  # 1,008 characters once its tabs are expanded
    source.routes["/original"] = Served(original, headers={"Content-Type": "text/plain"})
    call = assert_refused(answers, invoke(transform, source, key="notes/tabs.txt"), 413,
                          "EntityTooLarge")
    assert "1,000 characters" in call["ErrorMessage"]


@pytest.mark.parametrize("length", ["actual", None], ids=["declared", "streamed"])
def test_documents_over_the_limit_are_413(transform: ModuleType, source: Source,
                                          answers: Answers, monkeypatch: pytest.MonkeyPatch,
                                          length: int | str | None) -> None:
    monkeypatch.setenv("MAX_DOCUMENT_BYTES", "4096")
    original = make_pdf(SAMPLE_PAGES * 3)
    assert len(original) > 4096
    source.routes["/original"] = Served(original, length=length)  # type: ignore[arg-type]
    assert_refused(answers, invoke(transform, source), 413, "EntityTooLarge", original)


def test_a_document_at_the_limit_is_stamped(transform: ModuleType, source: Source,
                                            answers: Answers, sample: bytes,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAX_DOCUMENT_BYTES", str(len(sample)))
    source.routes["/original"] = Served(sample, length=None)
    assert invoke(transform, source) == {"status_code": 200}


@pytest.mark.parametrize(("data", "key", "content_type"), [
    (b"\x89PNG\r\n\x1a\n....", "photos/cat.png", "image/png"),
    ("Grüße".encode("latin-1"), "notes/old.txt", "text/plain"),
], ids=["png", "text-not-utf-8"])
def test_unsupported_documents_are_415(transform: ModuleType, source: Source, answers: Answers,
                                       data: bytes, key: str, content_type: str) -> None:
    source.routes["/original"] = Served(data, headers={"Content-Type": content_type})
    assert_refused(answers, invoke(transform, source, key=key), 415, "UnsupportedMediaType",
                   data)


@pytest.mark.parametrize("charset", ["punycode", "undefined", "idna", "utf-7", "unicode_escape",
                                     "base64"])
def test_text_in_a_charset_that_is_not_a_character_encoding_is_415(
        transform: ModuleType, source: Source, answers: Answers, charset: str) -> None:
    source.routes["/original"] = Served(b"Hello, world", headers={
        "Content-Type": f"text/plain; charset={charset}"})
    call = assert_refused(answers, invoke(transform, source, key="notes/hello.txt"), 415,
                          "UnsupportedMediaType")
    assert "charset" in call["ErrorMessage"]


@pytest.mark.parametrize("configured", [False, True], ids=["unset", "missing-file"])
def test_office_documents_without_libreoffice_are_415(transform: ModuleType, source: Source,
                                                      answers: Answers, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      configured: bool) -> None:
    if configured:
        monkeypatch.setenv("SOFFICE_PATH", str(tmp_path / "opt" / "soffice"))
    source.routes["/original"] = Served(b"PK\x03\x04 an offer")
    call = assert_refused(answers, invoke(transform, source, key="offers/offer.docx"), 415,
                          "UnsupportedMediaType")
    assert "not configured" in call["ErrorMessage"]


def test_a_failed_conversion_is_500(transform: ModuleType, source: Source, answers: Answers,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOFFICE_PATH",
                       str(fake_soffice(tmp_path / "office", pdf=None, exit_code=81)))
    source.routes["/original"] = Served(b"PK\x03\x04 an offer")
    assert_refused(answers, invoke(transform, source, key="offers/offer.pptx"), 500,
                   "ConversionFailed")


@pytest.mark.parametrize(("original", "code"), [
    (b"%PDF-1.7\nthis is no PDF\n%%EOF\n", "CorruptDocument"),
    (object_stream_pdf("/AcmeDecode"), "CorruptDocument"),
    (make_pdf(SAMPLE_PAGES[:2], user_password="secret"), "EncryptedDocument"),
    *((reencrypted_pdf(**UNSUPPORTED_ENCRYPTION[name]), "EncryptedDocument")
      for name in ("public-key", "unknown-handler", "v7", "unknown-crypt-method")),
], ids=["corrupt", "unknown-stream-filter", "password", "public-key", "unknown-handler", "v7",
        "unknown-crypt-method"])
def test_unreadable_pdfs_are_422(transform: ModuleType, source: Source, answers: Answers,
                                 original: bytes, code: str) -> None:
    source.routes["/original"] = Served(original)
    assert_refused(answers, invoke(transform, source), 422, code, original)


def test_an_unexpected_failure_is_500_without_details(
        transform: ModuleType, source: Source, answers: Answers, sample: bytes,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    log = capture_log(transform, monkeypatch)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(watermark, "stamp", broken)
    source.routes["/original"] = Served(sample)
    call = assert_refused(answers, invoke(transform, source), 500, "InternalError", sample)
    assert "secret internals" not in call["ErrorMessage"]
    assert "secret internals" in log.getvalue()  # but the log has the stack trace
    assert metric_values(capsys.readouterr().out)["TransformFailed"] == 1


def test_a_bad_setting_is_500_and_logged(transform: ModuleType, source: Source,
                                         answers: Answers, sample: bytes,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    log = capture_log(transform, monkeypatch)
    monkeypatch.setenv("MAX_DOCUMENT_BYTES", "25MB")
    source.routes["/original"] = Served(sample)
    assert_refused(answers, invoke(transform, source), 500, "InternalError", sample)
    assert "MAX_DOCUMENT_BYTES must be a whole number" in log.getvalue()


def test_a_failed_answer_is_raised_after_one_call(transform_module: ModuleType, source: Source,
                                                  sample: bytes, office_home: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = Answers(transform_module.s3)
    recorder.stubber.add_client_error("write_get_object_response", "InternalError",
                                      http_status_code=500)
    monkeypatch.setattr(transform_module, "s3", recorder)
    source.routes["/original"] = Served(sample)
    with recorder.stubber, pytest.raises(ClientError):
        invoke(transform_module, source)
    assert recorder.only["StatusCode"] == 200


def test_an_event_without_a_route_is_not_answered(transform: ModuleType, answers: Answers,
                                                  source: Source) -> None:
    event = object_lambda_event(source.url("/original"), good_headers())
    del event["getObjectContext"]
    assert transform.handler(event, CONTEXT) == {"status_code": 400}
    assert answers.calls == []


def test_settings_come_from_the_environment(transform_module: ModuleType) -> None:
    settings = transform_module.Settings
    assert settings.from_environ({}) == settings(25 * 2**20, None)
    assert settings.from_environ({"MAX_DOCUMENT_BYTES": "1048576",
                                  "SOFFICE_PATH": "/opt/libreoffice/program/soffice"}) \
        == settings(1048576, Path("/opt/libreoffice/program/soffice"))
    with pytest.raises(ValueError, match="MAX_DOCUMENT_BYTES") as raised:
        settings.from_environ({"MAX_DOCUMENT_BYTES": "0", "SOFFICE_PATH": "soffice"})
    assert "SOFFICE_PATH must be an absolute path" in str(raised.value)


def test_the_libreoffice_home_is_under_the_temporary_directory() -> None:
    assert watermark.OFFICE_HOME.is_relative_to(tempfile.gettempdir())
