#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: builds (or finds cached) the real components the
# tests run against, then checks formatting, lints, and runs every test of the workspace. CI runs exactly
# this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# A cold build of the workspace and its tests takes about 5 GiB under target/. Incremental compilation data
# would add several GiB more and helps only repeated edits, so it is off here.
export CARGO_INCREMENTAL=0
need_gib=8
target_dir=${CARGO_TARGET_DIR:-target}
mkdir -p "$target_dir"
free_gib=$(( $(df --output=avail -k "$target_dir" | tail -1) / 1024 / 1024 ))
if (( free_gib < need_gib )); then
  printf 'warning: only %s GiB free for %s; a cold build needs about %s GiB\n' \
    "$free_gib" "$target_dir" "$need_gib" >&2
fi

step "system packages (tcpdump, iproute2, containerd, runc, CNI plugins, busybox-static, iptables, ipset)"
scripts/install-system-packages.sh

step "real test components (etcd, kube-apiserver, the node, Kafka, SPIRE, Helm, Istio CRDs, kube-router)"
scripts/build-test-components.sh

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (benchmarks run once each, as tests)"
# Tests that run Holt's binaries take them from this same build instead of building them again with other
# features (crates/holt-testenv/src/workspace_binaries.rs: the chart tests and the sniffer's end-to-end test).
export HOLT_TEST_BINARIES_BUILD=workspace
cargo test --workspace --all-targets --locked
