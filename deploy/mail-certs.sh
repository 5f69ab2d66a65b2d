#!/bin/sh
# Makes a private certificate authority and a certificate for one mail host, for STARTTLS between
# beefirst and Mailpit in docker-compose.yml (and in the tests):
#   mail-certs.sh DIR HOST  ->  DIR/ca.pem, DIR/server.pem, DIR/server.key
# beefirst trusts DIR/ca.pem (SMTP_CA_FILE); Mailpit serves server.pem and server.key. Existing
# files are kept while the certificate has 30 days left, so a restart does not change it under a
# running service; after that all three are made again.
set -eu
dir=$1
host=$2
if [ -s "$dir/server.key" ] && [ -s "$dir/ca.pem" ] && [ -s "$dir/server.pem" ] \
    && openssl x509 -checkend 2592000 -noout -in "$dir/server.pem" >/dev/null; then
  exit 0
fi
mkdir -p "$dir"
cd "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=beefirst mail CA" -keyout ca.key -out ca.pem \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=$host" -keyout server.key -out server.csr
printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:%s\n' "$host" > server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile server.ext -out server.pem
rm -f ca.key server.csr server.ext ca.srl
# Mailpit runs as another user than the one that made the files, so all three are readable: this
# is a development certificate, in a volume only the two containers mount.
chmod 644 ca.pem server.pem server.key
