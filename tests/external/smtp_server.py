#!/usr/bin/env python3
"""A real SMTP server for the tests (aiosmtpd, from PyPI), on loopback.

  smtp_server.py certs DIR
      writes ca.pem, server.pem/server.key (for localhost and 127.0.0.1, signed by ca.pem) and
      wrong.pem/wrong.key (for wrong.example, signed by the same CA) into DIR.
  smtp_server.py serve --mode plain|starttls|tls [--certs DIR] [--wrong-cert] [--auth USER:PASS]
                       [--auth-only LOGIN|PLAIN] [--replies 421,550,...] [--stall] [--smtputf8]
      prints `listening PORT`, then one JSON line per message accepted: envelope, headers, and the
      text and HTML parts as Python's email package parses them. --replies answers the DATA of the
      first messages with those codes (then 250); --stall never answers DATA.
"""
import argparse, asyncio, datetime, json, os, ssl, sys, time
from email import policy
from email.parser import BytesParser


def make_certs(directory):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    def write(path, data):
        with open(os.path.join(directory, path), "wb") as f:
            f.write(data)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("beefirst test CA")).issuer_name(name("beefirst test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    write("ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    for stem, names in (("server", ["localhost", "127.0.0.1"]), ("wrong", ["wrong.example"])):
        key = ec.generate_private_key(ec.SECP256R1())
        alt = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n) for n in names]
        cert = (x509.CertificateBuilder().subject_name(name(names[0])).issuer_name(ca.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=30))
                .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                .sign(ca_key, hashes.SHA256()))
        write(f"{stem}.pem", cert.public_bytes(serialization.Encoding.PEM))
        write(f"{stem}.key", key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))


class Handler:
    def __init__(self, replies, stall, implicit_tls):
        self.replies, self.stall, self.implicit_tls = list(replies), stall, implicit_tls

    async def handle_DATA(self, server, session, envelope):
        if self.stall:
            await asyncio.sleep(3600)
        if self.replies:
            code = self.replies.pop(0)
            if code != 250:
                text = "try again later" if code < 500 else "no such mailbox here"
                print(json.dumps({"refused": code}), flush=True)
                return f"{code} {code // 100}.0.0 {text}"
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        print(json.dumps({
            "mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
            "auth": getattr(session, "authenticated", False),
            "tls": self.implicit_tls or session.ssl is not None,
            "headers": {k.lower(): str(v) for k, v in message.items()},
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
        }), flush=True)
        return "250 2.0.0 accepted"


def serve(args):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
    context = None
    if args.mode != "plain":
        stem = "wrong" if args.wrong_cert else "server"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(os.path.join(args.certs, f"{stem}.pem"), os.path.join(args.certs, f"{stem}.key"))
    kwargs = {}
    if args.auth:
        user, password = args.auth.split(":", 1)
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login.decode() == user and auth_data.password.decode() == password
            return AuthResult(success=ok)
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=args.mode != "plain")
        if args.auth_only:  # offer one mechanism: the client must speak that one
            kwargs.update(auth_exclude_mechanism=[m for m in ("LOGIN", "PLAIN") if m != args.auth_only])
    if args.mode == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)
    elif args.mode == "tls":
        kwargs.update(ssl_context=context)
    replies = [int(c) for c in args.replies.split(",") if c] if args.replies else []
    import socket
    with socket.socket() as probe:  # a free port (the controller cannot take 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(replies, args.stall, args.mode == "tls"), hostname="127.0.0.1", port=port,
                            server_hostname="localhost", enable_SMTPUTF8=args.smtputf8, **kwargs)
    controller.start()
    print(f"listening {controller.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    certs = sub.add_parser("certs")
    certs.add_argument("dir")
    run = sub.add_parser("serve")
    run.add_argument("--mode", choices=["plain", "starttls", "tls"], default="plain")
    run.add_argument("--certs")
    run.add_argument("--wrong-cert", action="store_true")
    run.add_argument("--auth")
    run.add_argument("--auth-only", choices=["LOGIN", "PLAIN"])
    run.add_argument("--replies")
    run.add_argument("--stall", action="store_true")
    run.add_argument("--smtputf8", action="store_true")
    args = parser.parse_args()
    if args.command == "certs":
        make_certs(args.dir)
    else:
        serve(args)


if __name__ == "__main__":
    main()
