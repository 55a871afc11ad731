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


def test_the_core_never_imports_the_domains():
    """The domains plug into the core (entry points); no module under restoolkit/ imports them."""
    import ast

    offenders = []
    for path in (REPO / "restoolkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                    "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
                names = [str(node.args[0].value)]
            offenders += [f"{path.relative_to(REPO)}:{node.lineno}" for n in names if n.split(".")[0] == "domains"]
    assert offenders == [], f"the core imports the domains at {offenders}"


def test_every_error_the_toolkit_raises_on_purpose_is_a_restoolkit_error():
    from domains.fraud import SchemaError, ScoringError
    from domains.medical.dicom import DicomError, SeriesError
    from restoolkit.errors import (
        LabelError,
        NonFiniteLossError,
        PresetError,
        RestoolkitError,
        WeightsNotFoundError,
    )

    for cls in (SchemaError, ScoringError, DicomError, SeriesError, LabelError, NonFiniteLossError, PresetError,
                WeightsNotFoundError):
        assert issubclass(cls, RestoolkitError), cls
    import domains.driving.data
    import domains.medical.data

    assert domains.driving.data.LabelError is domains.medical.data.LabelError is LabelError
