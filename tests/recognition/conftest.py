"""Fixtures for engine tests: the bundled sample faces, one analyzer, built watchlists."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from openlfr.recognition import FaceAnalyzer, Watchlist, build_watchlist
from openlfr.samples import CLIP, GROUPS, IDENTITIES
from openlfr.samples import SAMPLE_FACES as SAMPLE

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces"

# People who appear in the group photos and the clip: leaving them out of a watchlist
# gives one that nobody in those probes should match.
PEOPLE_IN_PROBES = {
    "obama",
    "biden",
    "kit_harington",
    "rose_leslie",
    "lin_manuel_miranda",
    "alex_lacamoire",
}


@pytest.fixture(scope="session")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="session")
def sample_watchlist(analyzer: FaceAnalyzer) -> Watchlist:
    """Every bundled identity enrolled."""
    watchlist, _ = build_watchlist(IDENTITIES, analyzer, workers=2)
    return watchlist


@pytest.fixture(scope="session")
def strangers_watchlist(
    analyzer: FaceAnalyzer, tmp_path_factory: pytest.TempPathFactory
) -> Watchlist:
    """Only identities that appear in no group photo and not in the clip."""
    folder = tmp_path_factory.mktemp("strangers")
    for subject in IDENTITIES.iterdir():
        if subject.name not in PEOPLE_IN_PROBES:
            shutil.copytree(subject, folder / subject.name)
    watchlist, _ = build_watchlist(folder, analyzer, workers=2)
    return watchlist
