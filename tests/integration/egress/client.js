// A Node client for the egress integration tests, with no npm packages.
// HTTPS goes through an https.Agent whose connections are CONNECT tunnels it
// opens itself; http:// URLs go to the proxy in absolute form.  The CA the
// agent trusts comes from NODE_EXTRA_CA_CERTS, as it would in a bottle.
//
//   node client.js request --proxy HOST:PORT --url URL [--method M]
//                  [--header "Name: value"]... [--count N]
//     prints one JSON line per request: status, headers, body, the peer
//     certificate's issuer CN and SHA-256 fingerprint, and whether the
//     request reused the previous one's connection
//   node client.js ws --proxy HOST:PORT --url ws[s]://HOST:PORT/PATH --text T [--split N]
//     upgrades, sends T in one masked text frame (or N fragments), prints the
//     echo's payload (the origin echoes each fragment: the first is printed)
'use strict';
const crypto = require('crypto');
const http = require('http');
const https = require('https');
const net = require('net');
const tls = require('tls');

const opts = { header: [] };
const mode = process.argv[2];
for (let i = 3; i < process.argv.length; i += 2) {
	const key = process.argv[i].replace(/^--/, '');
	if (Array.isArray(opts[key]))
		opts[key].push(process.argv[i + 1]);
	else
		opts[key] = process.argv[i + 1];
}
const [proxyHost, proxyPort] = opts.proxy.split(':');
const url = new URL(opts.url);

function fail(message) {
	process.stderr.write(`client.js: ${message}\n`);
	process.exit(1);
}

// A tunnel to host:port through the proxy; calls back with the raw socket.
function tunnel(host, port, callback) {
	// Host names the target, as RFC 9112 3.2 asks (Node would name the
	// proxy); egress refuses a Host that disagrees with the target.
	const req = http.request({ host: proxyHost, port: proxyPort, method: 'CONNECT', path: `${host}:${port}`,
		headers: { Host: `${host}:${port}` } });
	req.on('connect', (res, socket, head) => {
		if (res.statusCode !== 200) {
			socket.destroy();
			return callback(new Error(`CONNECT answered ${res.statusCode}`));
		}
		if (head.length)
			socket.unshift(head);
		callback(null, socket);
	});
	req.on('error', callback);
	req.end();
}

class TunnelAgent extends https.Agent {
	createConnection(options, callback) {
		tunnel(options.host, options.port, (err, socket) => {
			if (err)
				return callback(err);
			callback(null, tls.connect({ socket, servername: options.servername || options.host }));
		});
	}
}

function headers() {
	const out = {};
	for (const h of opts.header) {
		const colon = h.indexOf(':');
		out[h.slice(0, colon).trim()] = h.slice(colon + 1).trim();
	}
	return out;
}

function requestOnce(agent, previous) {
	return new Promise((resolve, reject) => {
		const common = { method: opts.method || 'GET', headers: headers() };
		let req;
		if (url.protocol === 'https:') {
			req = https.request(url, { ...common, agent });
		} else {
			common.headers.Host = url.host;
			req = http.request({ ...common, host: proxyHost, port: proxyPort, path: url.href,
				agent: new http.Agent({ keepAlive: false }) });
		}
		req.on('response', (res) => {
			// A keep-alive socket goes back to the agent before 'end'.
			const socket = res.socket;
			const chunks = [];
			res.on('data', (c) => chunks.push(c));
			res.on('end', () => {
				const out = { status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() };
				const cert = socket.getPeerCertificate ? socket.getPeerCertificate() : null;
				if (cert && cert.issuer) {
					out.issuer = cert.issuer.CN;
					out.subject = cert.subject.CN;
					out.fingerprint = cert.fingerprint256;
				}
				out.reused = previous !== null && previous === socket;
				resolve({ out, socket });
			});
		});
		req.on('error', reject);
		req.end();
	});
}

