"""What an uploaded file is, decided from its bytes (never its name), and made safe.

* The type comes from the content's magic bytes (``filetype``); only the allow-list below
  is accepted, everything else is 415 ``type_not_allowed``.
* Images are decoded and encoded again with Pillow: what is kept is the pixels, nothing
  else (EXIF, GPS, comments, and whatever was appended or embedded: a polyglot's HTML).
  Their size in pixels is read from the header first and refused past ``MAX_PIXELS``,
  so a decompression bomb is never decoded.
* Text is UTF-8 without NUL bytes and without markup a browser would run (SVG, HTML).
* Archives are not accepted (a zip bomb is refused as a zip); office documents, which are
  zips, are stored and served as downloads, never opened by the server.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass

import filetype
from PIL import Image, ImageOps

from server.errors import ErrorCode, SteadyError

# 40 megapixels: more than any phone camera; a 40,000 x 40,000 PNG (1.6 gigapixels,
# 4.8 GB once decoded) is refused from its header.
MAX_PIXELS = 40_000_000
NAME_MAX_CHARS = 200

# MIME decided from the content -> how Pillow encodes it again (None: stored as sent).
IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WEBP",
}
DOCUMENT_TYPES = {
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "audio/mpeg",
    "audio/ogg",
    "video/mp4",
}
TEXT_TYPE = "text/plain"
EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "application/pdf": ".pdf",
}
# Markup a browser would render or run if it ever sniffed the bytes as a document.
_ACTIVE_MARKUP = re.compile(rb"<\s*(svg|html|script|!doctype|iframe|object|embed)\b", re.I)


class TooLarge(SteadyError):
    code, http_status = ErrorCode.TOO_LARGE, 413


class TypeNotAllowed(SteadyError):
    code, http_status = ErrorCode.TYPE_NOT_ALLOWED, 415


@dataclass(frozen=True, slots=True)
class CleanFile:
    name: str
    mime: str
    data: bytes

    @property
    def is_image(self) -> bool:
        return self.mime in IMAGE_TYPES


def is_inline_image(mime: str) -> bool:
    """Served inline (``<img>`` in the widget); everything else is a download."""
    return mime in IMAGE_TYPES


def clean_upload(raw: bytes, name: str, max_bytes: int) -> CleanFile:
    """The file as it will be stored and served, or TooLarge / TypeNotAllowed."""
    if len(raw) > max_bytes:
        raise TooLarge(f"the file is larger than {max_bytes} bytes")
    if not raw:
        raise TypeNotAllowed("the file is empty")
    kind = filetype.guess(raw)
    mime = kind.mime if kind is not None else None
    if mime in IMAGE_TYPES:
        data = _reencode(raw, IMAGE_TYPES[mime])
    elif mime in DOCUMENT_TYPES:
        data = raw
    elif mime is None and _is_plain_text(raw):
        mime, data = TEXT_TYPE, raw
    else:
        raise TypeNotAllowed(f"files of type {mime or 'unknown'} are not accepted")
    if len(data) > max_bytes:  # an image can grow when encoded again
        raise TooLarge(f"the file is larger than {max_bytes} bytes")
    return CleanFile(safe_name(name, mime), mime, data)


def _is_plain_text(raw: bytes) -> bool:
    if b"\x00" in raw or _ACTIVE_MARKUP.search(raw):
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _reencode(raw: bytes, fmt: str) -> bytes:
    try:
        with Image.open(io.BytesIO(raw)) as probe:
            width, height = probe.size  # from the header: nothing decoded yet
            if width * height > MAX_PIXELS:
                raise TypeNotAllowed(f"the image is larger than {MAX_PIXELS} pixels")
            frames = getattr(probe, "n_frames", 1)
            if fmt == "GIF" and width * height * frames > MAX_PIXELS:
                raise TypeNotAllowed(f"the animation is larger than {MAX_PIXELS} pixels")
            probe.load()
            image = ImageOps.exif_transpose(probe) or probe  # keep the photo upright
            out = io.BytesIO()
            if fmt == "JPEG":
                image.convert("RGB").save(out, "JPEG", quality=88)
            elif fmt == "GIF":
                image.save(out, "GIF", save_all=frames > 1)
            else:
                image.save(out, fmt)
            return out.getvalue()
    except TypeNotAllowed:
        raise
    except Image.DecompressionBombError:  # Pillow's own guard, at open, past 179 Mpx
        raise TypeNotAllowed(f"the image is larger than {MAX_PIXELS} pixels") from None
    except (OSError, ValueError, SyntaxError) as err:
        raise TypeNotAllowed(f"the image cannot be read: {type(err).__name__}") from None


def safe_name(name: str, mime: str) -> str:
    """A file name fit for a header, a terminal and a chat app: no path, no controls."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(
        ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C"
    )
    base = base.strip(" .")[:NAME_MAX_CHARS] or "file"
    extension = EXTENSIONS.get(mime)
    jpeg = mime == "image/jpeg" and base.lower().endswith(".jpeg")
    if extension and not base.lower().endswith(extension) and not jpeg:
        base = base[: NAME_MAX_CHARS - len(extension)] + extension
    return base
