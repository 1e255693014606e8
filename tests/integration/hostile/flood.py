#!/usr/bin/env python3
"""Open many connections to a server at once and report what each got.

    flood.py --port P --count N [--send BYTES] [--hold-file F] [--trickle S]

Opens N TCP connections to 127.0.0.1:P (non-blocking, all in flight
together), sends --send (Python escapes, e.g. 'GET / HTTP/1.1\\r\\n') on each,
and keeps them open.  --trickle S then sends one more byte ("X") on every
still-open connection each S seconds.  It waits until the file --hold-file
exists (or --hold seconds pass), then closes everything and prints one
JSON object: how many connected, how many got each answer (by status, with
the first answer of each), how many the server closed without an answer,
and how many were still open.  It ends early once the server has closed
every connection.  Used by the hostile-client
tests (t81NN-hostile-*.sh) to reach a connection cap and to hold many
slow clients at once.
"""
import argparse
import errno
import json
import os
import selectors
import socket
import sys
import time


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument('--port', type=int, required=True)
	ap.add_argument('--count', type=int, required=True)
	ap.add_argument('--send', default='')
	ap.add_argument('--hold-file')
	ap.add_argument('--hold', type=float, default=600)
	ap.add_argument('--trickle', type=float, default=0)
	ap.add_argument('--ready-file')
	args = ap.parse_args()
	payload = args.send.encode('latin-1').decode('unicode_escape').encode('latin-1')

	sel = selectors.DefaultSelector()
	conns = {}
	failed_connect = 0
	for _ in range(args.count):
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.setblocking(False)
		err = s.connect_ex(('127.0.0.1', args.port))
		if err not in (0, errno.EINPROGRESS):
			failed_connect += 1
			s.close()
			continue
		conns[s] = {'state': 'connecting', 'got': b''}
		sel.register(s, selectors.EVENT_WRITE)

	deadline = time.monotonic() + args.hold
	next_trickle = time.monotonic() + args.trickle if args.trickle else None
	ready_written = False
	while True:
		now = time.monotonic()
		if now >= deadline or (args.hold_file and os.path.exists(args.hold_file)):
			break
		timeout = 0.2
		for key, events in sel.select(timeout):
			s = key.fileobj
			c = conns[s]
			if c['state'] == 'connecting':
				err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
				if err:
					c['state'] = 'failed'
					sel.unregister(s)
					continue
				c['state'] = 'open'
				try:
					if payload:
						s.send(payload)
				except OSError:
					pass
				sel.modify(s, selectors.EVENT_READ)
				continue
			try:
				data = s.recv(65536)
			except OSError:
				data = b''
			if data:
				c['got'] += data
				continue
			c['state'] = 'closed'
			sel.unregister(s)
		if not ready_written and args.ready_file and \
				all(c['state'] != 'connecting' for c in conns.values()):
			with open(args.ready_file, 'w') as f:
				f.write('ready\n')
			ready_written = True
		if all(c['state'] in ('closed', 'failed') for c in conns.values()):
			break
		if next_trickle and now >= next_trickle:
			next_trickle = now + args.trickle
			for s, c in conns.items():
				if c['state'] == 'open':
					try:
						s.send(b'X')
					except OSError:
						pass

	# statuses: how many got each answer (by status code); bodies: the
	# first answer of each status, whole.
	result = {'connections': len(conns) + failed_connect, 'connect_failed': failed_connect,
		  'statuses': {}, 'answers': {}, 'closed_silently': 0, 'open': 0}
	for s, c in conns.items():
		got = c['got']
		if c['state'] == 'failed':
			result['connect_failed'] += 1
		elif got:
			status = got[9:12].decode('latin-1') if got.startswith(b'HTTP/1.') else 'garbage'
			result['statuses'][status] = result['statuses'].get(status, 0) + 1
			result['answers'].setdefault(status, got.decode('latin-1'))
		elif c['state'] == 'closed':
			result['closed_silently'] += 1
		else:
			result['open'] += 1
		s.close()
	json.dump(result, sys.stdout)
	sys.stdout.write('\n')


if __name__ == '__main__':
	main()
