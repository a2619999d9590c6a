{{/*
agentauthd's config file, as JSON in exactly the daemon's format (README "Configuration").
The chart sets where it listens and where each client's secret file is; the rest comes from
.Values.config and .Values.clients.
*/}}
{{- define "agentauth.config" -}}
{{- $config := dict }}
{{- if .Values.config.listeners }}
{{- $_ := set $config "listeners" .Values.config.listeners }}
{{- else }}
{{- $_ := set $config "listen" (printf "%s:%d" .Values.ports.bindAddress (int .Values.ports.grpc)) }}
{{- end }}
{{- if .Values.metrics.enabled }}
{{- $_ := set $config "metrics_listen" (printf "%s:%d" .Values.ports.bindAddress (int .Values.ports.metrics)) }}
{{- else }}
{{- $_ := set $config "metrics_listen" "" }}
{{- end }}
{{- $_ := set $config "prewarm" .Values.config.prewarm }}
{{- $_ := set $config "max_concurrent_fetches" (int .Values.config.max_concurrent_fetches) }}
{{- $_ := set $config "secret_check_interval" .Values.config.secret_check_interval }}
{{- with .Values.config.defaults }}
{{- $_ := set $config "defaults" . }}
{{- end }}
{{- $clients := list }}
{{- range .Values.clients }}
{{- $client := deepCopy (.settings | default dict) }}
{{- $_ := set $client "name" .name }}
{{- $_ := set $client "client_id" .clientId }}
{{- $_ := set $client "client_secret_file" (printf "%s/%s" (include "agentauth.secretsDir" $) .name) }}
{{- with .scopes }}{{ $_ := set $client "scopes" . }}{{ end }}
{{- with .authority }}{{ $_ := set $client "authority" . }}{{ end }}
{{- with .urlPrefix }}{{ $_ := set $client "url_prefix" . }}{{ end }}
{{- with .authMethod }}{{ $_ := set $client "auth_method" . }}{{ end }}
{{- with .tokenEndpoint }}{{ $_ := set $client "token_endpoint" . }}{{ end }}
{{- with .allowedCallers }}{{ $_ := set $client "allowed_callers" . }}{{ end }}
{{- $clients = append $clients $client }}
{{- end }}
{{- $_ := set $config "clients" $clients }}
{{- with .Values.callerAuth.kubernetes }}
{{- if .enabled }}
{{- $serviceAccountDir := include "agentauth.serviceAccountDir" $ }}
{{- $kubernetes := dict "issuer" .issuer "audience" .audience "leeway" .leeway "jwks_refresh" .jwksRefresh }}
{{- $_ := set $kubernetes "ca_file" (printf "%s/ca.crt" $serviceAccountDir) }}
{{- $_ := set $kubernetes "bearer_token_file" (printf "%s/token" $serviceAccountDir) }}
{{- with .jwksUri }}{{ $_ := set $kubernetes "jwks_uri" . }}{{ end }}
{{- $_ := set $config "caller_auth" (dict "kubernetes" $kubernetes) }}
{{- end }}
{{- end }}
{{- toPrettyJson $config }}
{{- end }}
