{{/*
The names every template uses, as in the prometheus-community charts.
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "agentauth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The fully qualified app name, or fullnameOverride. Kubernetes names are at most 63 characters;
a release already named after the chart is not repeated.
*/}}
{{- define "agentauth.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Chart name and version, for the helm.sh/chart label. */}}
{{- define "agentauth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The namespace of every object: the release's, or namespaceOverride. */}}
{{- define "agentauth.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "agentauth.labels" -}}
helm.sh/chart: {{ include "agentauth.chart" . }}
{{ include "agentauth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agentauth
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The labels that select the pods; they never change after the first install. */}}
{{- define "agentauth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "agentauth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The ServiceAccount the pods run as. */}}
{{- define "agentauth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "agentauth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image reference: registry/repository:tag, or @digest when one is given. */}}
{{- define "agentauth.image" -}}
{{- $repository := .Values.image.repository }}
{{- if .Values.image.registry }}
{{- $repository = printf "%s/%s" .Values.image.registry .Values.image.repository }}
{{- end }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The Secret the chart creates for clients with clientSecret set. */}}
{{- define "agentauth.secretName" -}}
{{- printf "%s-clients" (include "agentauth.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* True (non-empty) when any client takes its secret from the chart's own Secret. */}}
{{- define "agentauth.createsSecret" -}}
{{- range .Values.clients }}{{ if not .existingSecret }}true{{ end }}{{ end }}
{{- end }}

{{/* Where the client secret files are mounted in the container (read-only). */}}
{{- define "agentauth.secretsDir" -}}
{{- .Values.secretsMountPath | trimSuffix "/" }}
{{- end }}

{{/* Where the pod's own service-account token and CA are, for caller authentication. */}}
{{- define "agentauth.serviceAccountDir" -}}
/var/run/secrets/kubernetes.io/serviceaccount
{{- end }}

{{/*
Names of the clients without allowedCallers, joined by ", ", when the daemon listens beyond
loopback; empty otherwise. agentauthd refuses to start (and --check-config refuses) in that case
unless --insecure-allow-any-caller: the same rule as CheckNoClientOpenBeyondLoopback in
server/callers/caller_policy.cc, so the install fails instead of the pod crash-looping.
*/}}
{{- define "agentauth.openClients" -}}
{{- $addresses := list (printf "%s:%d" .Values.ports.bindAddress (int .Values.ports.grpc)) }}
{{- with .Values.config.listeners }}
{{- $addresses = list }}
{{- range . }}{{ $addresses = append $addresses .address }}{{ end }}
{{- end }}
{{- $exposed := false }}
{{- range $addresses }}
{{- $host := regexReplaceAll ":[^:]*$" . "" | trimPrefix "[" | trimSuffix "]" | lower }}
{{- $local := or (hasPrefix "unix:" .) (eq $host "localhost" "::1") (hasPrefix "127." $host) }}
{{- if not $local }}{{ $exposed = true }}{{ end }}
{{- end }}
{{- $open := list }}
{{- range .Values.clients }}{{ if not .allowedCallers }}{{ $open = append $open .name }}{{ end }}{{ end }}
{{- if $exposed }}{{ join ", " $open }}{{ end }}
{{- end }}

{{/*
Fails the render for a caller policy the daemon could not enforce: clients open to any pod while
daemon.insecureAllowAnyCaller is false, or serviceaccount: callers without callerAuth.kubernetes
(no call could prove such an identity, so the client would refuse everyone).
*/}}
{{- define "agentauth.checkCallerPolicy" -}}
{{- $open := include "agentauth.openClients" . }}
{{- if and $open (not .Values.daemon.insecureAllowAnyCaller) }}
{{- fail (printf "client(s) %s have no allowedCallers while the daemon listens beyond loopback: any pod that reaches the gRPC port would get their tokens, and agentauthd would refuse to start. Give each of them allowedCallers, e.g. [\"serviceaccount:<namespace>/<name>\"] with callerAuth.kubernetes.enabled=true, or set daemon.insecureAllowAnyCaller=true to allow any caller, knowingly" $open) }}
{{- end }}
{{- if not .Values.callerAuth.kubernetes.enabled }}
{{- range .Values.clients }}
{{- $client := .name }}
{{- range .allowedCallers }}
{{- $pattern := kindIs "string" . | ternary . (get (kindIs "map" . | ternary . dict) "caller") }}
{{- if hasPrefix "serviceaccount:" (toString $pattern) }}
{{- fail (printf "client %s allows caller %s, but callerAuth.kubernetes.enabled is false, so no call can prove a service-account identity: enable callerAuth.kubernetes" $client $pattern) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
