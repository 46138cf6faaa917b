#!/usr/bin/env bash
# The local control plane's certificates and keys, made with openssl into DIR (up.sh calls
# this with STATE_DIR/pki). Kept when DIR already holds a complete set, so kubeconfigs
# handed out earlier stay valid across down/up.
#
#   hack/cluster/pki.sh DIR SERVICE_IP
#
# ca              signs every serving and client certificate below (clients trust it)
# apiserver       serving: 127.0.0.1, localhost, kubernetes, kubernetes.default(.svc(.cluster.local)), SERVICE_IP
# admin           client, O=system:masters (the kubeconfig up.sh writes)
# controller-manager, scheduler   clients, the identities the bootstrap RBAC policy knows
# kwok            client for KWOK's controller (O=system:masters: it plays every kubelet),
# kwok-serving    and the serving certificate of its emulated kubelet endpoint (127.0.0.1)
# metrics-server  serving (metrics-server.kube-system.svc, as the aggregator checks it),
# metrics-server-client   client, CN=system:metrics-server
# front-proxy-ca, front-proxy-client   what the aggregator presents to metrics-server
# sa.key, sa.pub  the ServiceAccount token signing key pair (TokenRequest, legacy tokens)
set -euo pipefail

dir=${1:?usage: pki.sh DIR SERVICE_IP}
service_ip=${2:?usage: pki.sh DIR SERVICE_IP}
[[ -f $dir/.complete ]] && exit 0
mkdir -p "$dir"
cd "$dir"
umask 077

# EC P-256 keys: generated in milliseconds (RSA takes a noticeable share of a 2-core
# machine's start-up) and accepted by Go's TLS stack and rustls alike; PKCS#8 so every
# client library reads them.
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }

new_ca() { # name common-name
  new_key "$1"
  openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 3650 -out "$1.crt" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
}

new_cert() { # name subject ca usage(serverAuth|clientAuth) [subjectAltName]
  local name=$1 subject=$2 ca=$3 usage=$4 san=${5:-}
  new_key "$name"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$usage"
    [[ -z $san ]] || echo "subjectAltName=$san"
  } >"$name.ext"
  openssl req -new -key "$name.key" -subj "$subject" 2>/dev/null |
    openssl x509 -req -CA "$ca.crt" -CAkey "$ca.key" -set_serial "0x$(openssl rand -hex 16)" \
      -days 825 -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.ext"
}

new_ca ca redline-local-ca
new_ca front-proxy-ca redline-local-front-proxy-ca

new_cert apiserver /CN=kube-apiserver ca serverAuth \
  "IP:127.0.0.1,IP:$service_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
new_cert admin "/O=system:masters/CN=redline-admin" ca clientAuth
new_cert controller-manager /CN=system:kube-controller-manager ca clientAuth
new_cert scheduler /CN=system:kube-scheduler ca clientAuth
new_cert kwok "/O=system:masters/CN=system:kwok-controller" ca clientAuth
new_cert kwok-serving /CN=kwok-kubelet ca serverAuth "IP:127.0.0.1,DNS:localhost"
new_cert metrics-server /CN=metrics-server ca serverAuth \
  "DNS:metrics-server.kube-system.svc,IP:127.0.0.1,DNS:localhost"
new_cert metrics-server-client /CN=system:metrics-server ca clientAuth
new_cert front-proxy-client /CN=front-proxy-client front-proxy-ca clientAuth

# RSA for the token signing key, as kubeadm makes it: RS256 is what every token verifier
# accepts.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null

# Public halves are not secret; the rest stays 0600.
chmod 0644 ./*.crt sa.pub
touch .complete
