"""An MDFF file arriving in chunks (ImportNem12) or whole (ImportNem12File): spooled to memory, then
to a temporary file past SPOOL_BYTES (zips need a seekable file), hashed as it comes."""

import hashlib
import tempfile

from ingest_svc.nem12_import import Nem12Importer
from meters.errors import FieldViolation, invalid_argument
from meters.ingest.v1 import nem12_pb2

SPOOL_BYTES = 32 << 20


class Upload:
    def __init__(self, max_bytes: int):
        self._max = max_bytes
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
        self._hash = hashlib.sha256()
        self.name = ""
        self.size = 0

    def add(self, name: str, chunk: bytes) -> None:
        self.name = self.name or name
        self.size += len(chunk)
        if self.size > self._max:
            raise invalid_argument(f"the file is larger than {self._max:,} bytes (METERS_NEM12_MAX_FILE_BYTES)",
                                   FieldViolation("chunk", "file too large"), reason="FILE_TOO_LARGE")
        self._file.write(chunk)
        self._hash.update(chunk)

    async def import_with(self, importer: Nem12Importer) -> nem12_pb2.Nem12ImportSummary:
        if not self.name:  # an empty file is the parser's to report (EMPTY_FILE), like any bad file
            raise invalid_argument("no file name: the first request names the file, chunks carry its bytes",
                                   FieldViolation("file_name", "is required"))
        self._file.seek(0)
        return await importer.import_file(self._file, self.name, self._hash.hexdigest())

    def close(self) -> None:
        self._file.close()
