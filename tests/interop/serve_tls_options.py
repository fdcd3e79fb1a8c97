"""loom serve's TLS settings, checked with the openssl command line and curl:

- --ticket-keys: two instances sharing the keys file resume each other's
  sessions (openssl s_client -sess_out on one, -sess_in on the other:
  "Reused"), a third with other keys does not ("New"); after SIGHUP with
  a new first key, old tickets are still taken while their key is listed,
  and no longer once it is gone;
- --tls-min 1.3: a TLS 1.2 client is refused, a TLS 1.3 one served;
- --tls12-ciphers: the TLS 1.2 cipher chosen is one of the list;
- --key-pass-file: an encrypted private key is read with it (a wrong one
  is exit 3);
- --client-ca: a client without a certificate is refused, one with a
  certificate the CA signed is served;
- --ocsp: the OCSP response is stapled (openssl s_client -status).

Every process started here and stopped by PID."""
import os
import shutil
import signal
import subprocess
import time

from serve_common import Server, check, main, make_site, make_tmp, run


def openssl(*args, cwd=None):
    return run(["openssl"] + list(args), timeout=60, check_rc=0, cwd=cwd)


def s_client(port, *args, request=True):
    data = b"GET /a.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" if request else b""
    # -ign_eof: read the answer to its end (the server closes), not stop at stdin's
    p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-alpn",
                        "http/1.1"] + (["-ign_eof"] if request else []) + list(args),
                       input=data, capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode(errors="replace") + p.stderr.decode(errors="replace")


