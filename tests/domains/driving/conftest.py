import pytest

from tests.conftest import SHARED

KITTI = SHARED / "kitti"


@pytest.fixture
def kitti_root():
    if not (KITTI / "label_2").is_dir():
        pytest.skip("../shared/data/kitti is not here")
    return KITTI
