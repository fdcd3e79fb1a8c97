// loom serve's demo site against Node.js's built-in http2 client.
// Run by serve_node.py: node serve_node.js HTTPS_URL HTTP_URL DEMO_DIR
//
// Over TLS (ALPN h2) and over h2c (prior knowledge), one session each:
//  - GET /: status 200, the whole page (content-length octets, equal to
//    DEMO_DIR/index.html); the session's 'stream' event delivers the pushes
//    of /style.css and /app.js with their full bodies, equal to the files;
//  - GET /img/42.svg: 200, the file's bytes;
//  - POST /index.html with a 300 000-octet body: a 405 response arrives,
//    the request body is written out completely ('finish') and the stream
//    ends with no error (no 'error' event, rstCode NO_ERROR);
//  - the session closes cleanly.
'use strict';
const http2 = require('http2');
const fs = require('fs');
const path = require('path');
const assert = require('assert');

const [httpsUrl, httpUrl, demoDir] = process.argv.slice(2);
const deadline = setTimeout(() => {
  console.error('FAIL: timed out after 40 s');
  process.exit(1);
}, 40000);

function file(rel) {
  return fs.readFileSync(path.join(demoDir, rel));
}

function collect(stream) {
  return new Promise((resolve, reject) => {
    const parts = [];
    stream.on('data', (d) => parts.push(d));
    stream.on('end', () => resolve(Buffer.concat(parts)));
    stream.on('error', reject);
  });
}

function request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: !body });
    const what = `${headers[':method'] || 'GET'} ${headers[':path']}`;
    const parts = [];
    let response = null;
    let finished = !body;
    let error = null;
    req.on('response', (h) => { response = h; });
    req.on('data', (d) => parts.push(d));
    req.on('error', (e) => { error = e; });
    if (body) {
      req.on('finish', () => { finished = true; });
      req.end(body);
    }
    req.on('close', () => {
      if (error) reject(new Error(`${what}: stream error ${error.message}`));
      else if (!response) reject(new Error(`${what}: closed without a response (code ${req.rstCode})`));
      else resolve({ headers: response, body: Buffer.concat(parts), finished, rstCode: req.rstCode });
    });
  });
}

async function run(url, label) {
  const session = http2.connect(url, { rejectUnauthorized: false });
  const errors = [];
  session.on('error', (e) => errors.push(e));
  await new Promise((resolve, reject) => {
    session.once('connect', resolve);
    session.once('error', reject);
  });
  if (url.startsWith('https:')) {
    assert.strictEqual(session.alpnProtocol, 'h2', `${label}: ALPN ${session.alpnProtocol}`);
  }

  // pushes: the session's 'stream' event
  const pushes = {};
  const pushDone = [];
  session.on('stream', (stream, reqHeaders) => {
    const p = reqHeaders[':path'];
    const done = new Promise((resolve, reject) => {
      let status = null;
      stream.on('push', (h) => { status = h[':status']; });
      collect(stream).then((body) => { pushes[p] = { status, body }; resolve(); }, reject);
    });
    pushDone.push(done);
  });

  const page = await request(session, { ':path': '/' });
  assert.strictEqual(page.headers[':status'], 200, `${label}: GET / status`);
  assert.strictEqual(Number(page.headers['content-length']), page.body.length,
    `${label}: GET / length`);
  assert.ok(page.body.equals(file('index.html')), `${label}: GET / body differs from index.html`);
  assert.ok(page.body.includes('<img src=/img/99.svg'), `${label}: the page lacks its images`);

  // wait (bounded by the deadline) for both pushes
  while (pushDone.length < 2) await new Promise((r) => setTimeout(r, 20));
  await Promise.all(pushDone);
  for (const p of ['/style.css', '/app.js']) {
    assert.ok(pushes[p], `${label}: no push of ${p}; got ${Object.keys(pushes)}`);
    assert.strictEqual(pushes[p].status, 200, `${label}: push ${p} status`);
    assert.ok(pushes[p].body.equals(file(p.slice(1))), `${label}: pushed ${p} body differs`);
  }
  assert.strictEqual(Object.keys(pushes).length, 2, `${label}: pushes ${Object.keys(pushes)}`);

  const img = await request(session, { ':path': '/img/42.svg' });
  assert.strictEqual(img.headers[':status'], 200, `${label}: GET /img/42.svg status`);
  assert.strictEqual(img.headers['content-type'], 'image/svg+xml');
  assert.ok(img.body.equals(file('img/42.svg')), `${label}: /img/42.svg body differs`);

  const body = Buffer.alloc(300000, 0x61);
  const post = await request(session, {
    ':method': 'POST', ':path': '/index.html', 'content-type': 'text/plain',
  }, body);
  assert.strictEqual(post.headers[':status'], 405, `${label}: POST status`);
  assert.ok(post.finished, `${label}: the POST body was not written out`);
  assert.strictEqual(post.rstCode, http2.constants.NGHTTP2_NO_ERROR,
    `${label}: POST stream ended with code ${post.rstCode}`);
  assert.strictEqual(post.body.toString(), '405 Method Not Allowed\n', `${label}: POST body`);

  // a GET after the POST on the same session still works
  const again = await request(session, { ':path': '/style.css' });
  assert.strictEqual(again.headers[':status'], 200, `${label}: GET after POST`);

  await new Promise((resolve) => session.close(resolve));
  assert.deepStrictEqual(errors, [], `${label}: session errors`);
  console.log(`${label}: ok (page ${page.body.length} octets, pushes ${Object.keys(pushes).join(' ')}, POST 405 after ${body.length} octets)`);
}

(async () => {
  try {
    await run(httpsUrl, 'TLS h2');
    await run(httpUrl, 'h2c');
  } catch (e) {
    console.error(`FAIL: ${e.stack || e}`);
    process.exit(1);
  }
  clearTimeout(deadline);
})();
