# The server as a wheel: `pip install dtmx-server` puts the dtmx binary on PATH.
# Sourced by scripts/package (see the variables it sets there).
rm -f "$out"/dtmx_server-"$version"-*.whl
maturin build -j "$jobs" --profile "$profile" "${strip[@]}" --bindings bin \
  --manifest-path server/Cargo.toml --out "$out"
