"""Stamping PDFs of 10, 100 and 1000 pages: the library's ``stamp_pdf``, against qpdf; and
turning plain text into PDF (``--text``).

    venv/bin/python -m benchmarks.watermark [--pages 10 100 1000] [--repeat 3] [--rebuild]
    venv/bin/python -m benchmarks.watermark --text [--repeat 3] [--label after]
                                            [--functions DIR] [--timeout 300] [--cases ...]

The inputs are generated here, deterministically (seed 11), with pypdf's low-level objects and
nothing from the code under test: US Letter pages, each with a running header and footer and
40 to 50 justified lines of Helvetica 10 pt drawn from a seeded word generator; every fifth
page also carries a figure (a 240x160 RGB image, Flate-compressed, two fifths of it photo-like
noise) and a caption, and every tenth page is rotated 90 degrees (``/Rotate``). That gives about
2 KB per text page and 45 KB per figure page (12 KB a page on average), about what office
documents weigh. They are cached under ``build/benchmarks/watermark/`` (``--rebuild`` writes
them again); their SHA-256 goes to the results.

- **ours**: a fresh interpreter per size (so its peak memory is its own), with ``functions/``
  on the path, imports ``pdf_watermark``, reads the input and calls
  ``stamp_pdf(data, watermark=WATERMARK, access_id=ACCESS_ID)`` ``--repeat`` times, each output
  dropped before the next call (but no ``gc.collect()``, as in a warm Lambda container).
  Reported: the first call and the median of all calls (seconds and pages per second), the
  output's size, the import time, the resident set before the first call (interpreter, imports
  and the input: ``VmRSS``), and the process's peak (``VmHWM`` from ``/proc/self/status``)
  after the first call and after all of them; the latter minus the former resident set is the
  stamp's own footprint. The two peaks differ by what the garbage collector had not yet freed
  of the previous calls (pypdf's objects form reference cycles).
- **qpdf** (Debian's, the baseline): a one-page watermark PDF (the same text, diagonal, 25%
  opaque, built with pypdf) laid over every page, ``qpdf IN --overlay WM --repeat=1 -- OUT``;
  and, to compare like with like, the same with AES-256 encryption, read-only (an empty user
  password, an owner password, no modifying, no extracting, full printing). Each run is a new
  process: wall time around it (median of ``--repeat``, and the first) and its peak resident
  set from ``/usr/bin/time -v`` (or ``getrusage(RUSAGE_CHILDREN)`` in a wrapper when GNU time
  is missing). qpdf's figures include its process start (a few ms); ours exclude the
  interpreter's start and imports, which are reported apart.

Every output is opened with pypdf afterwards to record its page count, its encryption (``/V``,
``/R``, ``/P``), whether it opens with no password, whether the watermark is in the extracted
text of page 1 and page 10 (rotated), and whether its document information or XMP holds the
access id (qpdf's cannot: it has no option to add either).

Targets stated in the output: 100 pages under 1 s; peak memory under 256 MB, so a 512 MB
function has room to spare. Results: ``results/watermark.json``; the write-up: ``README.md``
("Stamping PDFs"). Nothing is asserted.

**Text to PDF** (``--text``): what the transform does with a ``.txt`` original, on text shaped
to find the slow paths: tab characters only (they expand to eight spaces each), one line of
seeded words without a line break (all wrapping), a word or two per line (many lines), and
ordinary prose (paragraphs of sentences set at 72 columns, a blank line between them, some
lines indented with tabs), each of 1 MiB and 25 MiB (the transform's default limit; prose of
12 MiB, as 25 MiB of it is more than ``MAX_PAGES`` pages). The inputs are generated here (seed
11) and cached under ``build/benchmarks/watermark/``. Each case runs in a fresh interpreter
with ``--functions`` (default ``functions/``) on the path, so an older copy of
``pdf_watermark`` can be measured side by side: ``decode_text`` then ``text_to_pdf`` (the
conversion), then ``stamp`` of the result, ``--repeat`` times; a case still running after
``--timeout`` seconds is stopped and recorded as such. Reported: the conversion's first and
median seconds, and its median CPU seconds (``process_time``: steadier than the wall clock
when other work shares the machine), the stamp's median, the pages, or the refusal (status,
code and message), and the process's peak resident set. The run goes under
``text_conversion.<label>`` in the results, next to the runs of other labels; the stamping
results are kept as they are.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import math
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import textwrap
import time
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pypdf
from pypdf import PdfReader, PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    IndirectObject,
    NameObject,
    NumberObject,
    StreamObject,
)

from benchmarks import FUNCTIONS, ROOT
from benchmarks.recording import cpu_model, write_results

MODULE = "pdf_watermark"
RESULTS = Path(__file__).resolve().parent / "results" / "watermark.json"
CACHE = ROOT / "build" / "benchmarks" / "watermark"
GENERATOR_VERSION = 1  # bump when the inputs change, so cached files are not reused
SEED = 11

WATERMARK = "alice@example.com 2026-11-26 18:00 UTC"
ACCESS_ID = "20261126T180000000Z-0123456789ab"
QPDF_OWNER = "benchmark-owner-7f3a9c2e"  # qpdf needs one; the library makes its own
WATERMARK_OPACITY = 0.25

TARGET_100_PAGES_S = 1.0
TARGET_PEAK_MB = 256
FUNCTION_MEMORY_MB = 512

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, points
MARGIN = 72
MEASURE = PAGE_WIDTH - 2 * MARGIN
FONT_SIZE = 10
LEADING = 13
FIGURE_EVERY = 5
ROTATE_EVERY = 10
IMAGE_WIDTH, IMAGE_HEIGHT = 240, 160

# Helvetica's advance widths (its AFM, 1/1000 em) for ASCII 32-126.
HELVETICA_WIDTHS = dict(zip(map(chr, range(32, 127)), (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
), strict=True))

# ------------------------------------------------------------------------------ the inputs

COMMON_WORDS = (
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "with", "be", "on",
    "not", "this", "by", "are", "or", "from", "at", "which", "an", "have", "has", "will",
    "shall", "may", "any", "all", "its", "their", "such", "each", "under", "within", "upon",
    "agreement", "party", "parties", "section", "period", "notice", "written", "services",
    "customer", "provider", "data", "information", "obligations", "terms", "payment", "fees",
    "account", "access", "report", "review", "quarter", "annual", "revenue", "costs", "total",
    "results", "growth", "market", "risk", "policy", "security", "compliance", "audit",
    "records", "request", "approval", "contract", "liability", "confidential", "schedule",
    "delivery", "support", "incident", "response", "system", "process", "control", "budget",
    "forecast", "operating", "capital", "investment", "employees", "management", "board",
)


def repeatable(seed: int) -> random.Random:
    return random.Random(seed)  # noqa: S311 (repeatable benchmark data, not secrets)


def invented_words(rng: random.Random, count: int) -> list[str]:
    syllables = ("ra", "ven", "tor", "mi", "sal", "den", "ko", "lu", "ber", "sta", "nel",
                 "qui", "fa", "ron", "til", "pe", "gra", "dor", "ex", "ma", "vi", "ton")
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
            for _ in range(count)]


def sentence(rng: random.Random, vocabulary: Sequence[str]) -> str:
    words = [rng.choice(vocabulary) if rng.random() < 0.3 else rng.choice(COMMON_WORDS)
             for _ in range(rng.randint(6, 22))]
    if rng.random() < 0.2:
        words.insert(rng.randrange(len(words)), f"{rng.randint(1, 99_999):,}")
    if rng.random() < 0.15:
        words.insert(rng.randrange(len(words)), f"({rng.choice(vocabulary).upper()[:4]})")
    if len(words) > 8 and rng.random() < 0.4:
        words[rng.randrange(2, len(words) - 2)] += ","
    text = " ".join(words)
    return text[0].upper() + text[1:] + rng.choice(".....;:?")


def text_width(text: str, size: float) -> float:
    return sum(HELVETICA_WIDTHS.get(char, 556) for char in text) * size / 1000


def wrap(words: Sequence[str], size: float, measure: float) -> list[list[str]]:
    lines: list[list[str]] = []
    line: list[str] = []
    for word in words:
        if line and text_width(" ".join([*line, word]), size) > measure:
            lines.append(line)
            line = []
        line.append(word)
    if line:
        lines.append(line)
    return lines


def pdf_string(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def body_lines(rng: random.Random, vocabulary: Sequence[str], count: int) -> list[str]:
    """``count`` lines of content stream: justified paragraphs (``Tw``), a blank line between."""
    ops: list[str] = []
    while len(ops) < count:
        words = " ".join(sentence(rng, vocabulary)
                         for _ in range(rng.randint(2, 7))).split(" ")
        lines = wrap(words, FONT_SIZE, MEASURE)
        for number, line in enumerate(lines):
            last = number == len(lines) - 1
            spacing = 0.0
            if not last and len(line) > 1:
                spacing = (MEASURE - text_width(" ".join(line), FONT_SIZE)) / (len(line) - 1)
            ops.append(f"{spacing:.3f} Tw {pdf_string(' '.join(line))} Tj T*")
        ops.append("0 Tw T*")
    return ops[:count]


def figure_image(rng: random.Random) -> bytes:
    """A 240x160 RGB picture: sixteen bands of smooth gradient, four bits of noise on each byte
    of the top two fifths: about 45 KB once compressed, like a small photograph or chart."""
    hue, shade = rng.randrange(256), rng.randrange(256)
    bands = [bytes(channel for x in range(IMAGE_WIDTH) for channel in (
        (hue + x + 9 * band) % 256, (x * 255 // IMAGE_WIDTH + shade) % 256,
        (255 - hue + 15 * band) % 256)) for band in range(16)]
    picture = b"".join(bands[y * 16 // IMAGE_HEIGHT] for y in range(IMAGE_HEIGHT))
    noisy = len(picture) * 2 // 5  # the rest is flat colour, as in a chart's background
    noise = rng.randbytes(noisy).translate(bytes(value & 0x0F for value in range(256)))
    noise += bytes(len(picture) - noisy)
    return (int.from_bytes(picture) ^ int.from_bytes(noise)).to_bytes(len(picture))


def page_content(rng: random.Random, vocabulary: Sequence[str], number: int, total: int,
                 title: str, figure: bool) -> str:
    top = PAGE_HEIGHT - MARGIN
    ops = [
        "q 0.2 g BT /F2 9 Tf", f"{MARGIN} {top + 24} Td {pdf_string(title)} Tj ET",
        f"0.6 G 0.5 w {MARGIN} {top + 16} m {PAGE_WIDTH - MARGIN} {top + 16} l S",
        f"{MARGIN} {MARGIN - 20} m {PAGE_WIDTH - MARGIN} {MARGIN - 20} l S",
        f"BT /F1 8 Tf {PAGE_WIDTH - MARGIN - 60} {MARGIN - 34} Td "
        f"{pdf_string(f'Page {number} of {total}')} Tj ET Q",
    ]
    lines = rng.randint(40, 50)
    y: float = top
    if figure:
        height = IMAGE_HEIGHT * 1.2
        ops.append(f"q {IMAGE_WIDTH * 1.2:.0f} 0 0 {height:.0f} {MARGIN} {y - height:.0f} cm "
                   "/Im1 Do Q")
        caption = f"Figure {number // FIGURE_EVERY}. " + sentence(rng, vocabulary)
        ops.append(f"BT /F2 9 Tf {MARGIN} {y - height - 14:.0f} Td "
                   f"{pdf_string(caption[:90])} Tj ET")
        y -= height + 32
        lines = min(lines, int((y - MARGIN) / LEADING))
    ops.append(f"BT /F1 {FONT_SIZE} Tf {LEADING} TL {MARGIN} {y} Td")
    ops.extend(body_lines(rng, vocabulary, lines))
    ops.append("ET")
    return "\n".join(ops) + "\n"


def font(writer: PdfWriter, name: str) -> IndirectObject:
    return writer._add_object(DictionaryObject({
        NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
        NameObject("/BaseFont"): NameObject(name),
        NameObject("/Encoding"): NameObject("/WinAnsiEncoding")}))


def flate(data: bytes, extra: dict[str, Any] | None = None) -> StreamObject:
    stream = StreamObject()
    stream.set_data(zlib.compress(data, 6))
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    for key, value in (extra or {}).items():
        stream[NameObject(key)] = value
    return stream


def make_document(pages: int, seed: int = SEED) -> bytes:
    """A deterministic ``pages``-page document (see the module docstring)."""
    rng = repeatable(seed * 1_000_003 + pages)
    vocabulary = invented_words(rng, 400)
    writer = PdfWriter()
    body, header = font(writer, "/Helvetica"), font(writer, "/Helvetica-Oblique")
    title = f"Quarterly operating review {rng.choice(vocabulary).capitalize()} - confidential"
    for number in range(1, pages + 1):
        page = writer.add_blank_page(PAGE_WIDTH, PAGE_HEIGHT)
        figure = number % FIGURE_EVERY == 0
        resources = DictionaryObject({
            NameObject("/Font"): DictionaryObject({NameObject("/F1"): body,
                                                   NameObject("/F2"): header}),
            NameObject("/ProcSet"): ArrayObject([NameObject("/PDF"), NameObject("/Text")])})
        if figure:
            image = writer._add_object(flate(figure_image(rng), {
                "/Type": NameObject("/XObject"), "/Subtype": NameObject("/Image"),
                "/Width": NumberObject(IMAGE_WIDTH), "/Height": NumberObject(IMAGE_HEIGHT),
                "/ColorSpace": NameObject("/DeviceRGB"), "/BitsPerComponent": NumberObject(8)}))
            resources[NameObject("/XObject")] = DictionaryObject({NameObject("/Im1"): image})
        page[NameObject("/Resources")] = resources
        content = page_content(rng, vocabulary, number, pages, title, figure)
        page[NameObject("/Contents")] = writer._add_object(
            flate(content.encode("cp1252", errors="replace")))
        if number % ROTATE_EVERY == 0:
            page[NameObject("/Rotate")] = NumberObject(90)
    writer.add_metadata({"/Title": title, "/Author": "benchmarks.watermark",
                         "/Producer": f"pypdf {pypdf.__version__}",
                         "/CreationDate": "D:20261126000000Z"})
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def watermark_page(text: str = WATERMARK) -> bytes:
    """qpdf's overlay: one Letter page, ``text`` along the diagonal, 25% opaque, mid grey."""
    angle = math.atan2(PAGE_HEIGHT, PAGE_WIDTH)
    cos, sin = math.cos(angle), math.sin(angle)
    diagonal = math.hypot(PAGE_WIDTH, PAGE_HEIGHT)
    size = min(60.0, 0.8 * diagonal / text_width(text, 1.0))
    width = text_width(text, size)
    # Start so that the text's middle (half way along, a third of its size up) is the centre.
    x = PAGE_WIDTH / 2 - cos * width / 2 + sin * size / 3
    y = PAGE_HEIGHT / 2 - sin * width / 2 - cos * size / 3
    content = (f"q /GS1 gs 0.5 g BT /F1 {size:.2f} Tf {cos:.5f} {sin:.5f} {-sin:.5f} {cos:.5f} "
               f"{x:.2f} {y:.2f} Tm {pdf_string(text)} Tj ET Q\n")
    writer = PdfWriter()
    page = writer.add_blank_page(PAGE_WIDTH, PAGE_HEIGHT)
    state = DictionaryObject({NameObject("/Type"): NameObject("/ExtGState"),
                              NameObject("/ca"): FloatObject(WATERMARK_OPACITY),
                              NameObject("/CA"): FloatObject(WATERMARK_OPACITY)})
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): font(writer, "/Helvetica")}),
        NameObject("/ExtGState"): DictionaryObject({NameObject("/GS1"): state})})
    stream = DecodedStreamObject()
    stream.set_data(content.encode("ascii"))
    page[NameObject("/Contents")] = writer._add_object(stream.flate_encode())
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def cached_file(path: Path, make: Any, rebuild: bool) -> Path:
    if rebuild or not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(make())
        os.replace(temporary, path)
    return path


