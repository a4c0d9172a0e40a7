#!/usr/bin/env bash
# Repeatable cost of a run: instructions and simulated cache misses of the simulation alone
# (callgrind, inside net::sim::run), unlike wall time on a shared machine. Slow (~50x): use a
# short scenario, e.g. the first 200 blocks of bitcoin-2019:
#   sed 's/^blocks = 2000/blocks = 200/' scenarios/bitcoin-2019.toml > /tmp/b200.toml
#   scripts/instructions.sh /tmp/b200.toml
# Cache model: 48 KB L1d and a 2 MB last level, like one core of the CI machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: scripts/instructions.sh SCENARIO.toml}
cargo build --release -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --cache-sim=yes --D1=49152,12,64 --LL=2097152,16,64 \
  --toggle-collect='net::sim::run*' --callgrind-out-file="$out/cg" \
  ./target/release/chainsim run "$scenario" --quiet --out "$out/run" --jobs 1 >/dev/null 2>&1
callgrind_annotate "$out/cg" 2>/dev/null | grep -E "^Events shown|PROGRAM TOTALS"
echo "(Ir: instructions; D1mr/D1mw: L1 data misses; DLmr/DLmw: last-level misses)"
