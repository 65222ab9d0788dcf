"""A ticket token drawn as a QR code, as inline SVG text for a web page (no QR library in the
browser). Drawn with PyPI's ``segno`` (pure Python, shipped in the event API's layer)."""

from __future__ import annotations

from functools import lru_cache

import segno

# Medium error correction survives a scuffed phone screen; four modules of quiet zone is what
# the QR standard asks scanners to expect.
ERROR_CORRECTION = "m"
MODULE_PIXELS = 4
QUIET_ZONE = 4
# A token is deterministic (an HMAC), so a warm function draws a guest's tickets once: repeated
# registrations and ticket lists cost no redraw (about 11 ms each, pure Python).
DRAWN_CACHE_SIZE = 1024


@lru_cache(maxsize=DRAWN_CACHE_SIZE)
def qr_svg(token: str) -> str:
    """``token`` as a QR code: an ``<svg>`` element (dark modules on white), no XML prolog."""
    code = segno.make(token, error=ERROR_CORRECTION, micro=False)
    return str(code.svg_inline(scale=MODULE_PIXELS, border=QUIET_ZONE, dark="#000",
                               light="#fff", title="Ticket QR code"))
