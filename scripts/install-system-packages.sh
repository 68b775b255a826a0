#!/usr/bin/env bash
# Debian packages the tests run besides the components of build-test-components.sh: tcpdump (the sniffer's
# capture benchmark measures it side by side), iproute2 (`ip`: the network namespaces of the sniffer's
# and the mapper CLI's tests), and the test node's runtime (holt-testenv's Cluster): containerd and runc
# (Debian's: no build time, and the kubelet accepts containerd 1.6), the CNI plugins (bridge, host-local),
# and busybox-static (the busybox image of test pods); iptables and ipset, which kube-router (the NetworkPolicy
# engine of holt-testenv's Dataplane) drives inside its node's network namespace; chromium, the headless
# browser the mapper's access-graph page is tested in (crates/holt-mapper/tests/graph_page.rs). Installs only
# what is missing, with apt-get, as root or through sudo.
set -euo pipefail

declare -A package_of=([tcpdump]=tcpdump [ip]=iproute2 [containerd]=containerd [runc]=runc [busybox]=busybox-static
  [iptables]=iptables [ipset]=ipset [chromium]=chromium)
missing=()
for command in "${!package_of[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${package_of[$command]}")
done
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local ]] || missing+=(containernetworking-plugins)
# A font for the labels of `holt mapper visualize` pictures (PNG, JPEG).
[[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]] || missing+=(fonts-dejavu-core)
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages: all present (tcpdump, iproute2, containerd, runc, busybox-static, containernetworking-plugins, iptables, ipset, fonts-dejavu-core, chromium)"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "error: ${missing[*]} missing, and installing needs root or sudo: apt-get install ${missing[*]}" >&2
    exit 1
  }
  as_root=(sudo)
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "error: ${missing[*]} missing and there is no apt-get here: install them with the system's package manager" >&2
  exit 1
}
echo "system packages: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
