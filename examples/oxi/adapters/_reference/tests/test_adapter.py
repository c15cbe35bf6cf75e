import re

import oxi_adapter_reference


def test_version_has_release_shape() -> None:
    assert re.match(r"\d+\.\d+\.\d+", oxi_adapter_reference.__version__)
