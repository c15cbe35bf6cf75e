"""Verify proves the distribution's own modules, namespace packages included (real builds)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from releasekit.errors import SmokeFailed
from releasekit.smoke import prove_installed
from releasekit.venvs import InstallOptions, create_venv, install_into
from releasekit.verify import verify_published

if TYPE_CHECKING:
    from tests.pypiserver_fixtures import PypiServer

pytest_plugins = ["tests.pypiserver_fixtures"]

FROM_METADATA = "from importlib.metadata import version\n\n__version__ = version({name!r})\n"


def _build(root: Path, name: str, modules: dict[str, str], out: Path) -> list[Path]:
    """A hatchling project ``name`` with the given files under src/, built for real."""
    project = root / name
    for relative, text in modules.items():
        path = project / "src" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    tops = sorted({relative.split("/")[0] for relative in modules})
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""\
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{name}"
            version = "1.2.0"

            [tool.hatch.build.targets.wheel]
            packages = {[f"src/{top}" for top in tops]!r}
            """
        ).replace("'", '"')
    )
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(project)],
        check=True,
        capture_output=True,
    )
    return sorted(out.glob(f"{name.replace('-', '_')}-*.whl"))


def test_a_namespace_distribution_is_proved_by_its_own_module(
    tmp_path: Path, pypiserver: PypiServer
) -> None:
    """rk-ns-sdk ships rk_ns/sdk/ (rk_ns/ is a namespace shared with rk-ns-api)."""
    out = tmp_path / "dist"
    (sdk,) = _build(
        tmp_path,
        "rk-ns-sdk",
        {"rk_ns/sdk/__init__.py": FROM_METADATA.format(name="rk-ns-sdk"), "rk_ns/sdk/x.py": ""},
        out,
    )
    pypiserver.put(sdk)
    report = verify_published(pypiserver.index, "rk-ns-sdk", "1.2.0", kinds=["wheel"], timeout=300)
    assert "  rk_ns.sdk.__version__ == 1.2.0" in report.lines
    assert not any("import rk_ns " in line for line in report.lines), report.lines


def test_a_module_without_version_is_named_with_the_version_seen(
    tmp_path: Path, pypiserver: PypiServer
) -> None:
    out = tmp_path / "dist"
    (api,) = _build(tmp_path, "rk-ns-api", {"rk_ns/api/__init__.py": "X = 1\n"}, out)
    pypiserver.put(api)
    report = verify_published(pypiserver.index, "rk-ns-api", "1.2.0", kinds=["wheel"], timeout=300)
    assert "  import rk_ns.api (no __version__; its metadata says 1.2.0)" in report.lines


def test_a_wrong_version_in_a_namespace_module_is_caught(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    (wheel,) = _build(
        tmp_path,
        "rk-ns-sdk",
        {"rk_ns/sdk/__init__.py": '__version__ = "0.0.1"\n', "rk_ns/sdk/util.py": ""},
        out,
    )
    work = tmp_path / "work"
    work.mkdir()
    venv = create_venv(tmp_path / "venv")
    install_into(venv, [str(wheel)], cwd=work, options=InstallOptions(no_index=True))
    with pytest.raises(SmokeFailed, match=r"rk_ns\.sdk\.__version__ is '0\.0\.1', not '1\.2\.0'"):
        prove_installed(venv, "rk-ns-sdk", "1.2.0", cwd=work)


META = FROM_METADATA.format(name="rk-shape")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"rk_one/__init__.py": META, "rk_one/sub/__init__.py": ""}, ["rk_one"]),
        ({"rk_ns/deep/pkg/__init__.py": META, "rk_ns/deep/pkg/m.py": ""}, ["rk_ns.deep.pkg"]),
        ({"rk_a/__init__.py": META, "rk_b/__init__.py": META}, ["rk_a", "rk_b"]),
    ],
)
def test_the_modules_proved_come_from_the_record(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    (wheel,) = _build(tmp_path, "rk-shape", files, tmp_path / "dist")
    work = tmp_path / "work"
    work.mkdir()
    venv = create_venv(tmp_path / "venv")
    install_into(venv, [str(wheel)], cwd=work, options=InstallOptions(no_index=True))
    proof = prove_installed(venv, "rk-shape", "1.2.0", cwd=work)
    proved = [f"{module}.__version__ == 1.2.0" for module in expected]
    assert proof.lines == ("installed rk-shape 1.2.0", *proved)
