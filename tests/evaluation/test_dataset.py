"""Reading datasets: folders, CSV manifests with group columns, labels files, and the
clear errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from openlfr.evaluation import DatasetError, load_dataset

from .conftest import SAMPLE_IDENTITIES


def _manifest(tmp_path: Path, text: str, files: list[str] | None = None) -> Path:
    for name in files or []:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"not checked here")
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    return path


def test_folder_dataset_lists_every_photo_by_identity() -> None:
    dataset = load_dataset(SAMPLE_IDENTITIES)
    assert dataset.kind == "folders" and dataset.group_columns == []
    assert set(dataset.identities) == {p.name for p in SAMPLE_IDENTITIES.iterdir()}
    assert all(s.path.parent.name == s.identity for s in dataset.samples)
    assert dataset.images_root == SAMPLE_IDENTITIES


def test_manifest_with_groups_relative_paths_and_skipped_rows(tmp_path: Path) -> None:
    path = _manifest(
        tmp_path,
        "file,identity,sex,source\n"
        "a/1.jpg,ann,f,x\na/2.jpg,ann,f,x\nb/1.png,bob,m,y\nb/2.jpg,bob,m,y\nclip.mp4,bob,m,y\n",
        ["a/1.jpg", "a/2.jpg", "b/1.png"],
    )
    dataset = load_dataset(path)
    assert dataset.kind == "manifest"
    assert dataset.group_columns == ["sex"]  # 'source' is not a known group column
    assert [s.path for s in dataset.samples] == [tmp_path / "a/1.jpg", tmp_path / "a/2.jpg",
                                                 tmp_path / "b/1.png"]
    assert dataset.samples[2].groups == {"sex": "m"}
    problems = {p.path.name: p.problem for p in dataset.skipped}
    assert problems == {"2.jpg": "no such file", "clip.mp4": "not an image file (.jpg, .png, ...)"}
    assert load_dataset(path, group_columns=["source"]).group_columns == ["source"]


@pytest.mark.parametrize(
    "text,columns,message",
    [
        ("name,identity\nx.jpg,a\n", None, "no 'file' column"),
        ("file,who\nx.jpg,a\n", None, "no 'identity' column"),
        ("file,identity\n", None, "lists no images"),
        ("file,identity\nx.jpg,\n", None, "row 2: empty 'identity'"),
        ("file,identity,sex\nx.jpg,a,f\ny.jpg,b,\n", None, "row 3: empty 'sex' label"),
        ("file,identity\nx.jpg,a\n", ["ethnicity"], "no column 'ethnicity'"),
        ("file,identity,sex\nx.jpg,a,f\ny.jpg,a,m\n", None, "identity 'a' has sex labels"),
        ("file,identity\nx.jpg,a\nx.jpg,b\n", None, "row 3: x.jpg is already listed on row 2"),
        ("file,identity\nnope.jpg,a\n", None, "none of the 1 listed images exists"),
    ],
)
def test_bad_manifests_are_reported_clearly(
    tmp_path: Path, text: str, columns: list[str] | None, message: str
) -> None:
    path = _manifest(tmp_path, text, ["x.jpg", "y.jpg"])
    with pytest.raises(DatasetError, match=message):
        load_dataset(path, group_columns=columns)


def test_labels_file_gives_a_folder_dataset_its_groups(tmp_path: Path) -> None:
    names = sorted(p.name for p in SAMPLE_IDENTITIES.iterdir())
    labels = tmp_path / "labels.csv"
    labels.write_text("identity,age_band\n" + "".join(
        f"{n},{'under_40' if i % 2 else '40_plus'}\n" for i, n in enumerate(names)))
    dataset = load_dataset(SAMPLE_IDENTITIES, labels_csv=labels)
    assert dataset.group_columns == ["age_band"]
    assert dataset.group_labels("age_band") == ["40_plus", "under_40"]
    labels.write_text("identity,age_band\n" + f"{names[0]},x\n")
    with pytest.raises(DatasetError, match=r"identities of .* have no labels"):
        load_dataset(SAMPLE_IDENTITIES, labels_csv=labels)


def test_missing_dataset_and_misused_options(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such file or folder"):
        load_dataset(tmp_path / "nothing")
    with pytest.raises(DatasetError, match="a folder dataset has no group labels"):
        load_dataset(SAMPLE_IDENTITIES, group_columns=["sex"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no photos found"):
        load_dataset(tmp_path / "empty")
    binary = tmp_path / "bad.csv"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DatasetError, match="not a UTF-8 CSV"):
        load_dataset(binary)
