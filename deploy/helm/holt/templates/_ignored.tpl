{{/*
Values Holt does not act on: every key of the reference-shaped sections that no template of this chart reads,
listed by path when it asks for something (a true, a non-empty string, list or map leaf). Values themselves are
never printed (some are credentials). Used by NOTES.txt, so that a platform team's values file for the
reference chart installs, and says what does not carry over.
*/}}

{{/* The table of keys acted on and of reasons (files/reference-values.yaml, which holt-config reads too). */}}
{{- define "holt.referenceValues" -}}
{{- .Files.Get "files/reference-values.yaml" -}}
{{- end -}}

{{- define "holt.actedOn" -}}
{{- (include "holt.referenceValues" . | fromYaml).actedOn | toJson -}}
{{- end -}}

{{/* Why a key is not acted on, by its path's longest known prefix. Call with (list $ path). */}}
{{- define "holt.ignoredReason" -}}
{{- $path := index . 1 -}}
{{- $reasons := (include "holt.referenceValues" (index . 0) | fromYaml).ignored -}}
{{- $found := "" -}}
{{- $longest := 0 -}}
{{- range $prefix, $reason := $reasons -}}
{{- if and (or (eq $path $prefix) (hasPrefix (printf "%s." $prefix) $path)) (gt (len $prefix) $longest) -}}
{{- $found = $reason -}}
{{- $longest = len $prefix -}}
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
