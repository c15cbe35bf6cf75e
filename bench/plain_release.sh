#!/usr/bin/env bash
# The release the way a plain release.sh does it: the baseline bench_release.py times
# against `nox -s release -- --rehearse`.  Same work, one command after another:
# lint, test (when the package has tests/), build (sdist, then the wheel from it), check,
# upload, then install from the index in a fresh venv and run `SCRIPT --version` - once for
# the wheel, once for the sdist.
#
# usage: bench/plain_release.sh PACKAGE_DIR INDEX_URL WORK_DIR
#   PACKAGE_DIR  the package root (its pyproject.toml names the package, its version and
#                its console script: the first of [project.scripts])
#   INDEX_URL    a pypiserver's root, e.g. http://127.0.0.1:8080/ (uploads go there,
#                installs read INDEX_URL/simple/)
#   WORK_DIR     an empty scratch folder outside the checkout (dists, venvs)
#
# PYTHON (default: python) is the interpreter that has ruff, pytest, build and twine.
set -euo pipefail

package_dir=$(cd "$1" && pwd)
index_url=$2
work=$(mkdir -p "$3" && cd "$3" && pwd)
python=${PYTHON:-python}
read -r name version script < <("$python" -c '
import sys, tomllib
with open(sys.argv[1], "rb") as file:
    project = tomllib.load(file)["project"]
print(project["name"], project["version"], next(iter(project["scripts"])))
' "$package_dir/pyproject.toml")

cd "$package_dir"
echo "== lint"
"$python" -m ruff check .
"$python" -m ruff format --check .

if [ -d tests ]; then
    echo "== test"
    "$python" -m pytest -q -p no:cacheprovider tests
fi

echo "== build"
# no --sdist/--wheel: build makes the sdist, then the wheel from the unpacked sdist
"$python" -m build --outdir "$work/dist" .

echo "== check"
"$python" -m twine check --strict "$work"/dist/*

echo "== upload"
"$python" -m twine upload --non-interactive --disable-progress-bar \
    --repository-url "$index_url" -u x -p x "$work"/dist/*

cd "$work"  # installs and --version run outside the checkout
echo "== verify the wheel"
"$python" -m venv "$work/venv-wheel"
# --isolated: from that index only (this machine's pip config adds indexes and find-links)
"$work/venv-wheel/bin/pip" --isolated install -q --only-binary :all: \
    --index-url "${index_url}simple/" "$name==$version"
"$work/venv-wheel/bin/$script" --version

echo "== verify the sdist"
# the sdist the index serves; pip builds it, taking the build backend from its usual config
# (the index is added for the package's dependencies on siblings released before it)
sdist=$(basename "$work"/dist/*.tar.gz)
"$python" -m venv "$work/venv-sdist"
"$work/venv-sdist/bin/pip" install -q --extra-index-url "${index_url}simple/" \
    "${index_url}packages/$sdist"
"$work/venv-sdist/bin/$script" --version
