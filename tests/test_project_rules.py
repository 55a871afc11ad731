"""Rules of the project that a test can hold."""

import re

from tests.conftest import REPO


def test_layers_and_models_do_not_import_tensorflow():
    offenders = []
    for folder in ("restoolkit/layers", "restoolkit/models"):
        for path in (REPO / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if re.match(r"\s*(import tensorflow|from tensorflow)", line):
                    offenders.append(f"{path.relative_to(REPO)}:{number}")
    assert offenders == [], f"keras.ops only under layers/models; tensorflow imported at {offenders}"


def test_makefile_sets_log_level_and_ci_runs_make_test():
    assert "TF_CPP_MIN_LOG_LEVEL" in (REPO / "Makefile").read_text()
    assert "make test" in (REPO / ".ci" / "run").read_text()