def input_pdf(pages: int, rebuild: bool) -> Path:
    return cached_file(CACHE / f"input-{pages}p-v{GENERATOR_VERSION}-s{SEED}.pdf",
                       lambda: make_document(pages), rebuild)


# ------------------------------------------------------------------------------ measuring

OURS = textwrap.dedent("""
    import json, statistics, sys, time
    def status(key):  # MB; VmHWM is this process's own peak, not inherited like ru_maxrss
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return None
    source, repeat, watermark, access_id, target = sys.argv[1:6]
    started = time.perf_counter()
    from pdf_watermark import stamp_pdf
    import_s = time.perf_counter() - started
    with open(source, "rb") as handle:
        data = handle.read()
    rss_before, hwm_before = status("VmRSS"), status("VmHWM")
    times, size, peak_first = [], 0, None
    for run in range(int(repeat)):
        started = time.perf_counter()
        output = stamp_pdf(data, watermark=watermark, access_id=access_id)
        times.append(time.perf_counter() - started)
        if run == 0:
            peak_first, size = status("VmHWM"), len(output)
            with open(target, "wb") as handle:
                handle.write(output)
        output = None  # never two outputs alive at once
    print(json.dumps({"import_s": import_s, "times_s": times, "output_bytes": size,
                      "rss_before_mb": rss_before, "hwm_before_mb": hwm_before,
                      "peak_first_mb": peak_first, "peak_rss_mb": status("VmHWM")}))
""")

