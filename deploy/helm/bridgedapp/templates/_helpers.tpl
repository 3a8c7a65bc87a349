{{/* The labels every object carries (the kustomize base uses the first alone). */}}
{{- define "bridgedapp.labels" -}}
app.kubernetes.io/name: bridgedapp-operator
{{- end }}

{{- define "bridgedapp.subject" -}}
- kind: ServiceAccount
  name: bridgedapp-operator
  namespace: {{ .Release.Namespace }}
{{- end }}

{{/* The rules of `adopt`; each one's reason is in deploy/operator/rbac/adopt/rbac.yaml. */}}
{{- define "bridgedapp.namespacedRules" -}}
- apiGroups: [bridgedapp.io]
  resources: [bridgedapps]
  verbs: [get, list, watch, patch]
- apiGroups: [bridgedapp.io]
  resources: [bridgedapps/status]
  verbs: [patch]
- apiGroups: [kafka.strimzi.io]
  resources: [kafkas, kafkausers]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [kafka.strimzi.io]
  resources: [kafkatopics]
  verbs: [get, list, watch, create, patch]
- apiGroups: [kafka.strimzi.io]
  resources: [kafkanodepools]
  verbs: [get, create, patch, delete]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, patch]
- apiGroups: [""]
  resources: [secrets, configmaps]
  verbs: [get, list, watch, create, patch, delete]
{{- end }}