async function requests() {
	const agent = new TunnelAgent({ keepAlive: true, maxSockets: 1 });
	let socket = null;
	for (let i = 0; i < Number(opts.count || 1); i++) {
		const r = await requestOnce(agent, socket);
		socket = r.socket;
		process.stdout.write(JSON.stringify(r.out) + '\n');
	}
	agent.destroy();
}

function frame(opcode, payload, fin = true) {
	// Client frames are masked (RFC 6455 5.3); payloads here stay < 126 bytes.
	if (payload.length >= 126)
		fail('payload too long for this client');
	const mask = crypto.randomBytes(4);
	const masked = Buffer.from(payload);
	for (let i = 0; i < masked.length; i++)
		masked[i] ^= mask[i % 4];
	return Buffer.concat([Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | payload.length]), mask, masked]);
}

// The text as one frame, or as N fragments: text, continuation..., fin.
function message(text) {
	const n = Number(opts.split || 1), payload = Buffer.from(text), frames = [];
	const step = Math.ceil(payload.length / n);
	for (let i = 0; i < n; i++)
		frames.push(frame(i === 0 ? 1 : 0, payload.subarray(i * step, (i + 1) * step), i === n - 1));
	return Buffer.concat(frames);
}

// wss:// goes through a CONNECT tunnel and TLS; ws:// is sent to the proxy
// in absolute form, as a plain HTTP request.
function websocket() {
	const secure = url.protocol === 'wss:';
	const port = Number(url.port || (secure ? 443 : 80));
	const key = crypto.randomBytes(16).toString('base64');
	const expected = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
	const target = secure ? url.pathname : `http://${url.host}${url.pathname}`;
	const upgrade = `GET ${target} HTTP/1.1\r\nHost: ${url.host}\r\n` +
		'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
		`Sec-WebSocket-Key: ${key}\r\n\r\n`;
	let pending = Buffer.alloc(0), upgraded = false;
	const talk = (socket) => {
		socket.on('data', (chunk) => {
			pending = Buffer.concat([pending, chunk]);
			if (!upgraded) {
				const end = pending.indexOf('\r\n\r\n');
				if (end < 0)
					return;
				const head = pending.subarray(0, end).toString();
				pending = pending.subarray(end + 4);
				if (!/^HTTP\/1\.1 101 /.test(head))
					fail(`no upgrade: ${head.split('\r\n')[0]}`);
				if (!head.toLowerCase().includes(`sec-websocket-accept: ${expected.toLowerCase()}`))
					fail('wrong Sec-WebSocket-Accept');
				upgraded = true;
				socket.write(message(opts.text));
			}
			if (pending.length < 2)
				return;
			const len = pending[1] & 0x7f;
			if ((pending[1] & 0x80) || len >= 126)
				fail('unexpected frame from the server');
			if (pending.length < 2 + len)
				return;
			if ((pending[0] & 0x0f) === 8)
				fail(`closed: ${pending.subarray(4, 2 + len).toString()}`);
			if ((pending[0] & 0x0f) !== 1 && (pending[0] & 0x0f) !== 0)
				fail(`opcode ${pending[0] & 0x0f}, expected text`);
			process.stdout.write(pending.subarray(2, 2 + len).toString() + '\n');
			socket.end(frame(8, Buffer.alloc(0)));
			socket.destroy();
		});
		socket.on('error', (e) => fail(e.message));
	};
	if (!secure) {
		const socket = net.connect(Number(proxyPort), proxyHost, () => socket.write(upgrade));
		return talk(socket);
	}
	tunnel(url.hostname, port, (err, raw) => {
		if (err)
			fail(err.message);
		const socket = tls.connect({ socket: raw, servername: url.hostname });
		socket.on('secureConnect', () => socket.write(upgrade));
		talk(socket);
	});
}

if (mode === 'request')
	requests().catch((e) => fail(e.message));
else if (mode === 'ws')
	websocket();
else
	fail(`unknown mode ${mode}`);
