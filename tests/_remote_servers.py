"""
Servers the remote tests start themselves, on free local ports (nothing
reaches the internet):

* :class:`RangeServer`: an HTTP server in a thread that serves a directory,
  honours ``Range`` (one range: 206 with ``Content-Range``; several:
  ``multipart/byteranges``), answers ``HEAD``, counts requests and bytes per
  path, can fail the first N requests to a path with 503, and answers 404
  for missing files.
* :func:`moto_server`: an S3-compatible server (moto in server mode) with
  fake credentials set in the environment of the test only.

Fixtures (import them into a test module to use them): ``s3_client`` (a
boto3 client on a fresh moto server, skipped without moto / boto3) and
``dask_client`` (a ``distributed.Client`` on a two-process ``LocalCluster``,
skipped without distributed).
"""
import collections
import contextlib
import http.server
import os
import re
import socket
import threading
import uuid
from urllib.parse import unquote, urlsplit

import pytest

RANGE_RE = re.compile(r'(\d*)-(\d*)')


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def parse_ranges(header, size):
    """``[(start, stop), ...]`` of a ``Range: bytes=...`` header (stop exclusive)."""
    ranges = []
    for part in header.split('=', 1)[1].split(','):
        match = RANGE_RE.fullmatch(part.strip())
        first, last = match.group(1), match.group(2)
        if first == '':
            start, stop = max(0, size - int(last)), size
        else:
            start, stop = int(first), size if last == '' else min(size, int(last) + 1)
        if start < stop:
            ranges.append((start, stop))
    return ranges


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _serve(self, body):
        server = self.server.owner
        path = unquote(urlsplit(self.path).path)
        fpath = os.path.join(server.root, path.lstrip('/'))
        with server.mutex:
            server.requests.append((self.command, path, self.headers.get('Range'),
                                    self.headers.get('Authorization')))
            failures = server.fail_first.get(path, 0)
            if failures:
                server.fail_first[path] = failures - 1
        if failures:
            code = server.fail_code.get(path, 503)
            if code == 0:  # drop the connection without an answer
                self.close_connection = True
                return
            return self._reply(code, b'failed on purpose')
        if not os.path.isfile(fpath):
            return self._reply(404, b'not found')
        size = os.path.getsize(fpath)
        mtime = os.stat(fpath).st_mtime
        headers = {'ETag': '"{:x}-{:x}"'.format(size, int(mtime * 1e6)),
                   'Last-Modified': self.date_time_string(mtime), 'Accept-Ranges': 'bytes'}
        header = self.headers.get('Range')
        ranges = parse_ranges(header, size) if header else None
        if ranges is None:
            return self._reply(200, fpath, headers, [(0, size)], body)
        if not ranges:
            return self._reply(416, b'', {'Content-Range': 'bytes */{}'.format(size)})
        if len(ranges) == 1:
            start, stop = ranges[0]
            headers['Content-Range'] = 'bytes {}-{}/{}'.format(start, stop - 1, size)
            return self._reply(206, fpath, headers, ranges, body)
        return self._multipart(fpath, headers, ranges, size, body)

    def _reply(self, code, data, headers=None, ranges=None, body=True):
        """Send ``data`` (bytes), or the ``ranges`` of file ``data``."""
        length = len(data) if ranges is None else sum(b - a for a, b in ranges)
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header('Content-Length', str(length))
        self.end_headers()
        if not body or self.command == 'HEAD':
            return
        if ranges is None:
            self.wfile.write(data)
            return
        with open(data, 'rb') as file:
            for start, stop in ranges:
                file.seek(start)
                self._send_counted(file.read(stop - start))

    def _multipart(self, fpath, headers, ranges, size, body):
        boundary = uuid.uuid4().hex
        chunks = []
        with open(fpath, 'rb') as file:
            for start, stop in ranges:
                file.seek(start)
                head = ('--{}\r\nContent-Type: application/octet-stream\r\n'
                        'Content-Range: bytes {}-{}/{}\r\n\r\n').format(
                            boundary, start, stop - 1, size).encode()
                chunks.append((head, file.read(stop - start)))
        tail = '--{}--\r\n'.format(boundary).encode()
        length = sum(len(h) + len(d) + 2 for h, d in chunks) + len(tail)
        self.send_response(206)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header('Content-Type', 'multipart/byteranges; boundary=' + boundary)
        self.send_header('Content-Length', str(length))
        self.end_headers()
        if body:
            for head, data in chunks:
                self.wfile.write(head)
                self._send_counted(data)
                self.wfile.write(b'\r\n')
            self.wfile.write(tail)

    def _send_counted(self, data):
        server = self.server.owner
        with server.mutex:
            server.bytes_by_path[unquote(urlsplit(self.path).path)] += len(data)
        self.wfile.write(data)


