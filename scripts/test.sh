#!/usr/bin/env bash
# The whole test suite, on a fresh machine or a warm one: builds (or finds cached) the real components the
# tests run against, then checks formatting, lints, and runs every test of the workspace. CI runs exactly
# this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "system packages (tcpdump, iproute2)"
scripts/install-system-packages.sh

step "real test components (etcd, kube-apiserver, Kafka, SPIRE, Helm, Istio CRDs)"
scripts/build-test-components.sh

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (benchmarks run once each, as tests)"
cargo test --workspace --all-targets --locked
