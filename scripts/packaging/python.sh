# Python: the dtmx abi3 wheel and its sdist (maturin).
# Sourced by scripts/package (see the variables it sets there).
rm -f "$out"/dtmx-"$version"-*.whl "$out/dtmx-$version.tar.gz"
(cd python && maturin build -j "$jobs" --profile "$profile" "${strip[@]}" --out "$out" &&
  maturin sdist --out "$out")
