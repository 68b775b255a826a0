{{/*
Values Holt does not act on: every key of the reference-shaped sections that no template of this chart reads,
listed by path when it asks for something (a true, a non-empty string, list or map leaf). Values themselves are
never printed (some are credentials). Used by NOTES.txt, so that a platform team's values file for the
reference chart installs, and says what does not carry over.
*/}}

{{- define "holt.actedOn" -}}
{{- toJson (dict
  "global" (list "deployment" "workloadNameOverrideAnnotationName" "experimentalUseDockerImageAsServiceNameForJobs" "podAnnotations" "podLabels" "commonLabels" "commonAnnotations" "certificateProvider" "spiffe")
  "global.deployment" (list "intentsOperator" "networkMapper" "credentialsOperator")
  "global.spiffe" (list "trustDomain")
  "credentialsOperator" (list "replicas" "operator" "ca" "watchedNamespaces")
  "credentialsOperator.operator" (list "repository" "image" "tag" "pullPolicy" "pullSecrets" "defaultCertTTL" "renewAt" "maxConcurrentIssues" "logFormat" "logLevel" "extraEnvVars" "resources" "podSecurityContext" "containerSecurityContext" "nodeSelector" "tolerations" "affinity" "priorityClassName")
  "credentialsOperator.ca" (list "secretName" "userSecretName" "validity" "rotateBefore" "propagationDelay")
  "intentsOperator" (list "replicas" "operator" "watchedNamespaces" "enforcedNamespaces" "webhook" "podDisruptionBudget" "networkPolicy" "serviceMonitor")
  "intentsOperator.operator" (list "repository" "image" "tag" "pullPolicy" "pullSecrets" "mode" "enableNetworkPolicyCreation" "enableKafkaACLCreation" "enableIstioPolicyCreation" "enableLinkerdPolicyCreation" "enableEgressNetworkPolicyCreation" "separateNetpolsForIngressAndEgress" "enableEgressAutoallowDNSTraffic" "enableGroupIPsByCIDR" "enableGroupIPsByCIDRPeersLimit" "automateThirdPartyNetworkPolicies" "allowExternalTraffic" "enableStrictModeIntents" "excludedStrictModeNamespaces" "istioTrustDomain" "kafkaServerTLSSecret" "kafkaACLResyncInterval" "statusWriteInterval" "logFormat" "logLevel" "extraEnvVars" "resources" "podSecurityContext" "containerSecurityContext" "nodeSelector" "tolerations" "affinity" "priorityClassName")
  "networkMapper" (list "mapper" "sniffer" "auth")
  "networkMapper.mapper" (list "repository" "image" "tag" "pullPolicy" "pullSecrets" "serviceName" "port" "excludeNamespaces" "clusterDomain" "persistence" "settings" "logFormat" "logLevel" "extraEnvVars" "resources" "podSecurityContext" "containerSecurityContext" "nodeSelector" "tolerations" "affinity" "priorityClassName" "networkPolicy" "serviceMonitor")
  "networkMapper.sniffer" (list "enable" "repository" "image" "tag" "pullPolicy" "pullSecrets" "healthProbesPort" "reportInterval" "reportTimeout" "enableDNS" "enableTCP" "enableSocketScan" "interface" "maxBatch" "ringBlockSize" "ringBlocks" "mapperURL" "logFormat" "logLevel" "extraEnvVars" "resources" "podSecurityContext" "nodeSelector" "tolerations" "priorityClassName")
) -}}
{{- end -}}