RUSAGE_WRAPPER = textwrap.dedent("""
    import json, resource, subprocess, sys
    code = subprocess.run(sys.argv[1:], capture_output=True).returncode
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KB on Linux
    print(json.dumps({"returncode": code, "max_rss_kb": peak}))
""")


def library_ready() -> tuple[bool, str]:
    """Whether ``pdf_watermark`` imports, in a fresh interpreter, with stamp_pdf."""
    result = subprocess.run(  # noqa: S603 (this interpreter, a fixed import)
        [sys.executable, "-c", f"import {MODULE} as m; print(callable(m.stamp_pdf))"],
        capture_output=True, text=True, check=False, cwd=ROOT, env=child_env())
    if result.returncode != 0 or result.stdout.strip() != "True":
        last = (result.stderr.strip().splitlines() or ["no stamp_pdf"])[-1]
        return False, f"{MODULE} is not usable: {last}"
    return True, ""


def module_digest(functions: Path = FUNCTIONS) -> str | None:
    """The SHA-256 of the module under test, as measured (it may change between runs)."""
    path = functions / MODULE / "__init__.py"
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def child_env(functions: Path = FUNCTIONS) -> dict[str, str]:
    return {"PYTHONPATH": str(functions), "PATH": os.environ.get("PATH", ""),
            "PYTHONHASHSEED": "0"}


