{{/* Labels every object of the release carries. */}}
{{- define "statecast.labels" -}}
app.kubernetes.io/part-of: statecast
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* The container image. */}}
{{- define "statecast.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag }}
{{- end }}
