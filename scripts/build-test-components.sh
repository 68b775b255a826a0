#!/usr/bin/env bash
# Builds (or finds in the cache) every real component Holt's tests run against, and prints the cache
# directory. Each component is cached outside the repository, keyed by its exact version:
#
#   ${HOLT_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/holt-testenv}/<component>-<version>/
#
# The versions live in scripts/test-components.env, which crates/holt-testenv reads too. A component
# directory is complete only when its `.complete` stamp exists, and the stamp is written only after the
# built programs have answered with the expected version, so an interrupted or broken build is redone,
# never half-used. A component that cannot be built stops the script with a message naming it and why:
# nothing is skipped. Usage: build-test-components.sh [component...]  (default: all; see `all` below)
set -euo pipefail

# shellcheck source=test-components.env
source "$(dirname "${BASH_SOURCE[0]}")/test-components.env"

CACHE="${HOLT_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/holt-testenv}"
mkdir -p "$CACHE"
# GOTOOLCHAIN=local: Go must never try to download a newer toolchain (the machine cannot reach it).
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN=local

fail() { echo "build-test-components: $1 could not be built: $2" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$2" "the '$1' command is missing"; }

# Runs a build function, then its check, into a fresh directory and marks it complete; does nothing when
# the directory is already complete. The build runs in a subshell with errexit outside any `||`/`if`
# context, because bash ignores `set -e` inside a command whose status is being tested.
build() {
  local name=$1 dir=$CACHE/$2 fn=$3 check=$4 rc
  if [[ -f $dir/.complete ]]; then echo "cached   $name ($dir)" >&2; return; fi
  echo "building $name into $dir" >&2
  local start=$SECONDS
  rm -rf "$dir" && mkdir -p "$dir"
  set +e
  (set -e; "$fn" "$dir")
  rc=$?
  set -e
  [[ $rc -eq 0 ]] || fail "$name" "its build step exited with status $rc (see the output above)"
  local why
  why=$("$check" "$dir" 2>&1) || fail "$name" "the built files do not work: $why"
  date -u +%FT%TZ >"$dir/.complete"
  echo "built    $name in $((SECONDS - start)) s" >&2
}

helper_module() { # a throw-away Go module to build from
  local tmp; tmp=$(mktemp -d); (cd "$tmp" && go mod init holt.local/build >/dev/null 2>&1); echo "$tmp"
}

# Prints the output of `$@` and fails unless it contains $want.
expect_output() {
  local want=$1 out; shift
  out=$("$@" 2>&1) || { echo "'$*' failed: $out"; return 1; }
  [[ $out == *"$want"* ]] || { echo "'$*' printed '$out', expected it to mention '$want'"; return 1; }
}

build_etcd() {
  need go etcd
  local mod; mod=$(helper_module); cd "$mod"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/etcdctl" go.etcd.io/etcd/etcdctl/v3
  rm -rf "$mod"
}
check_etcd() {
  expect_output "etcd Version: ${ETCD_VERSION#v}" "$1/etcd" --version
  expect_output "etcdctl version: ${ETCD_VERSION#v}" "$1/etcdctl" version
}

# A throw-away module that builds commands of k8s.io/kubernetes at $KUBE_VERSION: every staging module of the
# release replaced by its published v0.x twin. Prints the module's directory.
kube_module() {
  local name=$1 mod gomod godebug; mod=$(helper_module); cd "$mod"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [[ -f $gomod ]] || fail "$name" "no go.mod for k8s.io/kubernetes@$KUBE_VERSION"
  local staging=${KUBE_VERSION/v1./v0.} count=0
  while read -r m; do go mod edit -replace "$m=$m@$staging"; count=$((count + 1)); done < <(
    sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
  [[ $count -gt 0 ]] || fail "$name" "found no staging replace lines in $gomod"
  godebug=$(sed -n 's/^godebug \(.*\)/\1/p' "$gomod")
  [[ -z $godebug ]] || go mod edit -godebug="$godebug"
  echo "$mod"
}
kube_ldflags() {
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  echo "-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
}

build_kube() {
  need go kube-apiserver
  local mod; mod=$(kube_module kube-apiserver); cd "$mod"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBE_VERSION"
  CGO_ENABLED=0 go build -trimpath -ldflags "$(kube_ldflags)" -o "$1/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  rm -rf "$mod"
}
check_kube() {
  expect_output "Kubernetes $KUBE_VERSION" "$1/kube-apiserver" --version
  expect_output "Kubernetes $KUBE_VERSION" "$1/kube-controller-manager" --version
}

# The node's programs: kubelet, kube-scheduler and kube-proxy from the same release as the API server; the
# pause program (the pod sandbox) compiled statically from the release's own build/pause/linux/pause.c; and
# two image archives for `ctr images import` (no registry is reachable from the test machines): pause, and a
# busybox image from Debian's statically linked busybox (test pods that dial and listen). containerd, runc and
# the CNI plugins are Debian packages (scripts/install-system-packages.sh).
PAUSE_VERSION=3.10.2
build_node() {
  need go node
  need gcc node
  need busybox node
  local mod src; mod=$(kube_module node); cd "$mod"
  go get "k8s.io/kubernetes/cmd/kubelet@$KUBE_VERSION" "k8s.io/kubernetes/cmd/kube-scheduler@$KUBE_VERSION" \
    "k8s.io/kubernetes/cmd/kube-proxy@$KUBE_VERSION"
  CGO_ENABLED=0 go build -trimpath -ldflags "$(kube_ldflags)" -o "$1/" \
    k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy
  src=$(go list -m -f '{{.Dir}}' k8s.io/kubernetes)
  gcc -Os -Wall -Werror -static -DVERSION="v$PAUSE_VERSION-holt" -o "$1/pause" "$src/build/pause/linux/pause.c"
  rm -rf "$mod"
  local root; root=$(mktemp -d)
  mkdir -p "$root/pause" "$root/busybox/bin" "$1/images"
  cp "$1/pause" "$root/pause/pause"
  cp "$(command -v busybox)" "$root/busybox/bin/busybox"
  local applet
  for applet in sh nc sleep cat echo wget ls; do ln -s busybox "$root/busybox/bin/$applet"; done
  oci_archive "localhost/holt-testenv/pause:$PAUSE_VERSION" "$root/pause" '["/pause"]' "$1/images/pause.oci.tar"
  oci_archive "localhost/holt-testenv/busybox:$(busybox_version)" "$root/busybox" '["/bin/sh"]' \
    "$1/images/busybox.oci.tar"
  rm -rf "$root"
}
busybox_version() { busybox 2>&1 | sed -n '1s/^BusyBox v\([0-9.]*\).*/\1/p'; }
check_node() {
  expect_output "Kubernetes $KUBE_VERSION" "$1/kubelet" --version
  expect_output "Kubernetes $KUBE_VERSION" "$1/kube-scheduler" --version
  expect_output "Kubernetes $KUBE_VERSION" "$1/kube-proxy" --version
  expect_output "pause.c v$PAUSE_VERSION" "$1/pause" -v
  local image listing
  for image in pause busybox; do
    listing=$(tar -tf "$1/images/$image.oci.tar") || { echo "cannot read $image.oci.tar"; return 1; }
    [[ $listing == *index.json* ]] || { echo "no index.json in $image.oci.tar"; return 1; }
  done
}

# An OCI image-layout archive (what `ctr images import` reads) of one uncompressed layer holding the files
# of <root>, owned by root, with fixed times: oci_archive <reference> <root> <entrypoint JSON> <out>.
oci_archive() {
  local reference=$1 root=$2 entrypoint=$3 out=$4 work
  work=$(mktemp -d); mkdir -p "$work/blobs/sha256"
  tar -C "$root" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/layer" .
  local layer config manifest
  layer=$(sha256sum "$work/layer" | cut -d' ' -f1); mv "$work/layer" "$work/blobs/sha256/$layer"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":%s,"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$entrypoint" "$layer" >"$work/config"
  config=$(sha256sum "$work/config" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
    "$config" "$(stat -c %s "$work/config")" "$layer" "$(stat -c %s "$work/blobs/sha256/$layer")" >"$work/manifest"
  manifest=$(sha256sum "$work/manifest" | cut -d' ' -f1)
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
    "$manifest" "$(stat -c %s "$work/manifest")" "$reference" "$reference" >"$work/index.json"
  mv "$work/config" "$work/blobs/sha256/$config"; mv "$work/manifest" "$work/blobs/sha256/$manifest"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$work/oci-layout"
  tar -C "$work" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$out" oci-layout index.json blobs
  rm -rf "$work"
}

# Kafka 4.x logs through slf4j 1.7 (slf4j-api 1.7.36), so the log4j2 binding is log4j-slf4j-impl, not the
# slf4j2 one (which slf4j 1.7 would not find, leaving the broker silent).
build_kafka() {
  need mvn kafka
  need java kafka
  local pom; pom=$(mktemp -d)
  cat >"$pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>holt.local</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  mvn -B -q -f "$pom/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$1/libs"
  rm -rf "$pom"
}
check_kafka() {
  local jar
  for jar in "kafka_2.13-$KAFKA_VERSION" "kafka-tools-$KAFKA_VERSION" "kafka-clients-$KAFKA_VERSION" \
    "log4j-slf4j-impl-$LOG4J_VERSION" "log4j-core-$LOG4J_VERSION"; do
    [[ -f $1/libs/$jar.jar ]] || { echo "missing $1/libs/$jar.jar"; return 1; }
  done
  expect_output "$KAFKA_VERSION" java -cp "$1/libs/*" org.apache.kafka.tools.AclCommand --version
}

# `go install github.com/spiffe/spire/cmd/...@v` fails on this machine: it looks up the module's
# deprecation through the proxy's @v/list, which the Go proxy refuses for spire (403). `go get` of the exact
# version in a helper module does not need the list. spire's go.mod has no replace directives, so the
# helper module resolves exactly spire's own dependency versions, but for one: the proxy refuses the zip of
# github.com/Keyfactor/ejbca-go-client-sdk v1.1.0 (403, "not available"), which only spire's EJBCA
# upstream-authority plugin imports (Holt's tests never load it). v1.0.2 is served and has the API that
# plugin uses, so the helper module replaces it.
build_spire() {
  need go spire
  need gcc spire # cgo, for SQLite
  local mod; mod=$(helper_module); cd "$mod"
  go mod edit -replace github.com/Keyfactor/ejbca-go-client-sdk=github.com/Keyfactor/ejbca-go-client-sdk@v1.0.2
  go get "github.com/spiffe/spire/cmd/spire-server@$SPIRE_VERSION" "github.com/spiffe/spire/cmd/spire-agent@$SPIRE_VERSION"
  CGO_ENABLED=1 go build -trimpath -ldflags "-s -w" -o "$1/" \
    github.com/spiffe/spire/cmd/spire-server github.com/spiffe/spire/cmd/spire-agent
  rm -rf "$mod"
}
check_spire() {
  expect_output "${SPIRE_VERSION#v}" "$1/spire-server" --version
  expect_output "${SPIRE_VERSION#v}" "$1/spire-agent" --version
}

# The NetworkPolicy dataplane of the dataplane tests: kube-router's network policy controller (the one
# `kube-router` program, run with only its firewall on). v2.1.0 is the only kube-router the Go proxy serves
# here (docs/testenv.md says why it is used despite the advisories reported against it: they concern the
# router and service-proxy parts, which the harness never turns on). Its go.mod has no replace directives,
# so a helper module resolves exactly kube-router's own dependency versions.
build_kube_router() {
  need go kube-router
  local mod; mod=$(helper_module); cd "$mod"
  go get "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
  CGO_ENABLED=0 go build -trimpath \
    -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION" \
    -o "$1/" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router
  rm -rf "$mod"
}
check_kube_router() {
  expect_output "version $KUBE_ROUTER_VERSION" "$1/kube-router" --version
}

build_helm() {
  need go helm
  # Without the -X, `helm version` says only "v3.21" (the release's ldflags set the full version).
  GOBIN="$1" CGO_ENABLED=0 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}
check_helm() {
  expect_output "$HELM_VERSION" "$1/helm" version --short
}

build_istio_crd() {
  need go istio-crd
  local dir
  dir=$(cd /tmp && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [[ -f $dir/kubernetes/customresourcedefinitions.gen.yaml ]] || fail istio-crd "no CRD file in istio.io/api"
  cp "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$1/istio-crds.yaml"
  chmod u+w "$1/istio-crds.yaml"
}
check_istio_crd() {
  grep -q "name: authorizationpolicies.security.istio.io" "$1/istio-crds.yaml" ||
    { echo "$1/istio-crds.yaml holds no authorizationpolicies.security.istio.io CRD"; return 1; }
}

all=(etcd kube node kafka spire helm istio-crd kube-router)
for c in "${@:-${all[@]}}"; do
  case $c in
    etcd) build etcd "etcd-$ETCD_VERSION" build_etcd check_etcd ;;
    kube) build kube-apiserver "kube-$KUBE_VERSION" build_kube check_kube ;;
    node) build node "node-$KUBE_VERSION" build_node check_node ;;
    kafka) build kafka "kafka-$KAFKA_VERSION" build_kafka check_kafka ;;
    spire) build spire "spire-$SPIRE_VERSION" build_spire check_spire ;;
    helm) build helm "helm-$HELM_VERSION" build_helm check_helm ;;
    istio-crd) build istio-crd "istio-api-$ISTIO_API_VERSION" build_istio_crd check_istio_crd ;;
    kube-router) build kube-router "kube-router-$KUBE_ROUTER_VERSION" build_kube_router check_kube_router ;;
    *) echo "unknown component '$c' (known: ${all[*]})" >&2; exit 2 ;;
  esac
done
echo "$CACHE"