class RangeServer:
    """
    Serve ``root`` on ``http://127.0.0.1:<port>/`` from a thread.

    Example:
        >>> import tempfile, urllib.request
        >>> root = tempfile.mkdtemp()
        >>> with open(os.path.join(root, 'a.bin'), 'wb') as f:
        ...     _ = f.write(b'0123456789')
        >>> with RangeServer(root) as server:
        ...     req = urllib.request.Request(server.url('a.bin'), headers={'Range': 'bytes=2-4'})
        ...     urllib.request.urlopen(req).read(), server.bytes_served('a.bin')
        (b'234', 3)
    """

    def __init__(self, root):
        self.root = os.fspath(root)
        self.mutex = threading.Lock()
        self.reset()
        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def reset(self):
        """Forget the counts and the planned failures."""
        with self.mutex:
            self.requests = []
            self.bytes_by_path = collections.Counter()
            self.fail_first = {}
            self.fail_code = {}

    def url(self, name):
        return 'http://127.0.0.1:{}/{}'.format(self.port, name)

    def fail(self, name, times, code=503):
        """Answer the next ``times`` requests for ``name`` with ``code`` (0:
        close the connection without an answer)."""
        with self.mutex:
            self.fail_first['/' + name] = times
            self.fail_code['/' + name] = code

    def bytes_served(self, name):
        return self.bytes_by_path['/' + name]

    def gets(self, name):
        return [r for r in self.requests if r[0] == 'GET' and r[1] == '/' + name]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


#: Fake credentials of the test S3 server; they only exist in the test's environment.
FAKE_AWS = {'AWS_ACCESS_KEY_ID': 'AKIAFAKEKEYFORTESTS00',
            'AWS_SECRET_ACCESS_KEY': 'fakeSecretKeyForTests0123456789abcdefXYZ',
            'AWS_DEFAULT_REGION': 'us-east-1', 'AWS_REGION': 'us-east-1'}


@contextlib.contextmanager
def moto_server(monkeypatch):
    """
    A moto S3 server on a free port; yields ``(endpoint, boto3 client)`` with
    the environment pointing GDAL at it (``AWS_S3_ENDPOINT``, no HTTPS, path
    style addressing) and fake credentials, all undone by ``monkeypatch``.
    """
    from moto.server import ThreadedMotoServer
    import boto3
    port = free_port()
    server = ThreadedMotoServer(ip_address='127.0.0.1', port=port, verbose=False)
    server.start()
    try:
        for key, value in FAKE_AWS.items():
            monkeypatch.setenv(key, value)
        endpoint = '127.0.0.1:{}'.format(port)
        monkeypatch.setenv('AWS_S3_ENDPOINT', endpoint)
        monkeypatch.setenv('AWS_HTTPS', 'NO')
        monkeypatch.setenv('AWS_VIRTUAL_HOSTING', 'FALSE')
        monkeypatch.delenv('AWS_PROFILE', raising=False)
        client = boto3.client('s3', endpoint_url='http://' + endpoint,
                              aws_access_key_id=FAKE_AWS['AWS_ACCESS_KEY_ID'],
                              aws_secret_access_key=FAKE_AWS['AWS_SECRET_ACCESS_KEY'],
                              region_name='us-east-1')
        yield endpoint, client
    finally:
        server.stop()


@pytest.fixture
def s3_client(monkeypatch):
    """A boto3 S3 client on a fresh local moto server (see :func:`moto_server`)."""
    pytest.importorskip('moto.server')
    pytest.importorskip('boto3')
    with moto_server(monkeypatch) as (_, client):
        yield client


@pytest.fixture(scope='module')
def dask_client():
    """A ``distributed.Client`` on ``LocalCluster(n_workers=2, processes=True,
    threads_per_worker=1)``, shared by a module's tests."""
    distributed = pytest.importorskip('distributed')
    cluster = distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
