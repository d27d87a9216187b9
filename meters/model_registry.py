"""Versioned model artifacts in one registry folder.

Layout: <root>/<model name>/<version>/ holds the artifact files and a
manifest.json (name, version, created_at, training window, feature schema,
metrics, framework, files); <root>/<model name>/PROMOTED names the version
services load at start (and on reload); <root>/<model name>/SHADOW, when present, names a
candidate that scores live traffic beside it without acting (docs/model-lifecycle.md). A version folder is written under a
temporary name and renamed into place, so a reader never sees half a model.
The same folders are what KServe or BentoML would be given to host.
"""

import datetime as dt
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_ROOT = Path(os.environ.get("METERS_MODEL_REGISTRY", Path(__file__).resolve().parent.parent / "models"))


@dataclass
class Manifest:
    name: str
    version: str
    framework: str
    feature_schema: list[str]
    training_window: dict[str, str] = field(default_factory=dict)  # e.g. {"start": iso, "end": iso}
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    created_at: str = ""


@dataclass(frozen=True)
class ModelVersion:
    path: Path
    manifest: Manifest

    def file(self, name: str) -> Path:
        return self.path / name


PROMOTED, SHADOW = "PROMOTED", "SHADOW"


class ModelNotFound(LookupError):
    pass


class ModelRegistry:
    def __init__(self, root: Path = DEFAULT_ROOT):
        self.root = Path(root)

    @contextmanager
    def staged(self, name: str) -> Iterator[tuple[str, Path]]:
        """A fresh version id and a staging folder to write its files into, then `commit`.
        If the block fails, the half-written version is removed."""
        version = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        staging = self.root / name / f".staging-{version}"
        staging.mkdir(parents=True)
        try:
            yield version, staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def commit(self, staging: Path, manifest: Manifest) -> ModelVersion:
        """Seal a staged version: write its manifest and move it into place."""
        manifest.created_at = manifest.created_at or dt.datetime.now(dt.timezone.utc).isoformat()
        manifest.files = sorted(p.name for p in staging.iterdir())
        (staging / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2, sort_keys=True))
        final = staging.parent / manifest.version
        staging.rename(final)
        return ModelVersion(final, manifest)

    def promote(self, name: str, version: str) -> None:
        self.point(name, PROMOTED, version)

    def point(self, name: str, pointer: str, version: str | None) -> None:
        """Set a pointer (PROMOTED, SHADOW) to a registered version, atomically; None removes it."""
        path = self.root / name / pointer
        if version is None:
            path.unlink(missing_ok=True)
            return
        if not (self.root / name / version / "manifest.json").exists():
            raise ModelNotFound(f"{name} {version} is not in {self.root}")
        tmp = path.with_suffix(".tmp")
        tmp.write_text(version + "\n")
        tmp.replace(path)

    def pointed(self, name: str, pointer: str) -> str | None:
        """The version a pointer names, or None."""
        path = self.root / name / pointer
        return path.read_text().strip() if path.exists() else None

    def versions(self, name: str) -> list[str]:
        folder = self.root / name
        return sorted(p.name for p in folder.iterdir() if (p / "manifest.json").exists()) if folder.exists() else []

    def get(self, name: str, version: str) -> ModelVersion:
        path = self.root / name / version
        try:
            data = json.loads((path / "manifest.json").read_text())
        except FileNotFoundError:
            raise ModelNotFound(f"{name} {version} is not in {self.root}") from None
        return ModelVersion(path, Manifest(**data))

    def promoted(self, name: str, pointer: str = PROMOTED) -> ModelVersion:
        version = self.pointed(name, pointer)
        if version is None:
            raise ModelNotFound(f"no {pointer.lower()} version of {name} in {self.root}: run `meters train`")
        return self.get(name, version)
