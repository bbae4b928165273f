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
repo="$(cd "$here/../.." && pwd)"
go_rc=0
py_rc=0

# Databases for the XA tests (installed and started on loopback if needed).
# Set INTEROP_NO_DB=1 to skip them instead.
if [ "${INTEROP_NO_DB:-}" != "1" ]; then
    echo "=== interop: databases (scripts/services) ==="
    "$repo/scripts/services" || {
        echo "run.sh: scripts/services failed (set INTEROP_NO_DB=1 to run without databases)" >&2
        exit 1
    }
fi
export INTEROP_MYSQL_HOST="${INTEROP_MYSQL_HOST:-127.0.0.1}"
export INTEROP_MYSQL_PORT="${INTEROP_MYSQL_PORT:-3306}"
export INTEROP_MYSQL_USER="${INTEROP_MYSQL_USER:-root}"
export INTEROP_MYSQL_PASSWORD="${INTEROP_MYSQL_PASSWORD-}"
export INTEROP_PG_HOST="${INTEROP_PG_HOST:-127.0.0.1}"
export INTEROP_PG_PORT="${INTEROP_PG_PORT:-5432}"
export INTEROP_PG_USER="${INTEROP_PG_USER:-postgres}"
export INTEROP_PG_PASSWORD="${INTEROP_PG_PASSWORD-mysecretpassword}"
export INTEROP_DB="${INTEROP_DB:-dtmx_interop}"

echo "=== interop: Go SDK (github.com/dtm-labs/client: dtmcli, dtmgrpc, workflow) ==="
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
