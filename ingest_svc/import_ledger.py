"""Files imported to the end (meters.imported_files): the same file again gets its first summary back,
flagged `already_imported`, and nothing is published a second time.

Only whole imports are recorded: a file whose import was cut short (a crash, a refusal) is imported
again in full, which stores nothing twice (the writer's keys) but lets consumers that fold readings
as they arrive see the re-sent part again (docs/decisions.md 20).
"""

from psycopg_pool import AsyncConnectionPool

from ingest_svc.nem12_import import Nem12Importer
from meters.ingest.v1 import nem12_pb2
from meters.nem12.source import Source


class LedgeredImporter:
    def __init__(self, importer: Nem12Importer, pool: AsyncConnectionPool):
        self._importer = importer
        self._pool = pool

    async def import_file(self, source: Source, name: str, sha256: str) -> nem12_pb2.Nem12ImportSummary:
        async with self._pool.connection() as conn:
            cur = await conn.execute("SELECT summary FROM meters.imported_files WHERE sha256 = %s", [sha256])
            row = await cur.fetchone()
        if row is not None:
            summary = nem12_pb2.Nem12ImportSummary.FromString(row[0])
            summary.file, summary.already_imported = name, True
            return summary
        summary = await self._importer.import_file(source, name, sha256)
        async with self._pool.connection() as conn:
            await conn.execute(
                "INSERT INTO meters.imported_files (sha256, file_name, intervals, summary) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING", [sha256, name, summary.intervals, summary.SerializeToString()])
        return summary
