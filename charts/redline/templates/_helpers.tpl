{{/* Names and labels */}}
{{- define "redline.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "redline.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "redline.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "redline.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* <fullname>-<component>; ctx: root, component: e.g. "churn" */}}
{{- define "redline.componentName" -}}
{{- printf "%s-%s" (include "redline.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "redline.selectorLabels" -}}
app.kubernetes.io/name: {{ include "redline.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "redline.labels" -}}
{{ include "redline.selectorLabels" . }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- end -}}

{{- define "redline.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "redline.testid" -}}
{{- default .Release.Name .Values.testid -}}
{{- end -}}

{{/* key=value,... from a map, sorted by key */}}
{{- define "redline.kvList" -}}
{{- $out := list -}}
{{- range $k, $v := . -}}
{{- $out = append $out (printf "%s=%v" $k $v) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/*
Env every daemon built on the runtime shares: identity, remote-write and its auth (files
from Secrets, never literals), labels. `instance` tells apart the series of pods that
share a testid (Indexed Job segments, dst-client replicas).
*/}}
{{- define "redline.commonEnv" -}}
{{- $v := .Values -}}
- name: POD_NAME
  valueFrom: {fieldRef: {fieldPath: metadata.name}}
- name: POD_NAMESPACE
  valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
- name: NODE_NAME
  valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
- name: REDLINE_TESTID
  value: {{ include "redline.testid" . | quote }}
- name: REDLINE_ADMIN_ADDR
  value: "0.0.0.0:9470"
- name: REDLINE_LOG
  value: {{ $v.logLevel | quote }}
- name: REDLINE_LOG_FORMAT
  value: {{ $v.logFormat | quote }}
- name: REDLINE_PUSH_INTERVAL
  value: {{ $v.remoteWrite.pushInterval | quote }}
{{- $labels := dict "instance" "$(POD_NAME)" }}
{{- if $v.scenario }}{{ $_ := set $labels "scenario" $v.scenario }}{{ end }}
{{- $labels = merge (deepCopy $v.externalLabels) $labels }}
- name: REDLINE_EXTERNAL_LABELS
  value: {{ include "redline.kvList" $labels | quote }}
{{- with $v.remoteWrite }}
{{- if .url }}
- name: REDLINE_REMOTE_WRITE_URL
  value: {{ .url | quote }}
{{- if .headers }}
- name: REDLINE_REMOTE_WRITE_HEADERS
  value: {{ include "redline.kvList" .headers | quote }}
{{- end }}
{{- if .bearerToken.secretName }}
- name: REDLINE_REMOTE_WRITE_BEARER_TOKEN_FILE
  value: /var/run/redline/remote-write/bearer/{{ .bearerToken.key }}
{{- end }}
{{- if .basicAuth.username }}
- name: REDLINE_REMOTE_WRITE_USERNAME
  value: {{ .basicAuth.username | quote }}
- name: REDLINE_REMOTE_WRITE_PASSWORD_FILE
  value: /var/run/redline/remote-write/basic/{{ .basicAuth.passwordKey }}
{{- end }}
{{- if .ca.secretName }}
- name: REDLINE_REMOTE_WRITE_CA_FILE
  value: /var/run/redline/remote-write/ca/{{ .ca.key }}
{{- end }}
{{- if .insecureSkipVerify }}
- name: REDLINE_REMOTE_WRITE_INSECURE_SKIP_VERIFY
  value: "true"
{{- end }}
{{- if and .nativeHistograms (ne .nativeHistograms "offer") }}
- name: REDLINE_NATIVE_HISTOGRAMS
  value: {{ .nativeHistograms | quote }}
{{- end }}
{{- if and .nativeHistogramFallback (ne .nativeHistogramFallback "classic") }}
- name: REDLINE_NATIVE_HISTOGRAM_FALLBACK
  value: {{ .nativeHistogramFallback | quote }}
{{- end }}
{{- if and .protocol (ne (toString .protocol) "auto") }}
- name: REDLINE_REMOTE_WRITE_PROTOCOL
  value: {{ .protocol | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}

{{/* name: value env entries from a map, skipping empty values; sorted by name */}}
{{- define "redline.envMap" -}}
{{- range $k, $v := . }}
{{- if not (or (eq (toString $v) "") (kindIs "invalid" $v)) }}
- name: {{ $k }}
  value: {{ toString $v | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "redline.commonMounts" -}}
- name: tmp
  mountPath: /tmp
{{- with .Values.remoteWrite }}
{{- if and .url .bearerToken.secretName }}
- name: remote-write-bearer
  mountPath: /var/run/redline/remote-write/bearer
  readOnly: true
{{- end }}
{{- if and .url .basicAuth.username }}
- name: remote-write-basic
  mountPath: /var/run/redline/remote-write/basic
  readOnly: true
{{- end }}
{{- if and .url .ca.secretName }}
- name: remote-write-ca
  mountPath: /var/run/redline/remote-write/ca
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{- define "redline.commonVolumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- with .Values.remoteWrite }}
{{- if and .url .bearerToken.secretName }}
- name: remote-write-bearer
  secret:
    secretName: {{ .bearerToken.secretName }}
    items: [{key: {{ .bearerToken.key }}, path: {{ .bearerToken.key }}}]
    defaultMode: 0400
{{- end }}
{{- if and .url .basicAuth.username }}
- name: remote-write-basic
  secret:
    secretName: {{ required "remoteWrite.basicAuth.passwordSecretName is required with basicAuth.username" .basicAuth.passwordSecretName }}
    items: [{key: {{ .basicAuth.passwordKey }}, path: {{ .basicAuth.passwordKey }}}]
    defaultMode: 0400
{{- end }}
{{- if and .url .ca.secretName }}
- name: remote-write-ca
  secret:
    secretName: {{ .ca.secretName }}
    items: [{key: {{ .ca.key }}, path: {{ .ca.key }}}]
{{- end }}
{{- end }}
{{- end -}}

{{- define "redline.adminPort" -}}
- name: admin
  containerPort: 9470
  protocol: TCP
{{- end -}}

{{- define "redline.probes" -}}
readinessProbe:
  httpGet: {path: /ready, port: admin}
  periodSeconds: 5
livenessProbe:
  httpGet: {path: /live, port: admin}
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}

{{/* Pod-level settings shared by every daemon; d: the daemon's values */}}
{{- define "redline.podSpec" -}}
{{- $ctx := .ctx -}}
serviceAccountName: {{ include "redline.componentName" . }}
securityContext:
  {{- toYaml $ctx.Values.podSecurityContext | nindent 2 }}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .d.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .d.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Container-level settings shared by every daemon */}}
{{- define "redline.containerBase" -}}
image: {{ include "redline.image" .ctx }}
imagePullPolicy: {{ .ctx.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .ctx.Values.securityContext | nindent 2 }}
resources:
  {{- toYaml .d.resources | nindent 2 }}
{{- end -}}

{{/* ServiceAccount of a daemon; the token is mounted only when it talks to the API */}}
{{- define "redline.serviceAccount" -}}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "redline.componentName" . }}
  namespace: {{ .ctx.Release.Namespace }}
  labels:
    {{- include "redline.labels" . | nindent 4 }}
automountServiceAccountToken: {{ .api | default false }}
{{- end -}}

{{/* Role + RoleBinding; .namespace where the rules apply, .rules the rules */}}
{{- define "redline.role" -}}
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: {{ include "redline.componentName" . }}
  namespace: {{ .namespace }}
  labels:
    {{- include "redline.labels" . | nindent 4 }}
rules:
  {{- toYaml .rules | nindent 2 }}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ include "redline.componentName" . }}
  namespace: {{ .namespace }}
  labels:
    {{- include "redline.labels" . | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ include "redline.componentName" . }}
subjects:
  - kind: ServiceAccount
    name: {{ include "redline.componentName" . }}
    namespace: {{ .ctx.Release.Namespace }}
{{- end -}}
