"""Opening what parse() reads: a path, a binary file object or bytes; a zip (as MDPs send them)
yields each of its members in turn. Lines are read as bytes, one at a time, never the whole file."""

import io
import os
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

Source = str | os.PathLike | BinaryIO | bytes
ZIP_MAGIC = b"PK\x03\x04"


@contextmanager
def _binary(source: Source, name: str):
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield io.BytesIO(source), name
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            yield f, name or os.path.basename(os.fspath(source))
    elif isinstance(source, io.TextIOBase):
        raise TypeError("parse() reads bytes: open the file in binary mode ('rb')")
    else:
        yield source, name or os.path.basename(str(getattr(source, "name", "")))


def _starts_with_zip(f: BinaryIO) -> bool:
    peek = getattr(f, "peek", None)
    if peek is not None:
        return peek(4)[:4] == ZIP_MAGIC
    if f.seekable():
        start = f.tell()
        head = f.read(4)
        f.seek(start)
        return head == ZIP_MAGIC
    return False


def members(source: Source, name: str = "") -> Iterator[tuple[str, Iterator[bytes]]]:
    """(name, lines) of each file in the source: the file itself, or each member of a zip
    (named ``archive.zip/member.csv``). A zip must be seekable (a path or a spooled file)."""
    with _binary(source, name) as (f, label):
        if not _starts_with_zip(f):
            yield label, iter(f)
            return
        with zipfile.ZipFile(f) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                with archive.open(info) as member:
                    yield f"{label}/{info.filename}" if label else info.filename, iter(io.BufferedReader(member))
