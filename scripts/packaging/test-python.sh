# Python: the dtmx wheel in a fresh venv (and the example's FastAPI and uvicorn from
# PyPI), examples/python/quick_start.py against the packaged server.
# Sourced by scripts/test-packages (see the variables it sets there).
wheel=$(ls "$dist"/dtmx-"$version"-*.whl)
case $(basename "$wheel") in
  *-abi3-manylinux*) ;;
  *) echo "test-packages: $(basename "$wheel") is not an abi3 manylinux wheel" >&2; exit 1 ;;
esac
venv="$work/venv"
PATH=$bare_path python3 -m venv "$venv"
PATH=$bare_path "$venv/bin/pip" install -q --no-index --find-links "$dist" dtmx
PATH=$bare_path "$venv/bin/pip" install -q 'fastapi>=0.100' 'uvicorn>=0.20'
installed=$(cd "$work" && PATH=$bare_path "$venv/bin/python" -c 'import dtmx; print(dtmx.__file__)')
case $installed in
  "$venv"/*) ;;
  *) echo "test-packages: import dtmx found $installed, not the venv's" >&2; exit 1 ;;
esac
cp -r examples/python "$work/example-python"
(cd "$work/example-python" && DTMX_SERVER="$dtm_url" BUSI_PORT=$(free_port) \
  PATH=$bare_path "$venv/bin/python" quick_start.py)
echo "python wheel (dtmx) installed without a toolchain: 1 passed, 0 failed"
