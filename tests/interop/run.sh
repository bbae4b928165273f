#!/usr/bin/env bash
# Interop tests: DTM's official Go SDK and Python SDK against a dtmx binary.
# Usage: DTMX_BIN=/path/to/dtmx tests/interop/run.sh
set -u

if [ -z "${DTMX_BIN:-}" ]; then
    echo "run.sh: DTMX_BIN must point at the dtmx server binary" >&2
    exit 2
fi
if [ ! -x "$DTMX_BIN" ]; then
    echo "run.sh: DTMX_BIN=$DTMX_BIN is not an executable file" >&2
    exit 2
fi
DTMX_BIN="$(cd "$(dirname "$DTMX_BIN")" && pwd)/$(basename "$DTMX_BIN")"
export DTMX_BIN

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
go_rc=0
py_rc=0

echo "=== interop: Go SDK (github.com/dtm-labs/client/dtmcli) ==="
(cd "$here/go" && go test ./... -count=1 -v) || go_rc=$?

echo "=== interop: Python SDK (dtmcli from PyPI) ==="
(
    cd "$here/python" &&
    python3 -m pip install -q -r requirements.txt &&
    python3 -m pytest -q -p no:cacheprovider
) || py_rc=$?

echo "=== interop: go rc=$go_rc, python rc=$py_rc ==="
if [ "$go_rc" -ne 0 ] || [ "$py_rc" -ne 0 ]; then
    exit 1
fi
exit 0