{{/* Why a key is not acted on, by its path's longest known prefix. */}}
{{- define "holt.ignoredReason" -}}
{{- $path := . -}}
{{- $reasons := dict
  "global.aws" "cloud IAM integrations are not part of Holt"
  "global.azure" "cloud IAM integrations are not part of Holt"
  "global.gcp" "cloud IAM integrations are not part of Holt"
  "global.otterizeCloud" "Holt does not connect to Otterize Cloud"
  "global.telemetry" "Holt sends no telemetry"
  "global.deployment.spire" "Holt installs no SPIRE"
  "global.spire" "Holt installs no SPIRE"
  "global.openshift" "no OpenShift SecurityContextConstraints are created"
  "global.allowGetAllResources" "the operator watches the built-in owner kinds only"
  "global.serviceNameOverrideAnnotationName" "use global.workloadNameOverrideAnnotationName"
  "intentsOperator.allowGetAllResources" "the operator watches the built-in owner kinds only"
  "intentsOperator.watcher" "Holt's operator has no separate pod watcher"
  "intentsOperator.operator.enableDatabasePolicyCreation" "database policies are not implemented"
  "intentsOperator.operator.autoGenerateTLSUsingCredentialsOperator" "the intents operator does not take its Kafka certificate from the credentials operator yet: set intentsOperator.operator.kafkaServerTLSSecret"
  "credentialsOperator.spire" "the SPIRE provider is not in this release"
  "credentialsOperator.certManager" "the cert-manager provider is not in this release"
  "credentialsOperator.enableSecretRotation" "database passwords are not part of Holt's credentials operator"
  "credentialsOperator.databaseSecretRotationInterval" "database passwords are not part of Holt's credentials operator"
  "intentsOperator.operator.automateAllowWebhookTraffic" "webhook traffic policies are not implemented"
  "intentsOperator.operator.metricsPort" "metrics are served on the probe port, 8181"
  "intentsOperator.operator.enableEnforcement" "deprecated: use intentsOperator.operator.mode"
  "networkMapper.kafkawatcher" "the Kafka watcher is not implemented"
  "networkMapper.istiowatcher" "the Istio watcher is not implemented"
  "networkMapper.opentelemetry" "OpenTelemetry collection is not implemented"
  "networkMapper.nodeagent" "not part of Holt"
  "networkMapper.mapper.useExtendedProcfsResolution" "not implemented"
  "networkMapper.sniffer.useExtendedProcfsResolution" "not implemented"
-}}
{{- $found := "" -}}
{{- range $prefix, $reason := $reasons -}}
{{- if or (eq $path $prefix) (hasPrefix (printf "%s." $prefix) $path) -}}
{{- $found = $reason -}}
{{- end -}}
{{- end -}}
{{- default "not read by any template of this chart" $found -}}
{{- end -}}

{{/* Paths of the leaves under a value that ask for something. Call with (list path value). */}}
{{- define "holt.setLeaves" -}}
{{- $path := index . 0 -}}
{{- $value := index . 1 -}}
{{- if kindIs "map" $value -}}
{{- range $key, $inner := $value -}}
{{- include "holt.setLeaves" (list (printf "%s.%s" $path $key) $inner) -}}
{{- end -}}
{{- else if $value -}}
{{- printf "%s\n" $path -}}
{{- end -}}
{{- end -}}

{{/* Every path not acted on that asks for something, one per line. */}}
{{- define "holt.ignoredValues" -}}
{{- $acted := include "holt.actedOn" . | fromJson -}}
{{- $root := .Values -}}
{{- range $section, $keys := $acted -}}
{{- $map := $root -}}
{{- range $part := splitList "." $section -}}
{{- if kindIs "map" $map }}{{ $map = index $map $part | default dict }}{{ end -}}
{{- end -}}
{{- if kindIs "map" $map -}}
{{- range $key, $value := $map -}}
{{- if not (has $key $keys) -}}
{{- $path := printf "%s.%s" $section $key -}}
{{- if not (hasKey $acted $path) -}}
{{- include "holt.setLeaves" (list $path $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- range $key, $value := $root -}}
{{- if not (has $key (list "global" "intentsOperator" "networkMapper" "intentsAccess" "credentialsOperator")) -}}
{{- include "holt.setLeaves" (list $key $value) -}}
{{- end -}}
{{- end -}}
{{- end -}}
