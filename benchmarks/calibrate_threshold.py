"""How the default threshold was chosen: a 1:N search on the shared face set.

For every photo (largest face) of every identity:

* non-mated search: the photo against a watchlist of every *other* identity (all their
  photos). A score at or above the threshold is a false positive identification.
* mated search: the photo against every identity, its own identity enrolled with its
  *other* photos. A hit needs the right identity ranked first at or above the threshold.

Prints FPIR (false positive identification rate) and TPIR per threshold on the
single-photo score, the lowest threshold with no false positive, and the default in use.
Live video decides on the mean of a track's best two scores, which is stricter still.
Run: python3 benchmarks/calibrate_threshold.py [FACES_DIR]  (default ../shared/data/faces,
else the bundled sample).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import openlfr
from openlfr.recognition import DEFAULT_THRESHOLD, FaceAnalyzer
from openlfr.recognition.enrolment import find_enrolment_photos
from openlfr.recognition.images import ImageError, read_image
from openlfr.recognition.matcher import scores_from_distances


def describe_largest_faces(
    identities: Path, analyzer: FaceAnalyzer
) -> tuple[np.ndarray, list[str]]:
    vectors, owners = [], []
    for identity, photo in find_enrolment_photos(identities):
        try:
            search = analyzer.find_faces(read_image(photo), min_face_px=40, max_px=1600)
        except ImageError:
            continue
        if search.faces:
            face = max(search.faces, key=lambda f: f.box.area)
            vectors.append(analyzer.describe([face.chip])[0])
            owners.append(identity)
    return np.stack(vectors), owners


def main() -> None:
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
    bundled = Path(openlfr.__file__).parent / "sample_data" / "faces"
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else (shared if shared.is_dir() else bundled)
    vectors, owners = describe_largest_faces(root / "identities", FaceAnalyzer())
    owner = np.asarray(owners)
    distances = np.linalg.norm(vectors[:, None] - vectors[None], axis=-1)
    scores = scores_from_distances(distances)
    np.fill_diagonal(scores, -1.0)  # a photo never matches itself
    same = owner[:, None] == owner[None, :]
    best_non_mated = np.where(same, -1.0, scores).max(axis=1)  # best other-identity score
    best_mated = np.where(same, scores, -1.0).max(axis=1)  # best own-identity score
    has_mate = best_mated >= 0
    ranked_first = best_mated > best_non_mated
    print(
        f"{root}: {len(owners)} photos, {len(set(owners))} identities, "
        f"{int(has_mate.sum())} mated searches, {len(owners)} non-mated searches"
    )
    print(" threshold   FPIR (false / searches)   TPIR (hits / mated)")
    for threshold in np.arange(0.30, 0.62, 0.02):
        false = int((best_non_mated >= threshold).sum())
        hits = int((has_mate & ranked_first & (best_mated >= threshold)).sum())
        print(
            f"   {threshold:.2f}     {false / len(owners):6.3f} ({false:3d}/{len(owners)})"
            f"          {hits / has_mate.sum():6.3f} ({hits}/{int(has_mate.sum())})"
        )
    lowest_safe = float(best_non_mated.max())
    print(
        f"highest non-mated score: {lowest_safe:.3f} "
        "(the lowest threshold with FPIR 0 is just above it)"
    )
    print(f"default threshold: {DEFAULT_THRESHOLD} (margin {DEFAULT_THRESHOLD - lowest_safe:+.3f})")


if __name__ == "__main__":
    main()
