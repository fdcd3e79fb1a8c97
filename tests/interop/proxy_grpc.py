"""gRPC through loom serve --proxy (tests/interop/serve_proxy.py), with
grpcio on both sides and no generated code (raw bytes methods):

    proxy_grpc.py server PORT          h2c; prints "ready"
    proxy_grpc.py client HOST:PORT CERT   over TLS; prints one JSON line

/loom.Echo/Unary reverses the request; /loom.Echo/Fail aborts with
INVALID_ARGUMENT and a details text (carried in the trailers); /loom.Echo/Chat
is bidirectional streaming: each message comes back upper-cased, in order."""
import json
import sys
import time
from concurrent import futures

import grpc


def unary(req, ctx):
    return req[::-1]


def fail(req, ctx):
    ctx.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad input: " + req.decode())


def chat(it, ctx):
    for m in it:
        yield m.upper()


def server(port):
    s = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "Fail": grpc.unary_unary_rpc_method_handler(fail),
        "Chat": grpc.stream_stream_rpc_method_handler(chat),
    }
    s.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("loom.Echo", handlers),))
    s.add_insecure_port("127.0.0.1:%d" % port)
    s.start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


def client(target, cert):
    creds = grpc.ssl_channel_credentials(root_certificates=open(cert, "rb").read())
    ch = grpc.secure_channel(target, creds,
                             options=(("grpc.ssl_target_name_override", "localhost"),))
    out = {}
    out["unary"] = ch.unary_unary("/loom.Echo/Unary")(b"hello grpc", timeout=10).decode()
    try:
        ch.unary_unary("/loom.Echo/Fail")(b"x1", timeout=10)
        out["fail"] = "no error"
    except grpc.RpcError as e:
        out["fail"] = [e.code().name, e.details()]
    msgs = [b"one", b"two", b"three", b"x" * 100000]
    got = ch.stream_stream("/loom.Echo/Chat")(iter(msgs), timeout=10)
    out["chat"] = [m.decode()[:10] + ("+%d" % len(m) if len(m) > 10 else "") for m in got]
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(sys.argv[2], sys.argv[3])
