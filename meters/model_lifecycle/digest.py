"""The digest of a registered version: sha256 of each file, and one sha256 over the sorted
(name, file digest) pairs, so two folders with the same files have the same artifact digest."""

import hashlib
from pathlib import Path


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def folder_digest(folder: Path) -> tuple[str, dict[str, str]]:
    """(artifact sha256, {relative file name: sha256}) of every file under `folder`."""
    files = {str(p.relative_to(folder)): file_sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}
    h = hashlib.sha256()
    for name, digest in sorted(files.items()):
        h.update(f"{name}\0{digest}\n".encode())
    return h.hexdigest(), files


def bytes_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