def measure_ours(source: Path, pages: int, repeat: int) -> dict[str, Any]:
    target = CACHE / f"ours-{pages}p.pdf"
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 (this interpreter, our own script)
        [sys.executable, "-c", OURS, str(source), str(repeat), WATERMARK, ACCESS_ID,
         str(target)], capture_output=True, text=True, check=False, cwd=ROOT, env=child_env())
    process_s = time.perf_counter() - started
    if result.returncode != 0:
        return {"tool": "ours", "error": result.stderr.strip().splitlines()[-1:]}
    run = json.loads(result.stdout.strip().splitlines()[-1])
    median = statistics.median(run["times_s"])
    return {
        "tool": "ours", "runs": len(run["times_s"]),
        "first_s": round(run["times_s"][0], 4), "median_s": round(median, 4),
        "times_s": [round(value, 4) for value in run["times_s"]],
        "pages_per_s": round(pages / median, 1), "output_bytes": run["output_bytes"],
        "import_s": round(run["import_s"], 3), "process_s": round(process_s, 2),
        "rss_before_mb": round(run["rss_before_mb"], 1),
        "peak_first_mb": round(run["peak_first_mb"], 1),
        "peak_rss_mb": round(run["peak_rss_mb"], 1),
        "stamp_footprint_mb": round(run["peak_rss_mb"] - run["rss_before_mb"], 1),
        "output": check_output(target),
    }


