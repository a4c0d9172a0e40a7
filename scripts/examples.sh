#!/usr/bin/env bash
# Regenerates the committed example figures in results/examples/ (shown in README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./target/release/chainsim run --quiet --out "$tmp/quickstart"
./target/release/chainsim run --quiet --out "$tmp/interval-sweep" scenarios/interval-sweep.toml
./target/release/chainsim run --quiet --out "$tmp/loss-sweep" scenarios/loss-sweep.toml
./target/release/chainsim validate --quiet --out "$tmp/validate" >/dev/null
mkdir -p results/examples/quickstart results/examples/interval-sweep results/examples/loss-sweep \
  results/examples/validate
cp "$tmp"/quickstart/figures/*.png results/examples/quickstart/
cp "$tmp"/interval-sweep/figures/fork-rate.png results/examples/interval-sweep/
cp "$tmp"/loss-sweep/figures/fork-rate.png results/examples/loss-sweep/
cp "$tmp"/validate/figures/*.png "$tmp"/validate/validation.md results/examples/validate/
ls -l results/examples/*
