#!/usr/bin/env bash
# Speed measurements (never assertions): the kernel benchmark and the reference networks, with
# the standard release build and (if llvm-tools is installed) a profile-guided one, and each
# reference run's floor (scripts/floor.py: its events at the fastest potato benchmark's rate plus its
# messages at the latency-draw rate, the least the message-level model costs with our kernel).
# The summary table's "wall s" column is the simulation alone; /usr/bin/time adds setup and writing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo bench -p net --bench kernel | tee "$out/kernel.txt"
cargo build --release -q
for s in bitcoin-2019 scale-10k; do
  echo "== $s (1 job)"
  /usr/bin/time -f "wall %e s, peak RSS %M kB" ./target/release/chainsim run "scenarios/$s.toml" --out "$out/$s" --jobs 1
done
echo "== scale-10k at 100,000 nodes × 10 blocks (1 job)"
/usr/bin/time -f "wall %e s, peak RSS %M kB" ./target/release/chainsim run scenarios/scale-10k.toml \
  --set network.nodes=100000 --set stop.blocks=10 --out "$out/scale-100k" --jobs 1
echo "== floor: events at the potato rate + messages at the draw rate (best of divan's samples)"
python3 scripts/floor.py "$out/kernel.txt" bitcoin-2019="$out/bitcoin-2019" \
  scale-10k="$out/scale-10k" scale-100k="$out/scale-100k"
# The same network with full blocks and messages on the upload link (no compact relay, no
# SimBlock message costs), and that with every announcement as an event (the pre-absorption cost).
sed -e 's/^relay = "compact"/relay = "inv-getdata"/' -e '/^\[consensus.compact\]/,/^$/d' \
  -e '/^control_messages\|^control_delay\|^transfer_overhead/d' scenarios/bitcoin-2019.toml >"$out/full.toml"
sed 's/^relay = "inv-getdata"/relay = "inv-getdata"\ninv_delivery = "event"/' "$out/full.toml" >"$out/event.toml"
for v in full event; do
  echo "== bitcoin-2019, $v (1 job)"
  /usr/bin/time -f "wall %e s, peak RSS %M kB" ./target/release/chainsim run "$out/$v.toml" --out "$out/$v" --jobs 1
done
# The same two networks with a profile-guided build (scripts/pgo.sh; needs llvm-tools).
if bash scripts/pgo.sh; then
  for s in bitcoin-2019 scale-10k; do
    echo "== $s, PGO build (1 job)"
    /usr/bin/time -f "wall %e s, peak RSS %M kB" target/pgo/release/chainsim run "scenarios/$s.toml" --out "$out/pgo-$s" --jobs 1
  done
else
  echo "== PGO build skipped (see above)"
fi
