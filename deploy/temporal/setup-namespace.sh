#!/bin/sh
# One-shot (admin-tools image), once the frontend answers: the namespace and Accord's
# search attributes (workflows/search.py). Idempotent: only what is missing is created.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${TEMPORAL_NAMESPACE:?}" "${ACCORD_SEARCH_ATTRIBUTES:?}"
export TEMPORAL_ADDRESS

# Retries a command every 2 s for at most 2 minutes: the port opens before the cluster
# serves requests, and a new namespace is known to every service only after its cache
# refreshes (about 10 s).
retry() {
  tries=0
  until "$@" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "gave up after 120 s: $*" >&2
      "$@"
      exit 1
    fi
    sleep 2
  done
}

retry temporal operator cluster health

if temporal operator namespace describe --namespace "$TEMPORAL_NAMESPACE" >/dev/null 2>&1; then
  echo "namespace $TEMPORAL_NAMESPACE exists"
else
  temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE" \
    --retention "${TEMPORAL_NAMESPACE_RETENTION:-720h}" \
    --description "Accord cooperation processes"
fi

retry temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE"
existing=$(temporal operator search-attribute list --namespace "$TEMPORAL_NAMESPACE")
for pair in $ACCORD_SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  if printf '%s\n' "$existing" | grep -qw "$name"; then
    echo "search attribute $name exists"
  else
    temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE" \
      --name "$name" --type "$type"
  fi
done
echo "namespace $TEMPORAL_NAMESPACE is ready"