def run_measured(command: Sequence[str]) -> tuple[float, float, int, str]:
    """One process: wall seconds, peak RSS MB, return code, stderr's last line."""
    gnu_time = shutil.which("time", path="/usr/bin")
    if gnu_time:
        wrapped = [gnu_time, "-v", *command]
    else:
        wrapped = [sys.executable, "-c", RUSAGE_WRAPPER, *command]
    started = time.perf_counter()
    result = subprocess.run(wrapped, capture_output=True, text=True, check=False)  # noqa: S603
    seconds = time.perf_counter() - started
    if gnu_time:
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr)
        peak_kb = int(found.group(1)) if found else 0
        code = result.returncode
        stderr = result.stderr.split("\tCommand being timed")[0].strip()
    else:
        report = json.loads(result.stdout.strip().splitlines()[-1])
        peak_kb, code, stderr = report["max_rss_kb"], report["returncode"], ""
    return seconds, peak_kb / 1024, code, (stderr.splitlines() or [""])[-1]


def qpdf_commands(source: Path, overlay: Path, target: Path) -> dict[str, list[str]]:
    qpdf = shutil.which("qpdf") or "qpdf"
    base = [qpdf, str(source), "--overlay", str(overlay), "--repeat=1", "--"]
    return {
        "qpdf-overlay": [*base, str(target)],
        "qpdf-overlay-aes256": [*base, "--encrypt", "", QPDF_OWNER, "256", "--modify=none",
                                "--extract=n", "--print=full", "--", str(target)],
    }


def measure_qpdf(tool: str, command: Sequence[str], target: Path, pages: int,
                 repeat: int) -> dict[str, Any]:
    times, peaks, codes, warnings = [], [], set(), ""
    for _ in range(repeat):
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        seconds, peak_mb, code, last = run_measured(command)
        times.append(seconds)
        peaks.append(peak_mb)
        codes.add(code)
        warnings = warnings or (last if code == 3 else "")  # 3: succeeded with warnings
        if code not in (0, 3):
            return {"tool": tool, "error": [last], "returncode": code}
    median = statistics.median(times)
    return {
        "tool": tool, "runs": len(times), "first_s": round(times[0], 4),
        "median_s": round(median, 4), "times_s": [round(value, 4) for value in times],
        "pages_per_s": round(pages / median, 1), "output_bytes": target.stat().st_size,
        "peak_rss_mb": round(max(peaks), 1), "returncodes": sorted(codes),
        "warning": warnings or None, "output": check_output(target),
    }


def check_output(path: Path) -> dict[str, Any]:
    """What the output is, seen by pypdf: pages, encryption (V/R/P), whether it opens with no
    password, whether pages 1 and 10 have the watermark in their extracted text, and whether
    its document information or XMP holds the access id."""
    if not path.is_file():
        return {"exists": False}
    reader = PdfReader(path)
    found: dict[str, Any] = {"encrypted": reader.is_encrypted}
    if reader.is_encrypted:
        found["opens_without_password"] = bool(reader.decrypt(""))
        encrypt = reader.trailer["/Encrypt"].get_object()
        if isinstance(encrypt, DictionaryObject):
            found["encryption"] = f"V{encrypt.get('/V')} R{encrypt.get('/R')}"
            written = int(encrypt.get("/P", 0))  # a signed 32-bit integer by convention
            found["permissions_P"] = written - 2**32 if written >= 2**31 else written
            if written != found["permissions_P"]:
                found["permissions_P_written"] = written
    found["pages"] = len(reader.pages)
    # Page 1 and the first rotated page. pypdf's extract_text skips diagonal text drawn in a
    # page's own content, but follows Form XObjects (how both tools draw it).
    found["watermark_in_text"] = {
        str(number): WATERMARK in reader.pages[number - 1].extract_text()
        for number in sorted({1, min(ROTATE_EVERY, len(reader.pages))})}
    info = " ".join(str(value) for value in (reader.metadata or {}).values())
    xmp = reader.root_object.get("/Metadata")
    xmp = xmp.get_object() if xmp is not None else None
    found["access_id_in_metadata"] = ACCESS_ID in info or (
        isinstance(xmp, StreamObject) and ACCESS_ID.encode() in xmp.get_data())
    return found


