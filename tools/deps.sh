#!/bin/sh
# Installs the Debian 12 packages loom needs that are not installed yet.
#   tools/deps.sh build   what `make run` needs (compile and run loom)
#   tools/deps.sh test    that, plus what `make test` needs (test peers, tools)
#   tools/deps.sh fuzz    what `make fuzz` needs (the same as test)
#   tools/deps.sh bench   that of test, plus what `make bench-hpack` needs
# Only absent packages are installed; nothing is upgraded.
set -eu

# package            why
BUILD="
gcc                  C11 compiler (release build)
make                 the top-level Makefile
cmake                the build system
ninja-build          the build backend
python3              makes the man pages from the --help texts (tools/man.py)
pkg-config           finds cmocka, jansson, libnghttp2 and OpenSSL
libjansson-dev       JSON for the loom hpack command (hpack-test-case stories), program only: libloom stays libc-only
libssl-dev           TLS with ALPN for loom serve and loom get (OpenSSL 3), program only
libhttp-parser-dev   HTTP/1.1 requests for loom serve (fallback and Upgrade to h2c), program only
zlib1g-dev           gzip for loom serve's on-the-fly Content-Encoding, program only
libbrotli-dev        brotli for the same, program only
libyaml-dev          YAML for loom serve's configuration file, program only
libsystemd-dev       sd_notify readiness and socket activation for loom serve under systemd, program only
media-types          /etc/mime.types: loom serve's media types beyond its built-in table (and the Apache config of the tests)
"
TEST="
clang                the build must be -Werror clean under clang too
clang-format         the formatting check (.clang-format)
groff-base           renders the man pages in the install test (nroff)
libcmocka-dev        unit, conformance and interop test harness
python3              runs the independent reference peers
python3-hyperframe   independent HTTP/2 frame implementation (byte-exact agreement test; raw frames in serve_shutdown.py)
libnghttp2-dev       independent HPACK decoder (nghttp2's inflater) for loom's encoder output
python3-hpack        independent HPACK decoder (Python hpack) for the loom hpack encode output and dumped tables (tests/interop/hpack_cli.py), and serve_shutdown.py
logrotate            rotates loom serve's logs in tests/interop/serve_logs.py (rename, then SIGUSR1)
python3-prometheus-client  parses loom serve's --status metrics (tests/interop/serve_status.py)
python3-h2           independent HTTP/2 client and server (Python h2) for the engine and loom serve
gunicorn             an HTTP/1.1 application server (TCP and Unix socket) behind loom serve --proxy
python3-hypercorn    an h2c/h2 application server behind loom serve --proxy
python3-grpcio       gRPC through loom serve --proxy (unary and bidirectional streaming, trailers)
python3-websockets   a WebSocket server behind loom serve --proxy (RFC 8441 in front, RFC 6455 behind)
curl                 HTTP/2 client built with nghttp2: TLS h2, h2c prior knowledge and Upgrade tests
nghttp2-client       nghttp and h2load: an independent client, push and load tests
nodejs               Node.js's built-in http2 client against loom serve (tests/interop/serve_node.js)
chromium             a real browser loads loom serve's demo page over h2 (tests/interop/serve_chromium.py)
nghttp2-server       nghttpd: an independent server with push (-p) and a frame log, for loom get (tests/interop/get_nghttpd.py)
h2o                  an independent HTTP/2 server (TLS, h2c, Upgrade, push by Link preload) for loom get
nginx                an independent HTTP/2 server (http2_push, a connection-id access log, a TLS server without h2) for loom get
apache2-bin          Apache httpd with mod_http2 and mod_ssl, run from a temporary config (no service) for loom get
iproute2             ss: the state of loom serve's sockets (unsent octets in serve_lowat.py, connections in serve_proxy_peers.py)
openssl              the openssl CLI: certificates made at test time, s_server for loom get's TLS and ALPN failures
libclang-rt-14-dev   clang 14's sanitizer and libFuzzer runtimes: the fuzz_smoke_* tests build and run fuzz/ (so does make fuzz)
"
BENCH="
valgrind             callgrind counts instructions per field in bench/ (stable on a busy machine)
nghttp2-server       nghttpd, a peer in bench/serve.py
h2o                  a peer in bench/serve.py
nginx                a peer in bench/serve.py
openssl              makes the benchmark's certificate
haproxy              a peer in bench/proxy.py (make bench-proxy)
nghttp2-proxy        nghttpx, a peer in bench/proxy.py
"
# make fuzz needs nothing more than make test (which runs every harness briefly)
FUZZ=""

mode=${1:-build}
case "$mode" in
build) list=$BUILD ;;
test) list="$BUILD$TEST" ;;
fuzz) list="$BUILD$TEST$FUZZ" ;;
bench) list="$BUILD$TEST$BENCH" ;;
*) echo "usage: $0 build|test|fuzz|bench" >&2; exit 2 ;;
esac

missing=""
for pkg in $(printf '%s\n' "$list" | awk 'NF {print $1}' | sort -u); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps: installing:$missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
else
    echo "deps: these Debian packages are missing and I am not root (and there is no sudo):$missing" >&2
    echo "deps: install them as root with: apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y -q --no-install-recommends $missing; then
    # The package lists may be missing or stale on a fresh machine.
    $sudo apt-get update -q
    $sudo apt-get install -y -q --no-install-recommends $missing || {
        echo "deps: could not install:$missing (see apt's message above)" >&2
        exit 1
    }
fi
