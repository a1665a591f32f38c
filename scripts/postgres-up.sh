#!/usr/bin/env bash
# Makes sure the PostgreSQL server of URL ($1) answers; starts the local cluster if it does not.
set -euo pipefail
url="${1:?usage: postgres-up.sh URL}"
if psql -q -X "$url" -c 'SELECT 1' >/dev/null 2>&1; then
  exit 0
fi
version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)"
if [ -z "$version" ]; then
  echo "PostgreSQL does not answer at $url and no local cluster is installed (/etc/postgresql)" >&2
  exit 1
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 60); do
  if psql -q -X "$url" -c 'SELECT 1' >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "PostgreSQL did not come up at $url" >&2
exit 1