def describe_input(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    reader = PdfReader(io.BytesIO(data))
    return {"file": str(path.relative_to(ROOT)), "bytes": len(data),
            "kb_per_page": round(len(data) / 1024 / len(reader.pages), 1),
            "pages": len(reader.pages),
            "rotated_pages": sum(1 for page in reader.pages if page.get("/Rotate", 0)),
            "sha256": hashlib.sha256(data).hexdigest()}


# ------------------------------------------------------------------------------ text to PDF

TEXT_GENERATOR_VERSION = 1
MIB = 2**20
# (name, kind, MiB)
TEXT_CASES = (
    ("tabs-1mib", "tabs", 1), ("tabs-25mib", "tabs", 25),
    ("long-line-1mib", "long-line", 1), ("long-line-25mib", "long-line", 25),
    ("short-lines-1mib", "short-lines", 1), ("short-lines-25mib", "short-lines", 25),
    ("prose-1mib", "prose", 1), ("prose-12mib", "prose", 12),
)


def text_input(kind: str, mib: int) -> bytes:
    """``mib`` MiB of UTF-8 text of ``kind`` (see the module docstring), deterministic."""
    size = mib * MIB
    if kind == "tabs":
        return b"\t" * size
    rng = repeatable(SEED * 1_000_003 + mib * 31 + len(kind))
    vocabulary = invented_words(rng, 400)
    parts: list[str] = []
    length = 0
    while length < size:
        if kind == "long-line":
            part = sentence(rng, vocabulary) + " "
        elif kind == "short-lines":
            part = " ".join(rng.choice(COMMON_WORDS) for _ in range(rng.randint(1, 2))) + "\n"
        else:
            paragraph = " ".join(sentence(rng, vocabulary) for _ in range(rng.randint(2, 7)))
            lines = textwrap.wrap(paragraph, 72)
            if rng.random() < 0.2:
                lines = ["\t" * rng.randint(1, 2) + line for line in lines]
            part = "\n".join(lines) + "\n\n"
        parts.append(part)
        length += len(part.encode())
    return "".join(parts).encode()[:size]


def text_file(name: str, kind: str, mib: int, rebuild: bool) -> Path:
    return cached_file(CACHE / f"text-{name}-v{TEXT_GENERATOR_VERSION}-s{SEED}.txt",
                       lambda: text_input(kind, mib), rebuild)


TEXT_CHILD = textwrap.dedent("""
    import json, sys, time
    def status(key):  # MB
        for line in open("/proc/self/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return None
    source, repeat, watermark, access_id = sys.argv[1:5]
    started = time.perf_counter()
    import pdf_watermark as library
    import_s = time.perf_counter() - started
    with open(source, "rb") as handle:
        data = handle.read()
    rss_before = status("VmRSS")
    runs = []
    for _ in range(int(repeat)):
        started, cpu = time.perf_counter(), time.process_time()
        try:
            pdf = library.text_to_pdf(library.decode_text(data))
        except library.DocumentError as error:
            runs.append({"convert_s": time.perf_counter() - started,
                         "convert_cpu_s": time.process_time() - cpu,
                         "refused": {"status": error.status, "code": error.code,
                                     "message": error.message}})
            continue
        converted, converted_cpu = time.perf_counter(), time.process_time()
        stamped = library.stamp(pdf, watermark=watermark, access_id=access_id)
        runs.append({"convert_s": converted - started, "convert_cpu_s": converted_cpu - cpu,
                     "stamp_s": time.perf_counter() - converted, "pages": stamped.pages,
                     "pdf_bytes": len(pdf), "output_bytes": len(stamped.pdf)})
        pdf = stamped = None  # never two outputs alive at once
    print(json.dumps({"import_s": import_s, "rss_before_mb": rss_before,
                      "peak_rss_mb": status("VmHWM"), "runs": runs}))
""")


def measure_text(source: Path, functions: Path, repeat: int, timeout: float) -> dict[str, Any]:
    """One case in a fresh interpreter (see the module docstring)."""
    started = time.perf_counter()
    try:
        result = subprocess.run(  # noqa: S603 (this interpreter, our own script)
            [sys.executable, "-c", TEXT_CHILD, str(source), str(repeat), WATERMARK, ACCESS_ID],
            capture_output=True, text=True, check=False, cwd=ROOT, env=child_env(functions),
            timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timed_out": True, "timeout_s": timeout}
    process_s = time.perf_counter() - started
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1:]}
    report = json.loads(result.stdout.strip().splitlines()[-1])
    runs = report["runs"]
    converts = [run["convert_s"] for run in runs]
    cpu = [run["convert_cpu_s"] for run in runs]
    row: dict[str, Any] = {
        "runs": len(runs), "convert_first_s": round(converts[0], 4),
        "convert_median_s": round(statistics.median(converts), 4),
        "convert_s": [round(value, 4) for value in converts],
        "convert_cpu_median_s": round(statistics.median(cpu), 4),
        "import_s": round(report["import_s"], 3), "process_s": round(process_s, 2),
        "rss_before_mb": round(report["rss_before_mb"], 1),
        "peak_rss_mb": round(report["peak_rss_mb"], 1)}
    if "refused" in runs[0]:
        row["refused"] = runs[0]["refused"]
    else:
        row.update(stamp_median_s=round(statistics.median(run["stamp_s"] for run in runs), 4),
                   pages=runs[0]["pages"], pdf_bytes=runs[0]["pdf_bytes"],
                   output_bytes=runs[0]["output_bytes"])
    return row


