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

build_kube() {
  need go kube-apiserver
  local mod gomod godebug; mod=$(helper_module); cd "$mod"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [[ -f $gomod ]] || fail kube-apiserver "no go.mod for k8s.io/kubernetes@$KUBE_VERSION"
  # Every staging module of the release, replaced by its published v0.x twin.
  local staging=${KUBE_VERSION/v1./v0.} count=0
  while read -r m; do go mod edit -replace "$m=$m@$staging"; count=$((count + 1)); done < <(
    sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
  [[ $count -gt 0 ]] || fail kube-apiserver "found no staging replace lines in $gomod"
  godebug=$(sed -n 's/^godebug \(.*\)/\1/p' "$gomod")
  [[ -z $godebug ]] || go mod edit -godebug="$godebug"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION" "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBE_VERSION"
  local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
  local ld="-s -w -X k8s.io/component-base/version.gitVersion=$KUBE_VERSION"
  ld+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  CGO_ENABLED=0 go build -trimpath -ldflags "$ld" -o "$1/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
  rm -rf "$mod"
}
check_kube() {
  expect_output "Kubernetes $KUBE_VERSION" "$1/kube-apiserver" --version
  expect_output "Kubernetes $KUBE_VERSION" "$1/kube-controller-manager" --version
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

all=(etcd kube kafka spire helm istio-crd)
for c in "${@:-${all[@]}}"; do
  case $c in
    etcd) build etcd "etcd-$ETCD_VERSION" build_etcd check_etcd ;;
    kube) build kube-apiserver "kube-$KUBE_VERSION" build_kube check_kube ;;
    kafka) build kafka "kafka-$KAFKA_VERSION" build_kafka check_kafka ;;
    spire) build spire "spire-$SPIRE_VERSION" build_spire check_spire ;;
    helm) build helm "helm-$HELM_VERSION" build_helm check_helm ;;
    istio-crd) build istio-crd "istio-api-$ISTIO_API_VERSION" build_istio_crd check_istio_crd ;;
    *) echo "unknown component '$c' (known: ${all[*]})" >&2; exit 2 ;;
  esac
done
echo "$CACHE"
