# Ruby: the platform gem dist/dtmx-<version>-<gem platform>.gem (x86_64-linux,
# aarch64-linux), the dtmx gem with libdtmx (stripped) in lib/dtmx/native/<gem platform>/,
# where Dtmx::Native loads it without DTMX_LIB; and the plain gem dist/dtmx-<version>.gem
# (no library: DTMX_LIB or the loader's path) that `gem install dtmx` falls back to on
# other platforms. Reuses the libdtmx the C artifact (or scripts/test) built with this
# profile.
# Sourced by scripts/package (see the variables it sets there).
cargo build -j"$jobs" --profile "$profile" -p dtmx-c
case $platform in
  linux-x64) gem_platform=x86_64-linux ;;
  linux-arm64) gem_platform=aarch64-linux ;;
  *) gem_platform="$(uname -m)-linux" ;;
esac
stage=$(mktemp -d)
cp -r c/ruby/lib c/ruby/dtmx.gemspec "$stage/"
rm -rf "$stage/lib/dtmx/native"
# gem build takes file times from SOURCE_DATE_EPOCH: the same commit gives the same gems.
(cd "$stage" && gem build --silent dtmx.gemspec -o "$out/dtmx-$version.gem")
install -d "$stage/lib/dtmx/native/$gem_platform"
install -m 0755 "$CARGO_TARGET_DIR/$target_profile/libdtmx.so" "$stage/lib/dtmx/native/$gem_platform/"
strip --strip-unneeded "$stage/lib/dtmx/native/$gem_platform/libdtmx.so"
(cd "$stage" && DTMX_GEM_PLATFORM=$gem_platform gem build --silent dtmx.gemspec \
  -o "$out/dtmx-$version-$gem_platform.gem")
rm -rf "$stage"
