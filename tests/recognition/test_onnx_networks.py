"""dlib's descriptor network rebuilt for ONNX Runtime: same answers, cached, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openlfr.recognition import FaceAnalyzer, ModelError
from openlfr.recognition.backends import (
    DlibLandmarkAligner,
    DlibResNetDescriber,
    OnnxResNetDescriber,
    descriptor_for_model,
    load_backends,
)
from openlfr.recognition.dlib_format import DlibFormatError, read_metric_network
from openlfr.recognition.enrolment import find_enrolment_photos
from openlfr.recognition.faces import RGBImage
from openlfr.recognition.images import read_image
from openlfr.recognition.models import model_files
from openlfr.recognition.onnx_networks import build_descriptor_graph, cached_descriptor_model

from .conftest import GROUPS, IDENTITIES, SHARED

pytestmark = pytest.mark.slow

MAX_L2_DIFFERENCE = 1e-4


@pytest.fixture(scope="module")
def every_chip() -> list[RGBImage]:
    """dlib's face chip (150x150) of every face in the shared face set (or the bundled copy
    on a fresh clone). The engine's default detector finds them: more faces than dlib's
    HOG (114 against 77 in the shared set) in a fifth of the time."""
    analyzer = FaceAnalyzer(descriptor="dlib")
    root = SHARED if SHARED.is_dir() else IDENTITIES.parent
    photos = [p for _, p in find_enrolment_photos(root / "identities")]
    photos += sorted((root / "groups").iterdir())
    chips: list[RGBImage] = []
    for photo in photos:
        search = analyzer.find_faces(read_image(photo), min_face_px=40, max_px=1600)
        chips += [face.chip for face in search.faces]
    assert len(chips) >= 30
    return chips


def _onnx_descriptors(model: object, chips: list[RGBImage]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(
        model.SerializeToString(),  # type: ignore[attr-defined]
        providers=["CPUExecutionProvider"],
    )
    return session.run(None, {"chips": np.stack(chips)})[0]


def test_onnx_descriptors_equal_dlibs_on_every_face_chip(every_chip: list[RGBImage]) -> None:
    reference = DlibResNetDescriber().describe(every_chip)
    ours = OnnxResNetDescriber(threads=2).describe(every_chip)  # one batched call
    differences = np.linalg.norm(ours - reference, axis=1)
    print(f"{len(every_chip)} chips; max L2 difference from dlib {differences.max():.2e}")
    assert differences.max() <= MAX_L2_DIFFERENCE


def test_the_equivalence_check_catches_a_wrong_layer(every_chip: list[RGBImage]) -> None:
    """Perturb one convolution deep in the network by 1%: the check above must fail."""
    input_layer, layers = read_metric_network(model_files().descriptor_resnet)
    convolutions = [layer for layer in layers if layer.kind == "con"]
    convolutions[20].params["weight"] = convolutions[20].params["weight"] * 1.01
    model, _ = build_descriptor_graph(input_layer, layers)
    chips = every_chip[:8]
    wrong = _onnx_descriptors(model, chips)
    reference = DlibResNetDescriber().describe(chips)
    assert np.linalg.norm(wrong - reference, axis=1).max() > MAX_L2_DIFFERENCE


def test_a_batch_gives_the_same_descriptors_as_one_at_a_time(every_chip: list[RGBImage]) -> None:
    describer = OnnxResNetDescriber()
    chips = every_chip[:32]
    one_by_one = np.concatenate([describer.describe([chip]) for chip in chips])
    np.testing.assert_allclose(describer.describe(chips), one_by_one, atol=1e-5)


def test_the_built_graph_is_cached_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENLFR_CACHE_DIR", str(tmp_path))
    first = cached_descriptor_model(model_files().descriptor_resnet)
    assert first.parent == tmp_path and first.stat().st_size > 20_000_000
    stamp = first.stat().st_mtime_ns

    def no_rebuild(*_args: object) -> None:
        raise AssertionError("the graph was built again")

    monkeypatch.setattr("openlfr.recognition.onnx_networks.build_descriptor_graph", no_rebuild)
    assert cached_descriptor_model(model_files().descriptor_resnet) == first
    assert first.stat().st_mtime_ns == stamp
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary file left


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) // 2], "unexpected end of file|malformed"),
        (lambda data: b"\x07garbage" + data[8:], "not a dlib loss_metric network"),
        (lambda data: b"", "not a dlib loss_metric network"),
    ],
)
def test_a_damaged_weights_file_is_a_clear_error(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    broken.write_bytes(damage(model_files().descriptor_resnet.read_bytes()))
    with pytest.raises(DlibFormatError, match=message) as caught:
        read_metric_network(broken)
    assert str(broken) in str(caught.value)
    assert isinstance(caught.value, ModelError)


def test_backend_choice() -> None:
    assert load_backends("dlib", detector="hog", descriptor="dlib").name == "dlib"
    assert load_backends("onnx").name == "onnx"
    default = load_backends()
    assert (default.name, default.detector_name, default.descriptor_name) == (
        "onnx", "ultralight", "w600k")
    assert default.describer.model_id.startswith("mobilefacenet_w600k_512:")
    previous = load_backends(descriptor="mobilefacenet")  # still selectable
    assert previous.describer.model_id.startswith("mobilefacenet_arcface_512:")
    for descriptor in ("w600k", "mobilefacenet"):
        assert descriptor_for_model(load_backends(descriptor=descriptor).describer.model_id
                                    ) == descriptor
    with pytest.raises(ModelError, match="runs only dlib's networks"):
        load_backends("dlib")  # the default networks need ONNX Runtime
    with pytest.raises(ModelError, match="runs only dlib's networks"):
        load_backends("dlib", detector="hog", descriptor="mobilefacenet")
    with pytest.raises(ModelError, match="unknown backend 'tpu'"):
        load_backends("tpu")


def test_aligner_and_describer_agree_with_dlib_on_a_group_photo() -> None:
    image = read_image(GROUPS / "two_people.jpg")
    backends = load_backends("onnx", detector="hog", descriptor="dlib")
    aligned = DlibLandmarkAligner().align(image, backends.detector.detect(image))
    chips = [chip for chip, _ in aligned]
    assert len(chips) == 2
    difference = backends.describer.describe(chips) - DlibResNetDescriber().describe(chips)
    assert np.linalg.norm(difference, axis=1).max() <= MAX_L2_DIFFERENCE
