#!/usr/bin/env bash
# Throwaway CA and server certificate for the brokers' TLS listeners (tests only).
#
#   bash scripts/brokers/tls.sh [--force]
#
# Writes to .brokers/tls/: ca.pem, ca.key, server.pem, server.key (SAN 127.0.0.1, ::1,
# localhost), client.pem, client.key (for mutual-TLS tests). Re-running keeps existing files
# unless --force is given. Nothing here is secret: the CA is trusted by no one but our tests.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TLS_DIR="${CONTRACTBUS_BROKERS_DIR:-$REPO_ROOT/.brokers}/tls"
DAYS="${TLS_DAYS:-825}"

if [[ ${1:-} != --force && -s "$TLS_DIR/server.pem" && -s "$TLS_DIR/client.pem" ]]; then
  echo "[brokers:tls] certificates already in $TLS_DIR (use --force to regenerate)"
  exit 0
fi
command -v openssl >/dev/null || { echo "[brokers:tls] ERROR: openssl not found (apt-get install -y openssl)" >&2; exit 1; }

mkdir -p "$TLS_DIR"
cd "$TLS_DIR"
rm -f ./*.pem ./*.key ./*.csr ./*.srl ./*.ext

# EC P-256: generated in milliseconds; every TLS stack in use (OpenSSL, Erlang, Java) accepts it.
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days "$DAYS" -subj "/CN=contractbus test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem

issue() {
  local name="$1" cn="$2" ext="$3"
  openssl ecparam -name prime256v1 -genkey -noout -out "$name.key" 2>/dev/null
  # PKCS#8: Erlang's ssl and Java read it without extra flags.
  openssl pkcs8 -topk8 -nocrypt -in "$name.key" -out "$name.key.p8"
  mv -f "$name.key.p8" "$name.key"
  openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$name.csr"
  printf '%s\n' "$ext" >"$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$DAYS" -sha256 \
    -extfile "$name.ext" -out "$name.pem" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

issue server localhost "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost"
issue client contractbus-test-client "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"

chmod 600 ./*.key
rm -f ca.srl
echo "[brokers:tls] wrote CA and server/client certificates to $TLS_DIR"
