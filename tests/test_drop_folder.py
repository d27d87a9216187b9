"""Which files of the NEM12 drop folder are ready to import, and where a finished one goes."""

import os

from ingest_svc.drop_folder import complete, free_name, scan, wanted


def test_hidden_and_partial_names_are_never_taken():
    assert wanted("nem12#123#MDP1#RET1.csv") and wanted("batch.zip")
    assert not any(wanted(n) for n in (".nem12.csv", "x.csv.part", "x.csv.tmp", ".x.part"))


def test_a_file_is_complete_when_unchanged_since_the_poll_before(tmp_path):
    (tmp_path / "done").mkdir()
    (tmp_path / "a.csv").write_bytes(b"100,NEM12")
    (tmp_path / "b.csv.part").write_bytes(b"100,NEM12")
    (tmp_path / "empty.csv").write_bytes(b"")
    first = scan(tmp_path)
    assert set(first) == {"a.csv", "empty.csv"}  # no folder, no partial name
    assert complete(first, {}) == []  # seen once: a writer may still be at it
    assert complete(scan(tmp_path), first) == ["a.csv"]  # the empty file waits for its writer

    with open(tmp_path / "a.csv", "ab") as f:
        f.write(b",200")
    os.utime(tmp_path / "a.csv", ns=(0, first["a.csv"][1] + 1))
    grown = scan(tmp_path)
    assert complete(grown, first) == []
    assert complete(scan(tmp_path), grown) == ["a.csv"]


def test_a_finished_file_never_overwrites_one_of_the_same_name(tmp_path):
    assert free_name(tmp_path, "a.csv") == "a.csv"
    (tmp_path / "a.csv").write_bytes(b"")
    assert free_name(tmp_path, "a.csv") == "a-2.csv"
    (tmp_path / "a-2.csv.summary.json").write_text("{}")
    assert free_name(tmp_path, "a.csv") == "a-3.csv"
    (tmp_path / "README").write_text("")
    assert free_name(tmp_path, "README") == "README-2"