def pki(tmp):
    """A CA, a server certificate it signed, a client certificate it signed, an
    encrypted copy of the server key, and an OCSP response for the server's."""
    d = os.path.join(tmp, "pki")
    os.makedirs(d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=loom test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature", cwd=d)
    for name in ("server", "client"):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
        ext = os.path.join(d, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n" if name == "server" else
                    "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", ext, cwd=d)
    with open(os.path.join(d, "pass.txt"), "w") as f:
        f.write("correct horse\n")
    with open(os.path.join(d, "wrong.txt"), "w") as f:
        f.write("wrong\n")
    openssl("pkey", "-in", "server.key", "-aes256", "-passout", "pass:correct horse", "-out",
            "server-enc.key", cwd=d)
    # an OCSP responder's answer for the server certificate (the CA signs it)
    serial = openssl("x509", "-in", "server.pem", "-noout", "-serial", cwd=d).stdout.decode()
    serial = serial.strip().split("=")[1]
    with open(os.path.join(d, "index.txt"), "w") as f:
        f.write("V\t301231235959Z\t\t%s\tunknown\t/CN=server\n" % serial)
    openssl("ocsp", "-issuer", "ca.pem", "-cert", "server.pem", "-reqout", "req.der", "-no_nonce",
            cwd=d)
    openssl("ocsp", "-index", "index.txt", "-rsigner", "ca.pem", "-rkey", "ca.key", "-CA",
            "ca.pem", "-reqin", "req.der", "-respout", "resp.der", "-ndays", "1", cwd=d)
    return d


def tickets(loom, site, tmp, d):
    keys, other = os.path.join(tmp, "keys.bin"), os.path.join(tmp, "other.bin")
    with open(keys, "wb") as f:
        f.write(os.urandom(80))
    with open(other, "wb") as f:
        f.write(os.urandom(80))
    sess = os.path.join(tmp, "sess.pem")
    cert = ["--cert", os.path.join(d, "server.pem"), "--key", os.path.join(d, "server.key")]
    with Server(loom, site=site, extra=cert + ["--ticket-keys", keys]) as a, \
            Server(loom, site=site, extra=cert + ["--ticket-keys", keys]) as b, \
            Server(loom, site=site, extra=cert + ["--ticket-keys", other]) as c:
        rc, out = s_client(a.https_port, "-sess_out", sess)
        check(rc == 0 and "HTTP/1.1 200" in out and os.path.getsize(sess) > 0,
              "a session from the first instance: %s" % out[-1500:])
        for srv, want in ((b, "Reused"), (c, "New"), (a, "Reused")):
            rc, out = s_client(srv.https_port, "-sess_in", sess, request=False)
            check(("%s, TLSv1.3" % want) in out, "%s on instance %d: %s" %
                  (want, srv.https_port, out[-1200:]))
        print("ticket keys: the other instance resumes (Reused), one with other keys does not")
        # rotation: a new first key, the old one second: old tickets still taken
        old = open(keys, "rb").read()
        with open(keys, "wb") as f:
            f.write(os.urandom(80) + old)
        os.kill(b.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        rc, out = s_client(b.https_port, "-sess_in", sess, request=False)
        check("Reused, TLSv1.3" in out, "after rotation, the old key still decrypts: %s" %
              out[-800:])
        with open(keys, "wb") as f:
            f.write(os.urandom(80))
        os.kill(b.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        rc, out = s_client(b.https_port, "-sess_in", sess, request=False)
        check("New, TLSv1.3" in out, "once the old key is gone, a full handshake: %s" % out[-800:])
        print("ticket keys rotated on SIGHUP: old tickets taken while their key is listed")


def versions_and_keys(loom, site, tmp, d):
    cert = ["--cert", os.path.join(d, "server.pem")]
    with Server(loom, site=site, extra=cert + ["--key", os.path.join(d, "server.key"),
                                               "--tls-min", "1.3"]) as s:
        rc12, out12 = s_client(s.https_port, "-tls1_2")
        rc13, out13 = s_client(s.https_port, "-tls1_3")
        check(rc12 != 0 and "HTTP/1.1 200" not in out12, "TLS 1.2 refused: %s" % out12[-800:])
        check("HTTP/1.1 200" in out13, "TLS 1.3 served: %s" % out13[-800:])
    with Server(loom, site=site, extra=cert + ["--key", os.path.join(d, "server.key"),
                                               "--tls12-ciphers", "ECDHE-ECDSA-CHACHA20-POLY1305"]) as s:
        rc, out = s_client(s.https_port, "-tls1_2")
        check("HTTP/1.1 200" in out and "ECDHE-ECDSA-CHACHA20-POLY1305" in out,
              "the listed TLS 1.2 cipher: %s" % out[-1200:])
    print("--tls-min 1.3 refuses TLS 1.2; --tls12-ciphers picks from the list")
    enc = ["--key", os.path.join(d, "server-enc.key")]
    with Server(loom, site=site, extra=cert + enc + ["--key-pass-file",
                                                     os.path.join(d, "pass.txt")]) as s:
        p = run(["curl", "-s", "--cacert", os.path.join(d, "ca.pem"), "-o", "/dev/null", "-w",
                 "%{http_code}", s.https + "/a.txt"], timeout=20)
        check(p.stdout == b"200", "an encrypted key with its passphrase: %r" % p.stdout)
    p = run([loom, "serve", site, "--https", "127.0.0.1:0"] + cert + enc +
            ["--key-pass-file", os.path.join(d, "wrong.txt")], timeout=20,
            stdin=subprocess.DEVNULL)
    check(p.returncode == 3 and b"private key" in p.stderr, "a wrong passphrase: %d %r" %
          (p.returncode, p.stderr))
    print("--key-pass-file: the encrypted key read; a wrong passphrase is exit 3")


def client_certs_and_ocsp(loom, site, d):
    extra = ["--cert", os.path.join(d, "server.pem"), "--key", os.path.join(d, "server.key"),
             "--client-ca", os.path.join(d, "ca.pem"), "--ocsp", os.path.join(d, "resp.der")]
    with Server(loom, site=site, extra=extra) as s:
        url = s.https + "/a.txt"
        ca = ["--cacert", os.path.join(d, "ca.pem")]
        p = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"] + ca + [url], timeout=20)
        check(p.returncode != 0 and p.stdout != b"200", "no client certificate: refused (%d %r)" %
              (p.returncode, p.stdout))
        p = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cert",
                 os.path.join(d, "client.pem"), "--key", os.path.join(d, "client.key")] + ca +
                [url], timeout=20)
        check(p.stdout == b"200", "a client certificate the CA signed: %r" % p.stdout)
        rc, out = s_client(s.https_port, "-status", "-cert", os.path.join(d, "client.pem"),
                           "-key", os.path.join(d, "client.key"))
        check("OCSP Response Status: successful" in out and "Cert Status: good" in out,
              "the OCSP response stapled: %s" % out[:2500])
    print("--client-ca: no certificate refused, a signed one served; --ocsp stapled")


def test(argv):
    loom = argv[0]
    tmp = make_tmp("tlsopts")
    try:
        site = make_site(tmp)
        d = pki(tmp)
        tickets(loom, site, tmp, d)
        versions_and_keys(loom, site, tmp, d)
        client_certs_and_ocsp(loom, site, d)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(test)
