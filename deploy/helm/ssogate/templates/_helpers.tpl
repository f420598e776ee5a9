{{- define "ssogate.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ssogate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "ssogate.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ssogate.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "ssogate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "ssogate.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "ssogate.adminTokenSecret" -}}
{{- default (printf "%s-admin" (include "ssogate.fullname" .)) .Values.adminToken.existingSecret -}}
{{- end -}}

{{- define "ssogate.redisPasswordSecret" -}}
{{- default (printf "%s-redis" (include "ssogate.fullname" .)) .Values.redis.password.existingSecret -}}
{{- end -}}

{{- define "ssogate.adminScheme" -}}
{{- if .Values.adminTls.secretName -}}HTTPS{{- else -}}HTTP{{- end -}}
{{- end -}}

{{/* The ssogate.yaml the pods read: the chart's keys over config. */}}
{{- define "ssogate.config" -}}
{{- $mode := .Values.redis.mode -}}
{{- if not (has $mode (list "standalone" "sentinel" "cluster")) -}}
{{- fail (printf "redis.mode must be standalone, sentinel or cluster, got %q" $mode) -}}
{{- end -}}
{{- if not .Values.redis.addrs -}}
{{- fail "redis.addrs: at least one address is required" -}}
{{- end -}}
{{- if and (eq $mode "sentinel") (not .Values.redis.masterName) -}}
{{- fail "redis.masterName is required when redis.mode is sentinel" -}}
{{- end -}}
{{- if and (eq $mode "standalone") (gt (len .Values.redis.addrs) 1) -}}
{{- fail "redis.mode standalone takes one address in redis.addrs (several are a Redis Cluster: mode cluster)" -}}
{{- end -}}
{{- if and (eq $mode "cluster") (ne (int .Values.redis.db) 0) -}}
{{- fail "redis.db must be 0 when redis.mode is cluster" -}}
{{- end -}}
{{- $store := dict "driver" "redis" "redis_addrs" .Values.redis.addrs "redis_prefix" .Values.redis.prefix "redis_db" (int .Values.redis.db) -}}
{{- if eq $mode "sentinel" -}}
{{- $_ := set $store "redis_master" .Values.redis.masterName -}}
{{- end -}}
{{- $chart := dict "listen" ":9000" "admin_listen" ":9001" "store" $store -}}
{{- if .Values.clusters -}}
{{- $_ := set $chart "clusters" .Values.clusters -}}
{{- end -}}
{{- if .Values.tls.secretName -}}
{{- $_ := set $chart "tls" (dict "cert_file" "/etc/ssogate/tls/tls.crt" "key_file" "/etc/ssogate/tls/tls.key") -}}
{{- end -}}
{{- if .Values.adminTls.secretName -}}
{{- $_ := set $chart "admin_tls" (dict "cert_file" "/etc/ssogate/admin-tls/tls.crt" "key_file" "/etc/ssogate/admin-tls/tls.key") -}}
{{- end -}}
{{- $extra := omit (deepCopy .Values.config) "listen" "admin_listen" "store" "admin_token" -}}
{{- toYaml (merge $chart $extra) -}}
{{- end -}}
