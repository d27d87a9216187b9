"""Class-data sharing for the broker's JVM: about 2 s off each start on this machine.

The first broker to stop cleanly dumps the classes it loaded (-XX:ArchiveClassesAtExit) to a
temporary file, which is then adopted as the archive beside the jars; later starts map it
(-XX:SharedArchiveFile). A JVM that finds the archive unusable warns and starts without it.
MET_KAFKA_CDS=0 turns this off.
"""

import hashlib
import os
import shutil
import uuid
from pathlib import Path


def enabled() -> bool:
    return os.environ.get("MET_KAFKA_CDS", "1") != "0"


def archive_path(libs: Path) -> Path:
    """One archive per jar set and JDK: an archive only fits the JVM that wrote it."""
    java = os.path.realpath(shutil.which("java") or "java")
    return libs.parent / f"kafka-{hashlib.sha1(java.encode()).hexdigest()[:10]}.jsa"


def use_args(libs: Path) -> list[str]:
    """Map the archive if there is one (for short-lived tools such as StorageTool)."""
    archive = archive_path(libs)
    return [f"-XX:SharedArchiveFile={archive}"] if enabled() and archive.exists() else []


def jvm_args(libs: Path, base_dir: Path) -> list[str]:
    """For the broker: map the archive, or dump one at exit when there is none yet."""
    if not enabled():
        return []
    if use := use_args(libs):
        return use
    archive = archive_path(libs)
    pending = archive.with_name(f"{archive.name}.{uuid.uuid4().hex[:8]}.tmp")
    (base_dir / "cds-pending").write_text(str(pending))
    return [f"-XX:ArchiveClassesAtExit={pending}", "-Xlog:cds=off"]  # its warnings are noise


def adopt(base_dir: Path, libs: Path) -> None:
    """After the broker has exited: keep its dump as the archive if none is there yet."""
    marker = base_dir / "cds-pending"
    try:
        pending = Path(marker.read_text())
    except OSError:
        return
    marker.unlink(missing_ok=True)
    if pending.exists():
        archive = archive_path(libs)
        if pending.stat().st_size > 0 and not archive.exists():
            os.replace(pending, archive)
        else:
            pending.unlink(missing_ok=True)
