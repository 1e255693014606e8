// A test origin for the egress integration tests: an HTTPS server (and
// optionally a plain HTTP one) that tells the test what reached it.
//
//   node origin.js --dir DIR [--tls-port P --cert F --key F] [--http-port P]
//
// Every request that arrives is appended to DIR/requests as one line
// "METHOD PATH", and every TCP connection to DIR/connections, so a test can
// prove that something egress refused never got here.  Once listening it
// writes DIR/ready.  Paths:
//   /upload*     streams the body: {"bytes","sha256","content_length","chunked"},
//                noting "complete PATH" once the whole body is in
//   */keep*      as /upload, and appends the body to DIR/bodies (small bodies only)
//   /slow*       sends 64 KiB, then waits for the file DIR/release, then 64 KiB more
//   /drip/NAME   a chunked answer: the line "first NAME", then, once the file
//                DIR/release-NAME exists, the line "second NAME" and the end
//   /download/N  N bytes with a Content-Length: the lines 0000000000\n, 0000000001\n, ...
//                cut at N (the same bytes as `seq -f %010.0f 0 M | head -c N`)
//   /ws*         a WebSocket echo (Upgrade), text and binary frames; data
//                payloads are appended to DIR/frames
//   /status/N*   answers status N with an empty body
//   /raw/NAME    a canned raw response (see raw below), then the socket closes
//   /reject*     with Expect: 100-continue, a 403 before the body is sent
//   anything else echoes {"method","path","headers"} (headers as received)
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
	args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const dir = args.dir;

function note(file, line) {
	fs.appendFileSync(path.join(dir, file), line + '\n');
}

function sendJson(res, status, value) {
	const body = JSON.stringify(value) + '\n';
	res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
	res.end(body);
}

function upload(req, res) {
	const hash = crypto.createHash('sha256');
	const keep = req.url.includes('/keep');
	let bytes = 0;
	req.on('data', (chunk) => {
		bytes += chunk.length;
		hash.update(chunk);
		if (keep)
			fs.appendFileSync(path.join(dir, 'bodies'), chunk);
	});
	req.on('end', () => note('requests', `complete ${req.url}`) || sendJson(res, 200, {
		bytes,
		sha256: hash.digest('hex'),
		content_length: req.headers['content-length'] || null,
		chunked: /chunked/i.test(req.headers['transfer-encoding'] || ''),
	}));
}

function drip(req, res, name) {
	res.writeHead(200, { 'Content-Type': 'text/event-stream' });
	res.write(`first ${name}\n`);
	const release = path.join(dir, `release-${name}`);
	const timer = setInterval(() => {
		if (!fs.existsSync(release))
			return;
		clearInterval(timer);
		res.end(`second ${name}\n`);
	}, 20);
	res.on('close', () => clearInterval(timer));
}

function slow(req, res) {
	const part = Buffer.alloc(65536, 'a');
	res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': part.length * 2 });
	res.write(part);
	const release = path.join(dir, 'release');
	const timer = setInterval(() => {
		if (!fs.existsSync(release))
			return;
		clearInterval(timer);
		res.end(part);
	}, 50);
	res.on('close', () => clearInterval(timer));
}

// Responses written byte for byte on the socket, then the socket closed:
// what a broken or old-fashioned upstream sends.
const raw = {
	close: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe body ends when the connection does\n',
	'bare-lf': 'HTTP/1.1 200 OK\nContent-Length: 3\n\nok\n',
	'dup-cl': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nok\n',
	'cl-te': 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nok\n\r\n0\r\n\r\n',
	'big-head': 'HTTP/1.1 200 OK\r\n' + 'X-Pad: '.concat('a'.repeat(1000), '\r\n').repeat(40) + 'Content-Length: 3\r\n\r\nok\n',
};

function handle(req, res) {
	note('requests', `${req.method} ${req.url}`);
	const canned = /^\/raw\/([a-z-]+)/.exec(req.url);
	if (canned && raw[canned[1]] !== undefined) {
		req.resume();
		req.socket.end(raw[canned[1]]);
		return;
	}
	const status = /^\/status\/(\d{3})/.exec(req.url);
	if (req.url.startsWith('/upload') || req.url.includes('/keep'))
		return upload(req, res);
	if (req.url.startsWith('/slow'))
		return slow(req, res);
	const dripping = /^\/drip\/([a-z0-9-]+)$/.exec(req.url);
	if (dripping)
		return drip(req, res, dripping[1]);
	const download = /^\/download\/(\d+)$/.exec(req.url);
	if (download)
		return counted(res, Number(download[1]));
	req.resume();
	req.on('end', () => {
		if (status) {
			res.writeHead(Number(status[1]), { 'Content-Length': 0 });
			return res.end();
		}
		// HEAD gets the same head as GET; node leaves the body out.
		sendJson(res, 200, { method: req.method, path: req.url, headers: req.rawHeaders });
	});
}

