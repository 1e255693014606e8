#!/usr/bin/env bash
# Make a throwaway PKI in DIR for running egress without bottle-host:
#
#   scripts/make-demo-pki.sh DIR
#
#   DIR/ca.crt, ca.key                the bottle CA egress mints leaves with
#                                     (EC P-256, as bottle-host makes it)
#   DIR/origin-ca.crt, origin-ca.key  a CA for a local stand-in origin
#   DIR/origin.crt, origin.key        its leaf for localhost
#
# Used by the image tests.  ca.key is left readable (0644) so
# the image's unprivileged sidecar user can read it from a mount; bottle-host
# mounts a real bottle's key for egress alone.
set -euo pipefail
dir=${1:?usage: make-demo-pki.sh DIR}
cd "$dir"
quiet() { openssl "$@" 2>/dev/null; }
for ca in ca origin-ca; do
	quiet req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$ca.key" -out "$ca.crt" -subj "/CN=bottle demo $ca" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign"
done
quiet req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout origin.key -out origin.csr -subj "/CN=localhost"
printf 'subjectAltName=DNS:localhost\n' >origin.ext
quiet x509 -req -in origin.csr -CA origin-ca.crt -CAkey origin-ca.key \
	-CAcreateserial -days 2 -out origin.crt -extfile origin.ext
rm -f origin.csr origin.ext origin-ca.srl
chmod 0644 ca.key
