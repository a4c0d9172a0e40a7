#!/usr/bin/env bash
# A profile-guided build of chainsim for speed measurements: target/pgo/release/chainsim.
#
# Builds an instrumented binary, runs it on short versions of the reference networks and the
# quickstart (the training), merges the profile and rebuilds with it. Same code, same results
# (trace hashes included): only the compiler's layout and inlining choices change. Needs the
# toolchain's llvm-profdata: `rustup component add llvm-tools`.
set -euo pipefail
cd "$(dirname "$0")/.."
profdata=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-profdata 2>/dev/null | head -1 || true)
if [ -z "$profdata" ]; then
  echo "pgo.sh: no llvm-profdata in the toolchain; install it with: rustup component add llvm-tools" >&2
  exit 1
fi
data=$PWD/target/pgo-data
rm -rf "$data"
mkdir -p "$data"
RUSTFLAGS="-Cprofile-generate=$data" cargo build --release -q -p chainsim --target-dir target/pgo-gen
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/^blocks = 2000/blocks = 200/' scenarios/bitcoin-2019.toml >"$work/bitcoin.toml"
sed 's/^blocks = 100/blocks = 20/' scenarios/scale-10k.toml >"$work/scale.toml"
sed 's/^replicates = 3/replicates = 1/' scenarios/quickstart.toml >"$work/quickstart.toml"
for s in bitcoin scale quickstart; do
  target/pgo-gen/release/chainsim run "$work/$s.toml" --out "$work/$s" --jobs 1 --quiet
done
"$profdata" merge -o "$data/merged.profdata" "$data"/*.profraw
RUSTFLAGS="-Cprofile-use=$data/merged.profdata" cargo build --release -q -p chainsim --target-dir target/pgo
echo "pgo.sh: built target/pgo/release/chainsim"
