// An upstream that fails on purpose, for the fault tests (t8020):
//
//   node fault-upstream.js --port P --dir DIR
//
// Writes DIR/ready once listening and notes each request in DIR/requests
// ("METHOD PATH") and each finished upload in DIR/uploads.  Paths:
//   /reset       a 1 MiB response: 64 KiB of it, then a TCP reset
//   /stall-head  never answers
//   /stall-body  a 1 MiB response: 64 KiB of it, then nothing
//   /download    256 MiB at the pace the reader takes it
//   /upload      reads the body, a chunk at a time, and answers its size
//   anything else: "ok\n"
'use strict';
const fs = require('fs');
const http = require('http');
const path = require('path');

const args = {};
for (let i = 2; i < process.argv.length; i += 2)
	args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const note = (file, line) => fs.appendFileSync(path.join(args.dir, file), line + '\n');
const block = Buffer.alloc(64 * 1024, 'x');

http.createServer((req, res) => {
	note('requests', `${req.method} ${req.url}`);
	if (req.url.startsWith('/reset')) {
		res.writeHead(200, { 'Content-Length': 1024 * 1024 });
		res.write(block, () => setTimeout(() => req.socket.resetAndDestroy(), 100));
	} else if (req.url.startsWith('/stall-head')) {
		/* nothing, ever */
	} else if (req.url.startsWith('/stall-body')) {
		res.writeHead(200, { 'Content-Length': 1024 * 1024 });
		res.write(block);
	} else if (req.url.startsWith('/download')) {
		let left = 4096;
		res.writeHead(200, { 'Content-Length': left * block.length });
		const pump = () => {
			while (left > 0) {
				left--;
				if (!res.write(block))
					return res.once('drain', pump);
			}
			res.end();
		};
		res.on('close', () => { left = 0; });
		pump();
	} else if (req.url.startsWith('/upload')) {
		let bytes = 0;
		req.on('data', (chunk) => { bytes += chunk.length; });
		req.on('end', () => { note('uploads', `${req.url} ${bytes}`); res.end(`${bytes}\n`); });
	} else {
		res.end('ok\n');
	}
}).listen(Number(args.port), '127.0.0.1', () => fs.writeFileSync(path.join(args.dir, 'ready'), ''));
