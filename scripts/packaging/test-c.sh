# C: the tarball unpacked anywhere; a C program built through its pkg-config file (the one
# step where a compiler belongs), linked shared and static, submitting a saga to the
# packaged server.
# Sourced by scripts/test-packages (see the variables it sets there).
tar -xzf "$dist/dtmx-c-$version-$platform.tar.gz" -C "$work"
prefix="$work/dtmx-c-$version-$platform"
cat >"$work/saga.c" <<'EOF'
#include <dtmx.h>
#include <stdio.h>
#include <string.h>

/* Submits an empty saga to the server in argv[1] and waits for it to succeed. */
int main(int argc, char **argv) {
  DtmxError err = {0};
  if (argc != 2) return 2;
  DtmxClient *client = dtmx_client_new(argv[1], &err);
  char *gid = client ? dtmx_client_new_gid(client, &err) : NULL;
  DtmxSaga *saga = gid ? dtmx_saga_new(client, gid, NULL, &err) : NULL;
  char *status = NULL;
  if (saga && dtmx_saga_submit(saga, &err) == DTMX_OK)
    status = dtmx_client_wait_final(client, gid, 10000, &err);
  int ok = status != NULL && strcmp(status, "succeed") == 0;
  printf("libdtmx %s: saga %s %s%s\n", dtmx_version(), gid ? gid : "-", status ? status : "-",
         err.message ? err.message : "");
  dtmx_string_free(status);
  dtmx_saga_free(saga);
  dtmx_string_free(gid);
  dtmx_client_free(client);
  dtmx_error_free(&err);
  return ok ? 0 : 1;
}
EOF
pc="$prefix/lib/pkgconfig"
read -r -a flags <<<"$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs dtmx)"
static_libs=()
for f in $(PKG_CONFIG_PATH=$pc pkg-config --static --libs-only-l dtmx); do
  [ "$f" = -ldtmx ] || static_libs+=("$f")
done
cc -o "$work/saga-shared" "$work/saga.c" "${flags[@]}"
cc -o "$work/saga-static" "$work/saga.c" -I"$prefix/include" "$prefix/lib/libdtmx.a" \
  "${static_libs[@]}"
LD_LIBRARY_PATH="$prefix/lib" "$work/saga-shared" "$dtm_url"
"$work/saga-static" "$dtm_url"
if readelf -S "$prefix/lib/libdtmx.so" | grep -q '\.debug_info'; then
  echo "test-packages: libdtmx.so in the tarball is not stripped" >&2
  exit 1
fi
echo "c tarball (shared and static, pkg-config): 1 passed, 0 failed"