def print_text_row(name: str, size: int, row: dict[str, Any]) -> None:
    head = f"{name:<20} {size / MIB:>6.1f}"
    if row.get("timed_out"):
        print(f"{head}  stopped after {row['timeout_s']:g} s", flush=True)
    elif "error" in row:
        print(f"{head}  error: {' '.join(row['error'])}", flush=True)
    else:
        outcome = (f"{row['refused']['status']} {row['refused']['message']}"
                   if "refused" in row else
                   f"{row['pages']} pages, stamped in {row['stamp_median_s']:.3f} s")
        print(f"{head} {row['convert_first_s']:>9.3f} {row['convert_median_s']:>10.3f} "
              f"{row['convert_cpu_median_s']:>7.3f} {row['peak_rss_mb']:>8.1f}  {outcome}",
              flush=True)


def earlier_results(path: Path) -> dict[str, Any]:
    """The results file as it is, or nothing."""
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(found, dict):
            return found
    return {}


def main_text(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    functions = args.functions.resolve()
    chosen = [case for case in TEXT_CASES if not args.cases or case[0] in args.cases]
    run: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
        "functions": str(functions.relative_to(ROOT)) if functions.is_relative_to(ROOT)
        else str(functions),
        "module_sha256": module_digest(functions), "note": args.note,
        "timeout_s": args.timeout,
        "call": "text_to_pdf(decode_text(data)), then stamp(pdf, watermark=WATERMARK, "
                "access_id=ACCESS_ID)",
        "cases": {}}
    print(f"{'case':<20} {'MiB':>6} {'first s':>9} {'median s':>10} {'CPU s':>7} {'peak MB':>8}"
          "  outcome", flush=True)
    for name, kind, mib in chosen:
        source = text_file(name, kind, mib, args.rebuild)
        data = source.read_bytes()
        row = measure_text(source, functions, args.repeat, args.timeout)
        row["input"] = {"file": str(source.relative_to(ROOT)), "bytes": len(data),
                        "lines": data.count(b"\n"), "tabs": data.count(b"\t"),
                        "sha256": hashlib.sha256(data).hexdigest()}
        run["cases"][name] = row
        print_text_row(name, len(data), row)
    run["machine"]["load_average_end"] = [round(value, 2) for value in os.getloadavg()]
    run["total_s"] = round(time.perf_counter() - started, 1)
    document = earlier_results(args.output)
    runs = document.setdefault("text_conversion", {})
    earlier = runs.get(args.label, {}).get("cases", {})
    run["cases"] = {**earlier, **run["cases"]}  # a run of some cases keeps the others
    runs[args.label] = run
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    print(f"total {run['total_s']} s -> {args.output} (text_conversion.{args.label})")


# ---------------------------------------------------------------------------------- main

