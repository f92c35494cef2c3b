// A strict HTTP client for the adversarial tests: Node's own (llhttp), which refuses what
// strict clients and proxies refuse (two Content-Lengths, bad framing). Reads the cases as JSON,
// prints one JSON result per case. A case with `keepAlive` first asks /healthz on the same
// connection, so its request is the second on a kept-alive connection (hyper's path).
//   node strict_client.js PORT '[{"path": "/…", "headers": {…}, "keepAlive": false}, …]'
const http = require('http');
const [port, casesJson] = process.argv.slice(2);

function request(agent, path, headers) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent }, (res) => {
      const out = { status: res.statusCode, headers: res.headers };
      if ((res.headers['content-type'] || '').startsWith('text/event-stream')) {
        res.once('data', (chunk) => { out.body = chunk.toString(); req.destroy(); resolve(out); });
      } else {
        let body = '';
        res.on('data', (chunk) => { body += chunk; });
        res.on('end', () => { out.body = body; resolve(out); });
      }
    });
    req.on('error', (e) => resolve({ error: `${e.code}: ${e.message}` }));
  });
}

(async () => {
  const results = [];
  for (const c of JSON.parse(casesJson)) {
    const agent = new http.Agent({ keepAlive: !!c.keepAlive, maxSockets: 1 });
    if (c.keepAlive) await request(agent, '/healthz', {});
    results.push(await request(agent, c.path, c.headers || {}));
    agent.destroy();
  }
  console.log(JSON.stringify(results));
})();
