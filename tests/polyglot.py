"""Hand-built PDFs, and files that are two types at once (for the tests that prove only the
checked type is read)."""

from __future__ import annotations

import struct
import zlib


def pdf_from_objects(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the first the catalog) with a correct xref."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return bytes(out)


def many_page_pdf(pages: int) -> bytes:
    """A valid PDF of ``pages`` empty Letter pages."""
    first_page = 3
    kids = " ".join(f"{first_page + i} 0 R" for i in range(pages))
    return pdf_from_objects(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
            *(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>" for _ in range(pages)),
        ]
    )


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_carrying(png: bytes, payload: bytes) -> bytes:
    """``png`` with ``payload`` in a ``tEXt`` chunk right after ``IHDR``: still a valid PNG
    (every CRC right), and the payload starts within the first 1024 bytes."""
    signature_and_ihdr = 8 + 8 + 13 + 4
    assert png[12:16] == b"IHDR"
    text = png_chunk(b"tEXt", b"Comment\x00" + payload)
    return png[:signature_and_ihdr] + text + png[signature_and_ihdr:]
