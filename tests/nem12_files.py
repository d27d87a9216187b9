"""Shared by the NEM12 tests: where the example files are, and a parse split by kind."""

from pathlib import Path

from meters.nem12 import AccumulationRead, Block, Problem, parse

FIXTURES = Path(__file__).parent / "fixtures" / "nem12"


def split(source, **kw) -> tuple[list[Block], list[Problem], list[AccumulationRead]]:
    blocks, problems, reads = [], [], []
    for item in parse(source, **kw):
        {Block: blocks, Problem: problems, AccumulationRead: reads}[type(item)].append(item)
    return blocks, problems, reads


def nem12(*records: str) -> bytes:
    """A file from its records, one per line."""
    return ("\n".join(records) + "\n").encode()


def day(date8: str, values, quality: str = "A", update: str = "20240102030405") -> str:
    return f"300,{date8},{','.join(map(str, values))},{quality},,,{update},"
