# PHP: the composer package dist/dtmx-php-<version>-<platform>.zip (what composer's
# `artifact` repository takes): c/php's src/, autoload.php, README.md and composer.json
# (with its version), dtmx_ffi.h at the root and libdtmx (stripped) in lib/<platform>/
# (lib/linux-x64/libdtmx.so), where Dtmx\Native finds them without DTMX_LIB. Reuses the
# libdtmx the C artifact (or scripts/test) built with this profile.
# Sourced by scripts/package (see the variables it sets there).
cargo build -j"$jobs" --profile "$profile" -p dtmx-c
stage=$(mktemp -d)
cp -r c/php/src c/php/autoload.php c/php/README.md "$stage/"
install -m 0644 c/include/dtmx_ffi.h "$stage/"
install -d "$stage/lib/$platform"
install -m 0755 "$CARGO_TARGET_DIR/$target_profile/libdtmx.so" "$stage/lib/$platform/"
strip --strip-unneeded "$stage/lib/$platform/libdtmx.so"
# composer.json with the version an archive must state (no VCS to take it from), without
# the checkout's test script.
python3 - "$version" <<'PY' >"$stage/composer.json"
import json, sys
with open("c/php/composer.json") as f:
    c = json.load(f)
c.pop("scripts", None)
items = list(c.items())
c = dict(items[:2] + [("version", sys.argv[1])] + items[2:])
print(json.dumps(c, indent=4, ensure_ascii=False))
PY
# A zip with sorted entries, fixed times (SOURCE_DATE_EPOCH) and modes: the same commit
# gives the same archive.
python3 - "$stage" "$out/dtmx-php-$version-$platform.zip" <<'PY'
import os, sys, time, zipfile
stage, dest = sys.argv[1], sys.argv[2]
when = time.gmtime(max(int(os.environ["SOURCE_DATE_EPOCH"]), 315532800))[:6]
paths = sorted(
    os.path.relpath(os.path.join(d, f), stage) for d, _, fs in os.walk(stage) for f in fs
)
with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for p in paths:
        info = zipfile.ZipInfo(p, when)
        info.compress_type = zipfile.ZIP_DEFLATED
        mode = 0o755 if os.access(os.path.join(stage, p), os.X_OK) else 0o644
        info.external_attr = (0o100000 | mode) << 16
        with open(os.path.join(stage, p), "rb") as f:
            z.writestr(info, f.read())
PY
rm -rf "$stage"
