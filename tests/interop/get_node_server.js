// An HTTP/2 server on Node.js's http2 module (nghttp2 inside node), for
// tests/interop/get_node.py: TLS h2 (createSecureServer) and cleartext h2c
// by prior knowledge (createServer), on 127.0.0.1 ports given as arguments.
//
//   node get_node_server.js ROOT CERT KEY TLS_PORT H2C_PORT
//
// Prints "ready" when both listen, and one line per event the test checks:
// "session N" per new connection (N counts them), "push PATH" per push sent,
// "push-cancelled PATH" when the client resets a pushed stream,
// "priority VALUE" for a request's priority field.
// Routes: /index.html pushes /style.css and /app.js first (stream.pushStream);
// POST /upload answers the sha256 and length of the body it read;
// /reset resets the stream with INTERNAL_ERROR before any response;
// /headers answers the request header fields as JSON; anything else is a
// file under ROOT (404 when missing). Each session is PINGed once.
'use strict';
const http2 = require('http2');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [root, certFile, keyFile, tlsPort, h2cPort] = process.argv.slice(2);
const types = {'.html': 'text/html', '.css': 'text/css', '.js': 'application/javascript',
               '.png': 'image/png', '.txt': 'text/plain'};
let sessions = 0;

function say(line) {
  process.stdout.write(line + '\n');
}

function file(p) {
  const f = path.join(root, path.normalize(p).replace(/^(\.\.[/\\])+/, ''));
  try {
    return fs.readFileSync(f);
  } catch (e) {
    return null;
  }
}

function type(p) {
  return types[path.extname(p)] || 'application/octet-stream';
}

function push(stream, p) {
  if (!stream.pushAllowed) return;
  stream.pushStream({':path': p}, (err, ps) => {
    if (err) return;
    say('push ' + p);
    ps.on('error', () => {});
    ps.on('close', () => {
      if (ps.rstCode === http2.constants.NGHTTP2_CANCEL) say('push-cancelled ' + p);
    });
    // the pushed response a little later, so that a client's RST_STREAM
    // CANCEL of the promise arrives while the stream is still open
    setTimeout(() => {
      if (ps.closed || ps.destroyed) return;
      const body = file(p);
      ps.respond({':status': 200, 'content-type': type(p), 'content-length': body.length});
      ps.end(body);
    }, 100);
  });
}

function handle(stream, headers) {
  stream.on('error', () => {});
  const p = headers[':path'];
  const method = headers[':method'];
  if (headers['priority']) say('priority ' + headers['priority']);
  if (p === '/reset') {
    stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  if (p === '/upload' && method === 'POST') {
    const h = crypto.createHash('sha256');
    let n = 0;
    stream.on('data', (d) => {
      h.update(d);
      n += d.length;
    });
    stream.on('end', () => {
      const out = JSON.stringify({sha256: h.digest('hex'), length: n});
      stream.respond({':status': 200, 'content-type': 'application/json'});
      stream.end(out);
    });
    return;
  }
  if (p === '/headers') {
    stream.respond({':status': 200, 'content-type': 'application/json'});
    stream.end(JSON.stringify(headers));
    return;
  }
  if (p === '/index.html') {
    push(stream, '/style.css');
    push(stream, '/app.js');
  }
  const body = file(p === '/' ? '/index.html' : p);
  if (!body) {
    stream.respond({':status': 404, 'content-type': 'text/plain'});
    stream.end('not found\n');
    return;
  }
  stream.respond({':status': 200, 'content-type': type(p), 'content-length': body.length});
  stream.end(body);
}

function onSession(session) {
  sessions++;
  say('session ' + sessions);
  session.on('error', () => {});
  session.ping(Buffer.from('loompng!'), () => {});
}

const tls = http2.createSecureServer({key: fs.readFileSync(keyFile),
                                      cert: fs.readFileSync(certFile), allowHTTP1: false});
const h2c = http2.createServer({});
for (const s of [tls, h2c]) {
  s.on('session', onSession);
  s.on('stream', handle);
  s.on('sessionError', () => {});
}
let up = 0;
const ready = () => {
  if (++up === 2) say('ready');
};
tls.listen(Number(tlsPort), '127.0.0.1', ready);
h2c.listen(Number(h2cPort), '127.0.0.1', ready);
process.on('SIGTERM', () => process.exit(0));