// N bytes of numbered lines, written as fast as the reader takes them: a
// lost, doubled or reordered block changes the reader's digest.
function counted(res, total) {
	let line = 0;
	let sent = 0;
	res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': total });
	const more = () => {
		while (sent < total) {
			const lines = [];
			for (let i = 0; i < 6000; i++)
				lines.push(String(line++).padStart(10, '0') + '\n');
			let block = Buffer.from(lines.join(''));
			if (block.length > total - sent)
				block = block.subarray(0, total - sent);
			sent += block.length;
			if (!res.write(block))
				return res.once('drain', more);
		}
		res.end();
	};
	more();
}

// RFC 6455 server side: accept, then echo each data frame unmasked.  A
// close frame is answered with a close frame.
function websocket(req, socket, head) {
	note('requests', `${req.method} ${req.url} upgrade`);
	const key = req.headers['sec-websocket-key'];
	if (!key || (req.headers.upgrade || '').toLowerCase() !== 'websocket') {
		socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n');
		return;
	}
	const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
	socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
		`Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
	let pending = head;
	socket.on('data', (chunk) => {
		pending = Buffer.concat([pending, chunk]);
		for (;;) {
			const frame = parseFrame(pending);
			if (!frame)
				break;
			pending = pending.subarray(frame.size);
			if (!frame.masked) {
				socket.destroy(); // a client must mask (RFC 6455 5.1)
				return;
			}
			if (frame.opcode === 1 || frame.opcode === 2 || frame.opcode === 0)
				fs.appendFileSync(path.join(dir, 'frames'), frame.payload);
			socket.write(makeFrame(frame.opcode, frame.payload));
			if (frame.opcode === 8)
				socket.end();
		}
	});
	socket.on('error', () => {});
}

function parseFrame(b) {
	if (b.length < 2)
		return null;
	const opcode = b[0] & 0x0f, masked = (b[1] & 0x80) !== 0;
	let len = b[1] & 0x7f, at = 2;
	if (len === 126) {
		if (b.length < 4)
			return null;
		len = b.readUInt16BE(2);
		at = 4;
	} else if (len === 127) {
		if (b.length < 10)
			return null;
		len = Number(b.readBigUInt64BE(2));
		at = 10;
	}
	const maskAt = at;
	if (masked)
		at += 4;
	if (b.length < at + len)
		return null;
	const payload = Buffer.from(b.subarray(at, at + len));
	if (masked)
		for (let i = 0; i < len; i++)
			payload[i] ^= b[maskAt + (i % 4)];
	return { opcode, masked, payload, size: at + len };
}

function makeFrame(opcode, payload) {
	let head;
	if (payload.length < 126) {
		head = Buffer.from([0x80 | opcode, payload.length]);
	} else {
		head = Buffer.alloc(4);
		head[0] = 0x80 | opcode;
		head[1] = 126;
		head.writeUInt16BE(payload.length, 2);
	}
	return Buffer.concat([head, payload]);
}

// Expect: 100-continue: /reject* answers 403 at once without reading the
// body, anything else gets its 100 and is served.
function checkContinue(req, res) {
	if (!req.url.startsWith('/reject'))
		return res.writeContinue(), handle(req, res);
	note('requests', `${req.method} ${req.url}`);
	res.writeHead(403, { 'Content-Length': 0 });
	res.end();
}

function listen(server, port) {
	server.on('connection', () => note('connections', 'connection'));
	server.on('checkContinue', checkContinue);
	server.on('upgrade', websocket);
	server.keepAliveTimeout = 30000;
	return new Promise((resolve) => server.listen(Number(port), '127.0.0.1', resolve));
}

const started = [];
if (args['tls-port'])
	started.push(listen(https.createServer({
		cert: fs.readFileSync(args.cert),
		key: fs.readFileSync(args.key),
	}, handle), args['tls-port']));
if (args['http-port'])
	started.push(listen(http.createServer(handle), args['http-port']));
Promise.all(started).then(() => fs.writeFileSync(path.join(dir, 'ready'), 'ready\n'));
