import pytest

from meters.model_registry import Manifest, ModelNotFound, ModelRegistry


def save(registry, name, value):
    with registry.staged(name) as (version, staging):
        (staging / "weights.txt").write_text(value)
        return registry.commit(staging, Manifest(name, version, "test", ["x"], metrics={"f1": 0.9}))


def test_versions_are_sealed_and_promotion_picks_what_services_load(tmp_path):
    registry = ModelRegistry(tmp_path)
    with pytest.raises(ModelNotFound):
        registry.promoted("anomaly")
    first = save(registry, "anomaly", "one")
    second = save(registry, "anomaly", "two")
    assert registry.versions("anomaly") == sorted([first.manifest.version, second.manifest.version])
    registry.promote("anomaly", first.manifest.version)
    loaded = registry.promoted("anomaly")
    assert loaded.file("weights.txt").read_text() == "one"
    assert loaded.manifest.files == ["weights.txt"]
    assert loaded.manifest.metrics == {"f1": 0.9}
    with pytest.raises(ModelNotFound):
        registry.promote("anomaly", "nope")


def test_a_failed_save_leaves_nothing_behind(tmp_path):
    registry = ModelRegistry(tmp_path)
    with pytest.raises(RuntimeError):
        with registry.staged("anomaly") as (_, staging):
            (staging / "weights.txt").write_text("half")
            raise RuntimeError("disk full")
    assert registry.versions("anomaly") == [] and list((tmp_path / "anomaly").iterdir()) == []
