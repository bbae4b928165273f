# C: libdtmx (shared and static, stripped), dtmx.h, dtmx_ffi.h and a relocatable
# pkg-config file in dist/dtmx-c-<version>-<platform>.tar.gz.
# Sourced by scripts/package (see the variables it sets there).
cargo build -j"$jobs" --profile "$profile" -p dtmx-c
name="dtmx-c-$version-$platform"
stage=$(mktemp -d)
dir="$stage/$name"
install -d "$dir/lib/pkgconfig" "$dir/include"
install -m 0755 "$CARGO_TARGET_DIR/$target_profile/libdtmx.so" "$dir/lib/"
install -m 0644 "$CARGO_TARGET_DIR/$target_profile/libdtmx.a" "$dir/lib/"
strip --strip-unneeded "$dir/lib/libdtmx.so"
strip --strip-debug "$dir/lib/libdtmx.a"
install -m 0644 c/include/dtmx.h c/include/dtmx_ffi.h "$dir/include/"
# Relocatable: the prefix is wherever the tarball was unpacked.
sed -e 's|@PREFIX@|${pcfiledir}/../..|' -e "s|@VERSION@|$version|" c/dtmx.pc.in \
  >"$dir/lib/pkgconfig/dtmx.pc"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  -C "$stage" -czf "$out/$name.tar.gz" "$name"
rm -rf "$stage"
