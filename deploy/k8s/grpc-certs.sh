#!/usr/bin/env bash
# Issues the gRPC certificates the manifests mount from the Secret `nova-grpc-tls` (docs/OPERATIONS.md,
# "Deploying on Kubernetes"), one directory of PEM files whose names are the Secret's keys:
#
#   ca.crt                       the CA every service trusts (servers check clients with it, clients servers)
#   <service>-server.crt / .key  server certificate: SAN <service>.<ns>.svc.cluster.local (the GRPC_ADDR_<SVC>
#                                host), <service>.<ns>.svc, <service>.<ns>, <service>; serverAuth
#   <service>.crt / .key         client certificate (mTLS identity): CN <service>, SAN <service>.nova.internal;
#                                clientAuth (what the per-method allow lists check)
#
#   deploy/k8s/grpc-certs.sh OUT_DIR [NAMESPACE]
#   kubectl -n nova create secret generic nova-grpc-tls --from-file=OUT_DIR
#
# With an existing CA, put ca.crt and ca.key in OUT_DIR first: they are reused, not replaced. The CA key is
# not needed by the cluster: keep it out of the Secret (this script leaves it in OUT_DIR/private/).
set -euo pipefail

out=${1:?usage: grpc-certs.sh OUT_DIR [NAMESPACE]}
ns=${2:-nova}
days=${NOVA_CERT_DAYS:-397}
services=(auth user content feed media video streaming messaging search notification cdn events)

command -v openssl >/dev/null || { echo "grpc-certs.sh: openssl is required" >&2; exit 1; }
mkdir -p "$out/private"
chmod 700 "$out/private"
umask 077

if [[ -f "$out/ca.key" ]]; then mv "$out/ca.key" "$out/private/ca.key"; fi
if [[ ! -f "$out/private/ca.key" ]]; then
  openssl req -x509 -newkey rsa:3072 -sha256 -nodes -days 3650 \
    -keyout "$out/private/ca.key" -out "$out/ca.crt" -subj "/O=Nova/CN=Nova gRPC CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
fi

issue() { # name cn san eku
  local name=$1 cn=$2 san=$3 eku=$4 ext
  ext=$(mktemp)
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=%s\nsubjectAltName=%s\n' "$eku" "$san" >"$ext"
  openssl req -newkey rsa:2048 -sha256 -nodes -keyout "$out/$name.key" -out "$out/private/$name.csr" -subj "/O=Nova/CN=$cn" 2>/dev/null
  openssl x509 -req -in "$out/private/$name.csr" -CA "$out/ca.crt" -CAkey "$out/private/ca.key" -CAserial "$out/private/ca.srl" -CAcreateserial \
    -days "$days" -sha256 -extfile "$ext" -out "$out/$name.crt" 2>/dev/null
  rm -f "$ext" "$out/private/$name.csr"
}

for s in "${services[@]}"; do
  issue "$s-server" "$s.$ns.svc.cluster.local" "DNS:$s.$ns.svc.cluster.local,DNS:$s.$ns.svc,DNS:$s.$ns,DNS:$s" serverAuth
  issue "$s" "$s" "DNS:$s.nova.internal" clientAuth
done
chmod 644 "$out"/*.crt
echo "certificates for ${#services[@]} services in $out (CA key: $out/private/ca.key, not for the Secret)"
echo "kubectl -n $ns create secret generic nova-grpc-tls --from-file=$out"
