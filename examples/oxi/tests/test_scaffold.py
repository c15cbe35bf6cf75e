import re

import oxi_core


def test_version_has_release_shape() -> None:
    assert re.match(r"\d+\.\d+\.\d+", oxi_core.__version__)