def machine() -> dict[str, Any]:
    model = cpu_model()
    qpdf_version = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        qpdf_version = subprocess.run(  # noqa: S603
            [shutil.which("qpdf") or "qpdf", "--version"], capture_output=True, text=True,
            check=False).stdout.splitlines()[0].removeprefix("qpdf version ")
    cryptography_version = None
    with contextlib.suppress(ImportError):
        import cryptography

        cryptography_version = cryptography.__version__
    return {"cpu": model, "cores": os.cpu_count(), "arch": platform.machine(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "pypdf": pypdf.__version__, "cryptography": cryptography_version,
            "qpdf": qpdf_version, "gnu_time": bool(shutil.which("time", path="/usr/bin")),
            "load_average": [round(value, 2) for value in os.getloadavg()],
            "note": "other work shared this machine during the run"}


def print_header() -> None:
    print(f"{'pages':>6} {'input MB':>8}  {'tool':<20} {'first s':>8} {'median s':>9} "
          f"{'pages/s':>8} {'out MB':>7} {'RSS before':>10} {'peak 1st':>8} {'peak MB':>8} "
          f"{'stamp MB':>8}", flush=True)


def print_row(pages: int, source: dict[str, Any], row: dict[str, Any]) -> None:
    if "error" in row:
        print(f"{pages:>6} {source['bytes'] / 2**20:>8.2f}  {row['tool']:<20} "
              f"error: {' '.join(row['error'])}", flush=True)
        return

    def optional(key: str) -> str:
        return f"{row[key]:>.1f}" if key in row else "-"

    print(f"{pages:>6} {source['bytes'] / 2**20:>8.2f}  {row['tool']:<20} "
          f"{row['first_s']:>8.3f} {row['median_s']:>9.3f} {row['pages_per_s']:>8.1f} "
          f"{row['output_bytes'] / 2**20:>7.2f} {optional('rss_before_mb'):>10} "
          f"{optional('peak_first_mb'):>8} {row['peak_rss_mb']:>8.1f} "
          f"{optional('stamp_footprint_mb'):>8}", flush=True)


def targets(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    ours = {row["pages"]: row for row in results if row["tool"] == "ours" and "error" not in row}
    hundred = ours.get(100)
    peaks = {str(pages): row["peak_rss_mb"] for pages, row in sorted(ours.items())}
    return {
        "100_pages_under_s": {
            "target": TARGET_100_PAGES_S,
            "measured_median_s": hundred["median_s"] if hundred else None,
            "met": hundred["median_s"] < TARGET_100_PAGES_S if hundred else None},
        "peak_rss_under_mb": {
            "target": TARGET_PEAK_MB, "function_memory_mb": FUNCTION_MEMORY_MB,
            "measured_peak_mb": peaks,
            "met": {pages: peak < TARGET_PEAK_MB for pages, peak in peaks.items()} or None},
    }


def print_targets(found: dict[str, Any]) -> None:
    speed, memory = found["100_pages_under_s"], found["peak_rss_under_mb"]
    if speed["measured_median_s"] is None:
        print(f"target: 100 pages under {TARGET_100_PAGES_S:g} s: not measured")
    else:
        print(f"target: 100 pages under {TARGET_100_PAGES_S:g} s: "
              f"{speed['measured_median_s']:.3f} s, {'met' if speed['met'] else 'NOT met'}")
    for pages, peak in memory["measured_peak_mb"].items():
        print(f"target: peak under {TARGET_PEAK_MB} MB (a {FUNCTION_MEMORY_MB} MB function), "
              f"{pages} pages: {peak:.1f} MB, "
              f"{'met' if memory['met'][pages] else 'NOT met'}")
    if not memory["measured_peak_mb"]:
        print(f"target: peak under {TARGET_PEAK_MB} MB: not measured")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rebuild", action="store_true", help="generate the inputs again")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--text", action="store_true",
                        help="measure text to PDF instead of stamping PDFs")
    parser.add_argument("--label", default="after",
                        help="--text: the name the run is recorded under")
    parser.add_argument("--functions", type=Path, default=FUNCTIONS,
                        help="--text: the folder holding the pdf_watermark to measure")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="--text: seconds before a case is stopped")
    parser.add_argument("--cases", nargs="+", choices=[name for name, _, _ in TEXT_CASES],
                        help="--text: only these cases")
    parser.add_argument("--note", help="--text: what was measured (a commit, say)")
    args = parser.parse_args()
    if args.text:
        main_text(args)
        return

    started = time.perf_counter()
    ready, why = library_ready()
    if not ready:
        print(f"ours: not measured ({why})", flush=True)
    overlay = cached_file(CACHE / f"watermark-overlay-v{GENERATOR_VERSION}.pdf", watermark_page,
                          args.rebuild)
    have_qpdf = shutil.which("qpdf") is not None
    document: dict[str, Any] = {
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(), "seed": SEED, "repeat": args.repeat,
        "watermark": WATERMARK, "access_id": ACCESS_ID,
        "ours": {"module": MODULE, "measured": ready, "why_not": why or None,
                 "module_sha256": module_digest(),
                 "call": "stamp_pdf(data, watermark=WATERMARK, access_id=ACCESS_ID)"},
        "qpdf_commands": {tool: " ".join(repr(part) if part == "" else part for part in command)
                          for tool, command in qpdf_commands(
                              Path("IN.pdf"), Path("WM.pdf"), Path("OUT.pdf")).items()},
        "overlay": {"file": str(overlay.relative_to(ROOT)), "bytes": overlay.stat().st_size,
                    "opacity": WATERMARK_OPACITY},
        "inputs": {}, "results": [],
    }
    print_header()
    for pages in args.pages:
        phase = time.perf_counter()
        source = input_pdf(pages, args.rebuild)
        described = describe_input(source)
        described["prepare_s"] = round(time.perf_counter() - phase, 2)
        document["inputs"][str(pages)] = described
        rows = []
        if ready:
            rows.append(measure_ours(source, pages, args.repeat))
        if have_qpdf:
            for tool in qpdf_commands(source, overlay, Path()):
                target = CACHE / f"{tool}-{pages}p.pdf"
                command = qpdf_commands(source, overlay, target)[tool]
                rows.append(measure_qpdf(tool, command, target, pages, args.repeat))
        for row in rows:
            row["pages"] = pages
            document["results"].append(row)
            print_row(pages, described, row)
    if not have_qpdf:
        print("qpdf: not found on PATH (apt-get install -y qpdf); baseline not measured")
    document["targets"] = targets(document["results"])
    print_targets(document["targets"])
    kept = earlier_results(args.output).get("text_conversion")
    if kept:
        document["text_conversion"] = kept  # measured apart (--text), kept as it was
    write_results(document, args.output, started)


if __name__ == "__main__":
    main()
