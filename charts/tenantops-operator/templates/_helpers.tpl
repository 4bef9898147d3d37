{{- define "tenantops.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "tenantops.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "tenantops.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "tenantops.serviceAccountName" -}}
{{- default (include "tenantops.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{/* The namespaces watched when not cluster-wide: the listed ones, or the release's. */}}
{{- define "tenantops.namespaces" -}}
{{- if .Values.watch.namespaces -}}
{{- join "," .Values.watch.namespaces -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* Least privilege: what tenant_operator/kube.py calls, plus kopf's watches and peering. */}}
{{- define "tenantops.rules" -}}
- apiGroups: [tenantops.dev]
  resources: [tenantmigrations]
  verbs: [get, list, watch, patch]
- apiGroups: [tenantops.dev]
  resources: [tenantmigrations/status]
  verbs: [get, patch]
- apiGroups: [tenantops.dev]
  resources: [tenantmigrations/finalizers]
  verbs: [update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [get, list, watch, create]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [pods/log]
  verbs: [get]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, update]
- apiGroups: [""]
  resources: [events]
  verbs: [create]
{{- end -}}
