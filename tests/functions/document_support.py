"""Documents for the document transform's tests: real PDFs built with pypdf's low-level objects
(nothing from the code under test), an original served over HTTP as S3 serves ``inputS3Url``,
S3 Object Lambda events, and a stand-in for LibreOffice."""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pypdf import PageObject, PdfReader, PdfWriter
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

WATERMARK = "Zoë Ångström <zoe@example.com> 2026-11-26 18:00 UTC"
ACCESS_ID = "20261126T180000000Z-0123456789ab"


# --- PDFs --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PageSpec:
    """One page: its media box (``origin`` is the lower left corner) and ``/Rotate``."""

    width: float = 612
    height: float = 792
    rotate: int = 0
    origin: tuple[float, float] = (0, 0)

    @property
    def box(self) -> tuple[float, float, float, float]:
        x, y = self.origin
        return (x, y, x + self.width, y + self.height)


# Upright Letter, the three other quarter turns, a page whose media box does not start at 0 0,
# and a landscape A4 page turned and shifted at once.
SAMPLE_PAGES = (
    PageSpec(),
    PageSpec(rotate=90),
    PageSpec(rotate=180),
    PageSpec(rotate=270),
    PageSpec(width=500, height=300, origin=(-200, 150)),
    PageSpec(width=842, height=595, rotate=90, origin=(30, 40)),
)


def body_text(number: int) -> str:
    return f"Body text of page {number}"


def _font(writer: PdfWriter) -> IndirectObject:
    return writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject("/Helvetica"),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))


def _content(data: str) -> StreamObject:
    stream = StreamObject()
    stream.set_data(data.encode("ascii"))
    return stream


def pdf_writer(pages: Sequence[PageSpec] = SAMPLE_PAGES) -> PdfWriter:
    """A writer holding ``pages``, each with a line of body text near its lower left corner and
    a shared resource dictionary (as most producers write them)."""
    writer = PdfWriter()
    resources = writer._add_object(DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): _font(writer)})}))
    for number, spec in enumerate(pages, start=1):
        page = writer.add_blank_page(spec.width, spec.height)
        page[NameObject("/MediaBox")] = ArrayObject(FloatObject(value) for value in spec.box)
        page[NameObject("/Resources")] = resources
        x, y = spec.origin
        page[NameObject("/Contents")] = writer._add_object(_content(
            f"BT /F1 12 Tf {x + 36} {y + 60} Td ({body_text(number)}) Tj ET\n"
            # a graphics state left changed: the stamp must not inherit it
            f"2 0 0 2 0 0 cm 0.9 g\n"))
        if spec.rotate:
            page[NameObject("/Rotate")] = NumberObject(spec.rotate)
    return writer


def to_bytes(writer: PdfWriter) -> bytes:
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def make_pdf(pages: Sequence[PageSpec] = SAMPLE_PAGES, *, user_password: str | None = None,
             algorithm: str = "AES-128") -> bytes:
    """A PDF of ``pages``; encrypted (owner password ``owner``) when ``user_password`` is given
    (``""`` is the usual "restrictions only" PDF, which opens without a password)."""
    writer = pdf_writer(pages)
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner", algorithm=algorithm)
    return to_bytes(writer)


def reencrypted_pdf(pages: Sequence[PageSpec] = SAMPLE_PAGES[:1], *,
                    algorithm: str = "AES-128", **entries: PdfObject | None) -> bytes:
    """A PDF pypdf encrypts with the empty user password (so it would open), its /Encrypt
    dictionary then changed: each of ``entries`` (``V``, ``Filter``...) set, or removed when
    ``None``; ``CFM`` sets the method of the standard crypt filter. That is how a producer
    with a security handler, version or crypt filter pypdf lacks writes one."""
    writer = pdf_writer(pages)
    writer.encrypt(user_password="", owner_password="owner", algorithm=algorithm)
    encrypt = writer._encrypt_entry
    assert isinstance(encrypt, DictionaryObject)
    for key, value in entries.items():
        target = entry(encrypt, "/CF", "/StdCF") if key == "CFM" else encrypt
        if value is None:
            del target[f"/{key}"]
        else:
            target[NameObject(f"/{key}")] = value
    return to_bytes(writer)


