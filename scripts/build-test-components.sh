#!/usr/bin/env bash
# Builds (or finds in the cache) every real component Holt's tests run against, and prints the cache
# directory. Each component is cached outside the repository, keyed by its exact version:
#
#   ${HOLT_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/holt-testenv}/<component>-<version>/
#
# A component directory is complete only when its `.complete` stamp exists, so an interrupted build is
# redone, never half-used. A component that cannot be built stops the script with a message naming it:
# nothing is skipped. Usage: build-test-components.sh [component...]  (default: all)
set -euo pipefail

ETCD_VERSION=v3.6.16
KUBE_VERSION=v1.36.3
KAFKA_VERSION=4.2.1
LOG4J_VERSION=2.25.3
SPIRE_VERSION=v1.15.2
HELM_VERSION=v3.21.4
ISTIO_API_VERSION=v1.31.4

CACHE="${HOLT_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/holt-testenv}"
mkdir -p "$CACHE"
export GOFLAGS="${GOFLAGS:--buildvcs=false}" GOTOOLCHAIN=local

fail() { echo "build-test-components: $1 could not be built: $2" >&2; exit 1; }
need() { command -v "$1" >/dev/null || fail "$2" "the '$1' command is missing"; }

# Runs a build function into a fresh directory and marks it complete; skips it when already complete.
build() {
  local name=$1 dir=$CACHE/$2 fn=$3
  if [[ -f $dir/.complete ]]; then echo "cached   $name ($dir)"; return; fi
  echo "building $name into $dir" >&2
  local start=$SECONDS
  rm -rf "$dir" && mkdir -p "$dir"
  ( "$fn" "$dir" ) || fail "$name" "see the output above"
  date -u +%FT%TZ >"$dir/.complete"
  echo "built    $name in $((SECONDS - start)) s" >&2
}

helper_module() { # a throw-away Go module to build from
  local tmp; tmp=$(mktemp -d); (cd "$tmp" && go mod init holt.local/build >/dev/null 2>&1); echo "$tmp"
}

build_etcd() {
  need go etcd
  local mod; mod=$(helper_module); cd "$mod"
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION"
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/etcd" go.etcd.io/etcd/server/v3
  CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$1/etcdctl" go.etcd.io/etcd/etcdctl/v3
  rm -rf "$mod"
}

build_kube() {
  need go kube-apiserver
  local mod gomod godebug; mod=$(helper_module); cd "$mod"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  [[ -f $gomod ]] || fail kube-apiserver "no go.mod for k8s.io/kubernetes@$KUBE_VERSION"
  # Every staging module of the release, replaced by its published v0.x twin.
  local staging=${KUBE_VERSION/v1./v0.}
  while read -r m; do go mod edit -replace "$m=$m@$staging"; done < <(
    sed -n 's#^\s*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod")
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

build_kafka() {
  need mvn kafka
  local pom; pom=$(mktemp -d)
  cat >"$pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>holt.local</groupId><artifactId>kafka-broker</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-slf4j2-impl</artifactId><version>$LOG4J_VERSION</version></dependency>
    <dependency><groupId>org.apache.logging.log4j</groupId><artifactId>log4j-core</artifactId><version>$LOG4J_VERSION</version></dependency>
  </dependencies>
</project>
POM
  mvn -B -q -f "$pom/pom.xml" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$1/libs"
  rm -rf "$pom"
}

build_spire() {
  need go spire
  need gcc spire
  GOBIN="$1" CGO_ENABLED=1 go install "github.com/spiffe/spire/cmd/spire-server@$SPIRE_VERSION" \
    "github.com/spiffe/spire/cmd/spire-agent@$SPIRE_VERSION"
}

build_helm() {
  need go helm
  GOBIN="$1" CGO_ENABLED=0 go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
}

build_istio_crd() {
  need go istio-crd
  local dir
  dir=$(cd /tmp && go mod download -json "istio.io/api@$ISTIO_API_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  [[ -f $dir/kubernetes/customresourcedefinitions.gen.yaml ]] || fail istio-crd "no CRD file in istio.io/api"
  cp "$dir/kubernetes/customresourcedefinitions.gen.yaml" "$1/istio-crds.yaml"
}

all=(etcd kube kafka spire helm istio-crd)
for c in "${@:-${all[@]}}"; do
  case $c in
    etcd) build etcd "etcd-$ETCD_VERSION" build_etcd ;;
    kube) build kube-apiserver "kube-$KUBE_VERSION" build_kube ;;
    kafka) build kafka "kafka-$KAFKA_VERSION" build_kafka ;;
    spire) build spire "spire-$SPIRE_VERSION" build_spire ;;
    helm) build helm "helm-$HELM_VERSION" build_helm ;;
    istio-crd) build istio-crd "istio-api-$ISTIO_API_VERSION" build_istio_crd ;;
    *) echo "unknown component '$c' (known: ${all[*]})" >&2; exit 2 ;;
  esac
done
echo "$CACHE"
