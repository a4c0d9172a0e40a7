#!/usr/bin/env bash
# Speed measurements (never assertions): the kernel benchmark and the reference networks.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p net --bench kernel
cargo build --release -q
out=$(mktemp -d)
for s in bitcoin-2019 scale-10k; do
  echo "== $s (1 job)"
  /usr/bin/time -f "wall %e s, peak RSS %M kB" ./target/release/chainsim run "scenarios/$s.toml" --out "$out/$s" --jobs 1
done
rm -rf "$out"