def object_stream_pdf(filter_name: str | None = None) -> bytes:
    """A one-page PDF (1.5, cross-reference stream) whose catalog, page tree and page are in
    an object stream, that stream marked with ``filter_name`` (its bytes left as they are)."""
    members = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
    ]
    offsets, body = [], b""
    for member in members:
        offsets.append(len(body))
        body += member + b"\n"
    header = " ".join(f"{number} {offset}" for number, offset in
                      zip((1, 2, 3), offsets, strict=True)).encode() + b"\n"
    content = b"BT /F1 12 Tf 72 720 Td (text) Tj ET"
    output = io.BytesIO()
    output.write(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    positions = {}
    positions[4] = output.tell()
    output.write(b"4 0 obj << /Length %d >> stream\n%b\nendstream endobj\n"
                 % (len(content), content))
    positions[5] = output.tell()
    stream = header + body
    marked = f"/Filter {filter_name} ".encode() if filter_name else b""
    output.write(b"5 0 obj << /Type /ObjStm /N 3 /First %d %b/Length %d >> stream\n"
                 b"%b\nendstream endobj\n" % (len(header), marked, len(stream), stream))
    positions[6] = output.tell()
    rows = [(0, 0, 65535)] + [(2, 5, index) for index in range(3)] \
        + [(1, positions[4], 0), (1, positions[5], 0), (1, positions[6], 0)]
    table = b"".join(kind.to_bytes(1, "big") + field.to_bytes(4, "big") + extra.to_bytes(2, "big")
                     for kind, field, extra in rows)
    output.write(b"6 0 obj << /Type /XRef /Size 7 /W [1 4 2] /Root 1 0 R /Length %d >> stream\n"
                 b"%b\nendstream endobj\nstartxref\n%d\n%%%%EOF\n"
                 % (len(table), table, positions[6]))
    return output.getvalue()


def inherited_pdf() -> bytes:
    """Three pages that take /Rotate, /MediaBox and /Resources from their /Pages node."""
    writer = pdf_writer([PageSpec(width=400, height=600, origin=(10, 20))] * 3)
    tree = entry(writer._root_object, "/Pages")
    first = writer.pages[0]
    tree[NameObject("/Rotate")] = NumberObject(270)
    tree[NameObject("/MediaBox")] = first.raw_get("/MediaBox")
    tree[NameObject("/Resources")] = first.raw_get("/Resources")
    for page in writer.pages:
        for name in ("/MediaBox", "/Resources"):
            del page[name]
    return to_bytes(writer)


def entry(container: Any, *keys: str | int) -> Any:
    """What ``container[key][key]...`` holds, references followed (pypdf's objects are typed
    too loosely to index directly)."""
    value = container
    for key in keys:
        value = value.get_object()[key]
    return value.get_object()


def open_stamped(pdf: bytes) -> PdfReader:
    """The stamped PDF, opened as anyone would: with the empty password."""
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.is_encrypted
    assert reader.decrypt("")
    return reader


# --- where the stamp lands ---------------------------------------------------------------------

def visible_box(page: PageObject) -> tuple[float, float, float, float]:
    left, bottom, right, top = (float(value) for value in page.cropbox)
    return min(left, right), min(bottom, top), max(left, right), max(bottom, top)


def seen_size(page: PageObject) -> tuple[float, float]:
    """The page's width and height as a reader sees it (``/Rotate`` turns it clockwise)."""
    x0, y0, x1, y1 = visible_box(page)
    if page.rotation % 180:
        return y1 - y0, x1 - x0
    return x1 - x0, y1 - y0


def seen_point(page: PageObject, x: float, y: float) -> tuple[float, float]:
    """User space point -> where a reader sees it, from the page's lower left corner."""
    x0, y0, x1, y1 = visible_box(page)
    return {0: (x - x0, y - y0), 90: (y - y0, x1 - x), 180: (x1 - x, y1 - y),
            270: (y1 - y, x - x0)}[page.rotation % 360]


def seen_direction(page: PageObject, dx: float, dy: float) -> float:
    """The angle, in degrees counter-clockwise from the reader's right, of a user space
    direction."""
    u, v = {0: (dx, dy), 90: (dy, -dx), 180: (-dx, -dy), 270: (-dy, dx)}[page.rotation % 360]
    return math.degrees(math.atan2(v, u))


Matrix = tuple[float, float, float, float, float, float]


def _multiply(first: Matrix, then: Matrix) -> Matrix:
    a, b, c, d, e, f = first
    a2, b2, c2, d2, e2, f2 = then
    return (a * a2 + b * c2, a * b2 + b * d2, c * a2 + d * c2, c * b2 + d * d2,
            e * a2 + f * c2 + e2, e * b2 + f * d2 + f2)


def drawn_forms(page: PageObject) -> dict[str, Matrix]:
    """The transformation in force (``q``, ``Q`` and ``cm`` followed through all the page's
    content) when the page draws each XObject, by resource name."""
    found: dict[str, Matrix] = {}
    matrix: Matrix = (1, 0, 0, 1, 0, 0)
    saved: list[Matrix] = []
    contents = page.get_contents()
    assert contents is not None
    for operands, operator in contents.operations:
        if operator == b"q":
            saved.append(matrix)
        elif operator == b"Q" and saved:
            matrix = saved.pop()
        elif operator == b"cm":
            a, b, c, d, e, f = (float(value) for value in operands)
            matrix = _multiply((a, b, c, d, e, f), matrix)
        elif operator == b"Do":
            found[str(operands[0])] = matrix
    return found


# --- the original, served as S3 serves a presigned URL ----------------------------------------

@dataclass
class Served:
    """A response of the fake S3. ``length`` is the Content-Length header: the body's own by
    default, a number to claim another, ``None`` to leave it out (the body then runs until the
    connection closes)."""

    body: bytes = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    length: int | Literal["actual"] | None = "actual"
    delay: float = 0.0


@dataclass
class Source:
    """What the fake S3 serves, by path, and the requests it received."""

    port: int = 0
    routes: dict[str, Served] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def url(self, path: str, signed: str = "host") -> str:
        return (f"http://127.0.0.1:{self.port}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Security-Token=token&X-Amz-SignedHeaders={signed}&X-Amz-Signature=ab12")

    def reset(self) -> None:
        self.routes.clear()
        self.requests.clear()


class _SourceHandler(BaseHTTPRequestHandler):
    source: Source  # set on the subclass each server gets

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        self.source.requests.append((path, {key.lower(): value
                                            for key, value in self.headers.items()}))
        served = self.source.routes.get(path) or Served(
            b"<Error><Code>NoSuchKey</Code></Error>", 404, {"Content-Type": "application/xml"})
        time.sleep(served.delay)
        try:
            self.send_response(served.status)
            for key, value in served.headers.items():
                self.send_header(key, value)
            if served.length is not None:
                length = len(served.body) if served.length == "actual" else served.length
                self.send_header("Content-Length", str(length))
            self.end_headers()
            self.wfile.write(served.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the function hung up, as it does on a document too large

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve() -> Iterator[Source]:
    """A fake S3 on 127.0.0.1 in a thread, for as long as the generator is open."""
    source = Source()
    handler = type("Handler", (_SourceHandler,), {"source": source})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    source.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield source
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def object_lambda_event(input_url: str, headers: Mapping[str, str], *,
                        key: str = "contracts/2026/agreement.pdf") -> dict[str, Any]:
    """An S3 Object Lambda GetObject event, as in the S3 user guide ("Event context format")."""
    host = "docs-olap-111111111111.s3-object-lambda.us-east-1.amazonaws.com"
    return {
        "xAmzRequestId": "1a5ed718-5f53-471d-b6fe-5cf62d88d02a",
        "getObjectContext": {"inputS3Url": input_url, "outputRoute": "io-use1-001",
                             "outputToken": "OutputToken-abc123"},
        "configuration": {
            "accessPointArn": "arn:aws:s3-object-lambda:us-east-1:111111111111:accesspoint/"
                              "docs-olap",
            "supportingAccessPointArn": "arn:aws:s3:us-east-1:111111111111:accesspoint/"
                                        "docs-source",
            "payload": ""},
        "userRequest": {"url": f"https://{host}/{key}",
                        "headers": {"Host": host, "Accept-Encoding": "identity",
                                    "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD", **headers}},
        "userIdentity": {
            "type": "AssumedRole", "principalId": "AROAEXAMPLE:document-api",
            "arn": "arn:aws:sts::111111111111:assumed-role/document-api/document-api",
            "accountId": "111111111111", "accessKeyId": "ASIAEXAMPLE"},
        "protocolVersion": "1.00",
    }


# --- LibreOffice -------------------------------------------------------------------------------

def fake_soffice(folder: Path, *, pdf: bytes | None, exit_code: int = 0,
                 sleep: float = 0, message: str = "") -> Path:
    """An executable that behaves like ``soffice --convert-to pdf``: it writes ``pdf`` (if
    any) as ``<input stem>.pdf`` into ``--outdir``, prints ``message`` and exits with
    ``exit_code``. It records its arguments and environment in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    prepared = folder / "prepared.pdf"
    if pdf is not None:
        prepared.write_bytes(pdf)
    script = folder / "soffice"
    script.write_text(f"""#!/bin/sh
env > '{folder}/env'
printf '%s\\n' "$@" > '{folder}/args'
outdir=""
last=""
while [ $# -gt 0 ]; do
    if [ "$1" = "--outdir" ]; then outdir="$2"; fi
    last="$1"
    shift
done
if [ {sleep} != 0 ]; then sleep {sleep}; fi
name=$(basename "$last")
if [ -f '{prepared}' ]; then cp '{prepared}' "$outdir/${{name%.*}}.pdf"; fi
echo '{message}'
exit {exit_code}
""")
    script.chmod(0o755)
    return script
