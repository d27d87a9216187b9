{{/*
alert_svc's notification channels (alert_svc/config.py): endpoints as values, every credential
from a Secret (secretKeyRef: the process reads them from its environment). A channel is on once
what alert_svc needs for it is there (alert_svc/channels.py Channels.enabled).
*/}}
{{- define "meters.alertEnv" -}}
{{- $ch := .Values.alertChannels }}
{{- with $ch.pagerduty }}
- {name: METERS_PAGERDUTY_URL, value: {{ .url | quote }}}
{{- if .routingKey.name }}
{{- include "meters.secretEnv" (list "METERS_PAGERDUTY_ROUTING_KEY" .routingKey.name .routingKey.key) | nindent 0 }}
{{- end }}
{{- end }}
{{- with $ch.teams.webhookUrl }}
{{- if .name }}
{{- include "meters.secretEnv" (list "METERS_TEAMS_WEBHOOK_URL" .name .key) | nindent 0 }}
{{- end }}
{{- end }}
{{- with $ch.servicenow }}
{{- if .url }}
{{- if not .credentials.name }}
{{- fail "alertChannels.servicenow.credentials.name: ServiceNow needs a Secret with its user and password" }}
{{- end }}
- {name: METERS_SERVICENOW_URL, value: {{ .url | quote }}}
{{- include "meters.secretEnv" (list "METERS_SERVICENOW_USER" .credentials.name .credentials.userKey) | nindent 0 }}
{{- include "meters.secretEnv" (list "METERS_SERVICENOW_PASSWORD" .credentials.name .credentials.passwordKey) | nindent 0 }}
{{- end }}
{{- end }}
{{- with $ch.email }}
{{- if .smtpHost }}
{{- if not .to }}
{{- fail "alertChannels.email.to: email needs at least one recipient" }}
{{- end }}
- {name: METERS_SMTP_HOST, value: {{ .smtpHost | quote }}}
- {name: METERS_SMTP_PORT, value: {{ .smtpPort | quote }}}
- {name: METERS_SMTP_STARTTLS, value: {{ .starttls | quote }}}
- {name: METERS_EMAIL_FROM, value: {{ .from | quote }}}
- {name: METERS_EMAIL_TO, value: {{ join "," .to | quote }}}
{{- if .credentials.name }}
{{- include "meters.secretEnv" (list "METERS_SMTP_USER" .credentials.name .credentials.userKey) | nindent 0 }}
{{- include "meters.secretEnv" (list "METERS_SMTP_PASSWORD" .credentials.name .credentials.passwordKey) | nindent 0 }}
{{- end }}
{{- end }}
{{- end }}
{{- with $ch.consoleUrl }}
- {name: METERS_CONSOLE_URL, value: {{ . | quote }}}
{{- end }}
{{- end }}
