{{/*
Names, labels and images shared by every template. Object names are fixed (not prefixed with the release
name): Holt is installed once per cluster, its CRDs, webhook configuration and cluster roles are cluster-wide,
and the binaries' defaults and `holt mapper` look for these names.
*/}}

{{- define "holt.labels" -}}
app.kubernetes.io/name: holt
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: otterize
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- with .Values.global.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one component's objects: the common ones and its component. Call with (list $ "operator"). */}}
{{- define "holt.componentLabels" -}}
{{- $root := index . 0 -}}
{{ include "holt.labels" $root }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* The selector of one component's pods (stable across upgrades). */}}
{{- define "holt.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: holt
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* An object's labels (and global annotations). Call with (list $ "operator") under `metadata:`. */}}
{{- define "holt.metadata" -}}
{{- $root := index . 0 -}}
labels:
  {{- include "holt.componentLabels" . | nindent 2 }}
{{- with $root.Values.global.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* An image reference from a component's values: repository/image:tag (tag: the chart's appVersion). */}}
{{- define "holt.image" -}}
{{- $component := index . 0 -}}
{{- $root := index . 1 -}}
{{- printf "%s/%s:%s" $component.repository $component.image (default $root.Chart.AppVersion $component.tag) -}}
{{- end -}}

{{/* imagePullSecrets from a component's `pullSecrets` (names or {name: ...}). */}}
{{- define "holt.pullSecrets" -}}
{{- with . -}}
imagePullSecrets:
{{- range . }}
{{- if kindIs "string" . }}
  - name: {{ . }}
{{- else }}
  - {{ toYaml . | nindent 4 | trim }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Pod annotations: Prometheus scraping of `port` plus the global ones. Call with (list $ port). */}}
{{- define "holt.podAnnotations" -}}
{{- $root := index . 0 -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ index . 1 | quote }}
prometheus.io/path: /metrics
{{- with $root.Values.global.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The operator's namespaces it writes in: the watched ones, or none meaning all. */}}
{{- define "holt.watchedNamespaces" -}}
{{- $watched := .Values.intentsOperator.watchedNamespaces | default list -}}
{{- toJson $watched -}}
{{- end -}}

{{/* The network mapper's URL as the sniffers reach it: through the cluster's DNS, unless
networkMapper.sniffer.mapperURL says otherwise (a cluster without DNS for host-network pods). */}}
{{- define "holt.mapperURL" -}}
{{- if .Values.networkMapper.sniffer.mapperURL -}}
{{- .Values.networkMapper.sniffer.mapperURL -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%v" .Values.networkMapper.mapper.serviceName .Release.Namespace .Values.networkMapper.mapper.port -}}
{{- end -}}
{{- end -}}

{{/* Fails the render when a deprecated key of the reference is set, saying what replaces it. */}}
{{- define "holt.refuseDeprecated" -}}
{{- $operator := .Values.intentsOperator.operator -}}
{{- if not (kindIs "invalid" $operator.enableEnforcement) -}}
{{- fail "intentsOperator.operator.enableEnforcement is deprecated (as in the reference chart): set intentsOperator.operator.mode to defaultActive or defaultShadow instead" -}}
{{- end -}}
{{- end -}}

{{/* The operator's configuration file: holt_model::Config's keys (unknown keys are refused by the operator). */}}
{{- define "holt.operatorConfig" -}}
{{- $operator := .Values.intentsOperator.operator -}}
{{- $thirdParty := $operator.automateThirdPartyNetworkPolicies -}}
{{- if not (kindIs "invalid" $operator.allowExternalTraffic) }}{{ $thirdParty = $operator.allowExternalTraffic }}{{ end -}}
mode: {{ $operator.mode }}
enforcedNamespaces: {{ .Values.intentsOperator.enforcedNamespaces | default list | toJson }}
watchedNamespaces: {{ .Values.intentsOperator.watchedNamespaces | default list | toJson }}
enableNetworkPolicyCreation: {{ $operator.enableNetworkPolicyCreation }}
enableKafkaACLCreation: {{ $operator.enableKafkaACLCreation }}
enableIstioPolicyCreation: {{ $operator.enableIstioPolicyCreation }}
enableLinkerdPolicyCreation: {{ $operator.enableLinkerdPolicyCreation }}
enableEgressNetworkPolicyCreation: {{ $operator.enableEgressNetworkPolicyCreation }}
separateNetpolsForIngressAndEgress: {{ $operator.separateNetpolsForIngressAndEgress }}
enableEgressAutoallowDNSTraffic: {{ $operator.enableEgressAutoallowDNSTraffic }}
enableGroupIPsByCIDR: {{ $operator.enableGroupIPsByCIDR }}
enableGroupIPsByCIDRPeersLimit: {{ $operator.enableGroupIPsByCIDRPeersLimit | int }}
automateThirdPartyNetworkPolicies: {{ $thirdParty }}
enableStrictModeIntents: {{ $operator.enableStrictModeIntents }}
excludedStrictModeNamespaces: {{ $operator.excludedStrictModeNamespaces | default list | toJson }}
istioTrustDomain: {{ $operator.istioTrustDomain | quote }}
workloadNameOverrideAnnotation: {{ .Values.global.workloadNameOverrideAnnotationName | quote }}
useImageNameForServiceIdForJobs: {{ .Values.global.experimentalUseDockerImageAsServiceNameForJobs }}
{{- end -}}

{{/* The mapper's namespace, where the RBAC verbs on mapper.holt.dev are checked (docs/mapper.md, access). */}}
{{- define "holt.mapperAuthorizationNamespaceEnv" -}}
- name: HOLT_MAPPER_AUTHORIZATION_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end -}}

{{/* Where the sniffer's projected token for the mapper is mounted; the file the sniffer reads. */}}
{{- define "holt.snifferTokenDir" -}}
/var/run/secrets/holt/mapper-token
{{- end -}}

{{/* "true" when the credentials operator is installed: switched on, with a provider Holt has (`builtin`,
empty means the same; `spire`; `cert-manager`). */}}
{{- define "holt.credentialsEnabled" -}}
{{- if and .Values.global.deployment.credentialsOperator (has (include "holt.certificateProvider" .) (list "builtin" "spire" "cert-manager")) -}}
true
{{- end -}}
{{- end -}}

{{/* The credentials operator's provider: global.certificateProvider, `builtin` when empty. */}}
{{- define "holt.certificateProvider" -}}
{{- .Values.global.certificateProvider | default "builtin" -}}
{{- end -}}

{{/*
The broker pods whose logs the mapper reads (--kafka-broker-pod; docs/mapper.md, Kafka topics):
networkMapper.mapper.kafkaBrokerPods, and the reference's networkMapper.kafkawatcher.kafkaServers
(`pod.namespace` items) when networkMapper.kafkawatcher.enable is true. Comma-separated; empty when none.
*/}}
{{- define "holt.mapperKafkaBrokerPods" -}}
{{- $pods := .Values.networkMapper.mapper.kafkaBrokerPods | default list -}}
{{- if dig "kafkawatcher" "enable" false .Values.networkMapper -}}
{{- $pods = concat $pods (dig "kafkawatcher" "kafkaServers" list .Values.networkMapper | default list) -}}
{{- end -}}
{{- join "," $pods -}}
{{- end -}}

{{/*
The namespaces of those pods, one per line, sorted and unique: `<pod>.<namespace>` or
`<broker>.<namespace>=<pod namespace>/<pod>[:<container>]`.
*/}}
{{- define "holt.mapperKafkaBrokerNamespaces" -}}
{{- $namespaces := list -}}
{{- range $entry := splitList "," (include "holt.mapperKafkaBrokerPods" .) -}}
{{- if contains "=" $entry -}}
{{- $namespaces = append $namespaces (index (splitList "/" (index (splitList "=" $entry) 1)) 0) -}}
{{- else if contains "." $entry -}}
{{- $namespaces = append $namespaces (index (splitList "." $entry) 1) -}}
{{- end -}}
{{- end -}}
{{- $namespaces | uniq | sortAlpha | join "\n" -}}
{{- end -}}
