"""A small HTTP/2 server on Python's h2 (Debian python3-h2) over TLS with
ALPN h2, for tests/interop/get_coalesce.py. Right after its SETTINGS it
writes a raw ORIGIN frame (RFC 8336: type 0xc, stream 0, flags 0, payload of
2-octet length + ASCII origin entries), which h2 itself does not know, as
bytes next to conn.data_to_send().

    /usr/bin/python3 get_origin_server.py PORT CERT KEY [ORIGIN ...]

No ORIGIN argument: no ORIGIN frame. "-" as the only one: an empty ORIGIN
frame. Prints "ready", then "conn N sni=NAME" per TLS connection and
"req N AUTHORITY PATH" per request. GET answers "AUTHORITY PATH\\n"; POST
answers the sha256 and length of the body as JSON. Stops on SIGTERM."""
import hashlib
import json
import signal
import socket
import ssl
import struct
import sys
import threading

import h2.config
import h2.connection
import h2.events

port, certfile, keyfile = int(sys.argv[1]), sys.argv[2], sys.argv[3]
origins = sys.argv[4:]
lock = threading.Lock()
count = [0]


def say(line):
    with lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def origin_frame(entries):
    payload = b"".join(struct.pack(">H", len(o)) + o.encode() for o in entries)
    return struct.pack(">I", len(payload))[1:] + bytes([0x0c, 0]) + struct.pack(">I", 0) + payload


def serve(sock, n, sni):
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    out = conn.data_to_send()
    if origins:
        out += origin_frame([] if origins == ["-"] else origins)
    sock.sendall(out)
    reqs, bodies = {}, {}
    sock.settimeout(30)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.RequestReceived):
                    h = dict(ev.headers)
                    reqs[ev.stream_id] = h
                    bodies[ev.stream_id] = hashlib.sha256(), [0]
                    say("req %d %s %s" % (n, h.get(":authority"), h.get(":path")))
                elif isinstance(ev, h2.events.DataReceived):
                    hs, ln = bodies[ev.stream_id]
                    hs.update(ev.data)
                    ln[0] += len(ev.data)
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    h = reqs.get(ev.stream_id, {})
                    if h.get(":method") == "POST":
                        hs, ln = bodies[ev.stream_id]
                        body = json.dumps({"sha256": hs.hexdigest(), "length": ln[0]}).encode()
                    else:
                        body = ("%s %s\n" % (h.get(":authority"), h.get(":path"))).encode()
                    conn.send_headers(ev.stream_id, [(":status", "200"),
                                                     ("content-length", str(len(body))),
                                                     ("content-type", "text/plain")])
                    conn.send_data(ev.stream_id, body, end_stream=True)
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    sock.sendall(conn.data_to_send())
                    return
            sock.sendall(conn.data_to_send())
    except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
        pass
    finally:
        sock.close()


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    ctx.set_alpn_protocols(["h2"])
    names = {}

    def sni_cb(s, name, c):
        names[id(s)] = name

    ctx.sni_callback = sni_cb
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(16)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    say("ready")
    while True:
        raw, _ = lsock.accept()
        try:
            raw.settimeout(10)
            s = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError):
            raw.close()
            continue
        count[0] += 1
        say("conn %d sni=%s alpn=%s" % (count[0], names.pop(id(s), None),
                                        s.selected_alpn_protocol()))
        threading.Thread(target=serve, args=(s, count[0], None), daemon=True).start()


if __name__ == "__main__":
    main()
