import pytest

from domains.medical.synthetic import make_study_folder


@pytest.fixture(scope="session")
def study(tmp_path_factory):
    """A small synthetic study folder (shared by the medical tests) and its labels table."""
    root = tmp_path_factory.mktemp("study")
    labels = make_study_folder(root, n_patients=24, size=48, seed=3, compressed_fraction=0.3)
    return root, labels
