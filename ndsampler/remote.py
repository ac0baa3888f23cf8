"""
Remote sources: image files named by URL, read through GDAL's virtual file
systems.

A kwcoco ``file_name`` that starts with ``http://``, ``https://``, ``s3://``,
``gs://``, ``/vsicurl/``, ``/vsis3/`` or ``/vsigs/`` is remote: it is never
joined with the bundle directory.  ``s3://bucket/key`` is read as
``/vsis3/bucket/key`` (credentials and endpoint from the usual ``AWS_*``
variables, e.g. ``AWS_S3_ENDPOINT``, ``AWS_HTTPS``, ``AWS_VIRTUAL_HOSTING``),
``gs://`` as ``/vsigs/`` (``GS_*``), ``http(s)://`` as ``/vsicurl/``.

GDAL settings (:data:`GDAL_OPTIONS`) are applied as thread-local config
options around the library's own remote opens and reads only; a value the
user has set (an environment variable or ``gdal.SetConfigOption``) wins, and
the dict can be edited (``None`` leaves GDAL's default).  GDAL's messages
about remote files go to the ``ndsampler.remote`` logger with credentials
removed, and errors name the URL without its userinfo or signature.

Example:
    >>> is_remote('s3://bucket/a.tif'), is_remote('images/a.png')
    (True, False)
    >>> to_vsi('s3://bucket/dir/a.tif')
    '/vsis3/bucket/dir/a.tif'
    >>> join_source('/data/bundle', 'https://host/a.tif')
    'https://host/a.tif'
    >>> redact('https://user:pw@host/a.tif?X-Amz-Signature=abc&v=1')
    'https://host/a.tif?X-Amz-Signature=REDACTED&v=1'
"""
import contextlib
import errno
import hashlib
import logging
import os
import re
import tempfile
import time
from os.path import join
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ndsampler.errors import (BackendUnavailableError, GDAL_INSTALL_HINT, RemoteAccessDeniedError,
                              RemoteNotFoundError, RemoteSourceError, RemoteUnavailableError)

LOGGER = logging.getLogger(__name__)

#: URL scheme -> the GDAL virtual file system that reads it.
SCHEME_TO_VSI = {'http': '/vsicurl/', 'https': '/vsicurl/', 's3': '/vsis3/', 'gs': '/vsigs/'}
VSI_PREFIXES = ('/vsicurl/', '/vsis3/', '/vsigs/')
REMOTE_PREFIXES = tuple(s + '://' for s in SCHEME_TO_VSI) + VSI_PREFIXES

#: Config options set (thread-locally) around ndsampler's remote opens and
#: reads, unless the user set them.  Edit this dict to change them; ``None``
#: leaves GDAL's default.
GDAL_OPTIONS = {
    # no directory listing, no probing for sidecar files (.aux.xml, .ovr, .msk)
    'GDAL_DISABLE_READDIR_ON_OPEN': 'EMPTY_DIR',
    'CPL_VSIL_CURL_ALLOWED_EXTENSIONS': '.tif,.tiff,.vrt,.ntf,.jp2,.png,.jpg,.jpeg,.bmp,.webp,.npy',
    'GDAL_HTTP_MULTIPLEX': 'YES',                   # parallel ranges on one HTTP/2 connection
    'GDAL_HTTP_MERGE_CONSECUTIVE_RANGES': 'YES',    # adjacent tiles in one request
    'CPL_VSIL_CURL_CACHE_SIZE': str(64 << 20),      # bytes of fetched ranges kept per process
    'GDAL_HTTP_MAX_RETRY': '5',                     # 429 and 5xx: retried ...
    'GDAL_HTTP_RETRY_DELAY': '0.5',                 # ... after 0.5 s, then about x2 each time
    'GDAL_HTTP_TIMEOUT': '120',
    'GDAL_HTTP_CONNECTTIMEOUT': '20',
}

#: Extra attempts of a remote open, stat, fetch or window read after a
#: transient failure that GDAL's own retries did not absorb, such as a
#: dropped connection (``NDSAMPLER_REMOTE_RETRIES``).
OPEN_RETRIES = int(os.environ.get('NDSAMPLER_REMOTE_RETRIES', 2))

#: Query parameters that carry signatures or tokens; their values never
#: appear in a message.
SECRET_PARAMS = {'x-amz-signature', 'x-amz-credential', 'x-amz-security-token',
                 'x-goog-signature', 'x-goog-credential', 'signature', 'sig', 'token',
                 'access_token', 'awsaccesskeyid', 'key', 'x-ms-signature'}
#: Environment variables whose values never appear in a message.
SECRET_ENV = ('AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_ACCESS_KEY_ID',
              'GS_SECRET_ACCESS_KEY', 'GS_ACCESS_KEY_ID', 'GS_OAUTH2_REFRESH_TOKEN',
              'GS_OAUTH2_CLIENT_SECRET', 'GDAL_HTTP_USERPWD', 'GDAL_HTTP_BEARER')
URL_RE = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*://[^\s\'"<>]+')
STATUS_RE = re.compile(r'HTTP (?:response|error) code(?: on \S+)?:? *(\d{1,3})')
TRANSIENT_RE = re.compile(r'timed? ?out|reset|refused|empty reply|couldn\'t connect|'
                          r'could not connect|recv failure|send failure', re.IGNORECASE)
#: GDAL's VSIGetLastErrorNo codes (cpl_vsi_error.h): access denied / invalid
#: credentials / bad signature, and bucket / object not found.
VSI_DENIED, VSI_MISSING = {6, 9, 10}, {7, 8}
FETCH_CHUNK = 32 << 20


def is_remote(fpath):
    """
    True for a URL or a GDAL network path (see the module docstring).

    Example:
        >>> is_remote('https://host/a.tif'), is_remote('/vsis3/bucket/a.tif'), is_remote('images/a.png')
        (True, True, False)
    """
    return isinstance(fpath, str) and fpath.startswith(REMOTE_PREFIXES)


def join_source(root, file_name):
    """
    A dataset's ``file_name`` as a path: remote names as they are, others
    joined with the bundle directory ``root``.

    Example:
        >>> join_source('/data/bundle', 'images/a.png'), join_source('/data/bundle', 'gs://b/a.tif')
        ('/data/bundle/images/a.png', 'gs://b/a.tif')
    """
    return file_name if is_remote(file_name) else join(root, file_name)


def to_vsi(url):
    """
    The GDAL path of a remote source.

    Example:
        >>> to_vsi('https://host/a.tif'), to_vsi('gs://bucket/a.tif'), to_vsi('/vsis3/b/a.tif')
        ('/vsicurl/https://host/a.tif', '/vsigs/bucket/a.tif', '/vsis3/b/a.tif')
    """
    if url.startswith(VSI_PREFIXES):
        return url
    scheme, rest = url.split('://', 1)
    if scheme in ('http', 'https'):
        return '/vsicurl/' + url
    return SCHEME_TO_VSI[scheme] + rest


def _split_vsi(url):
    """``(vsi prefix or '', the URL or bucket path after it)``."""
    for prefix in VSI_PREFIXES:
        if url.startswith(prefix):
            return prefix, url[len(prefix):]
    return '', url


def redact(url, drop=False):
    """
    ``url`` without userinfo and with the values of signature / token query
    parameters replaced (``drop=True``: removed, for a stable identity).

    Example:
        >>> redact('/vsicurl/https://h/a.tif?sig=1&x=2', drop=True)
        '/vsicurl/https://h/a.tif?x=2'
    """
    prefix, rest = _split_vsi(url)
    if '://' not in rest:
        return url
    parts = urlsplit(rest)
    netloc = parts.netloc.rpartition('@')[2]
    query = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in SECRET_PARAMS:
            if drop:
                continue
            value = 'REDACTED'
        query.append((key, value))
    return prefix + urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe='/:'),
                                parts.fragment))


def scrub(text):
    """
    ``text`` with every URL redacted and the values of credential
    environment variables removed.

    Example:
        >>> scrub("cannot open 'https://u:p@h/x.tif?X-Amz-Credential=AKIA'")
        "cannot open 'https://h/x.tif?X-Amz-Credential=REDACTED'"
    """
    text = URL_RE.sub(lambda m: redact(m.group(0)), str(text))
    for name in SECRET_ENV:
        value = os.environ.get(name, '')
        if len(value) >= 4:
            text = text.replace(value, '<{}>'.format(name))
    return text


def ext_of(url):
    """The lower-case extension of a remote path, ignoring its query.

    Example:
        >>> ext_of('https://h/dir/a.TIF?sig=1')
        '.tif'
    """
    path = urlsplit(_split_vsi(url)[1]).path if '://' in url else url.split('?')[0]
    return os.path.splitext(path)[1].lower()


#: Set in a forked child: its first remote operation drops the connections
#: (and cached ranges) inherited from the parent, which it must not share.
_INHERITED = []
os.register_at_fork(after_in_child=lambda: _INHERITED.append(True))


def _gdal(url=None):
    from ndsampler.utils.util_gdal import have_gdal, import_gdal
    if not have_gdal():
        raise BackendUnavailableError('remote sources{} are read through GDAL. {}'.format(
            '' if url is None else ' ({})'.format(redact(url)), GDAL_INSTALL_HINT))
    gdal = import_gdal()
    if _INHERITED:
        gdal.VSICurlClearCache()
        _INHERITED.clear()
    return gdal


class _MessageLog(list):
    """GDAL's messages during a session, scrubbed, also sent to the logger."""

    def __call__(self, err_class, err_no, message):
        message = scrub(message)
        self.append(message)
        # failures become typed errors anyway; warnings (retries) are news
        level = logging.WARNING if err_class == 2 else logging.DEBUG
        LOGGER.log(level, 'GDAL: %s', message)


@contextlib.contextmanager
def gdal_session(url=None):
    """
    Run GDAL calls with :data:`GDAL_OPTIONS` (where the user has not set
    them) as thread-local config options, and with GDAL's messages sent,
    scrubbed, to the ``ndsampler.remote`` logger; both are undone on exit.
    Yields ``(gdal, messages)``: the module and the list of the messages.
    Without GDAL, raises ``BackendUnavailableError`` naming ``url``.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> from osgeo import gdal
        >>> with gdal_session():
        ...     inside = gdal.GetConfigOption('GDAL_HTTP_MULTIPLEX')
        >>> inside, gdal.GetThreadLocalConfigOption('GDAL_HTTP_MULTIPLEX', None)
        ('YES', None)
    """
    gdal = _gdal(url)
    # A key the user set (thread-local, global or environment) is left alone,
    # so every key set here had no thread-local value before: unset it after.
    applied = [(key, value) for key, value in GDAL_OPTIONS.items()
               if value is not None and gdal.GetConfigOption(key) is None]
    for key, value in applied:
        gdal.SetThreadLocalConfigOption(key, value)
    messages = _MessageLog()
    gdal.PushErrorHandler(messages)
    try:
        yield gdal, messages
    finally:
        gdal.PopErrorHandler()
        for key, _ in applied:
            gdal.SetThreadLocalConfigOption(key, None)


def error_for(url, why, vsi_errno=0):
    """
    The typed error for a failed remote operation: 404 / no such object ->
    :class:`RemoteNotFoundError`, 401 / 403 -> :class:`RemoteAccessDeniedError`,
    429 / 5xx / resets / timeouts -> :class:`RemoteUnavailableError`, else
    :class:`RemoteSourceError`; each names the redacted URL.

    Example:
        >>> ex = error_for('https://u:pw@h/a.tif', 'HTTP response code: 404')
        >>> isinstance(ex, FileNotFoundError), ex.filename
        (True, 'https://h/a.tif')
    """
    why = scrub(why)
    match = STATUS_RE.search(why)
    status = int(match.group(1)) if match else None
    name = redact(url)
    missing = RemoteNotFoundError(errno.ENOENT, 'remote source not found ({})'.format(why), name)
    if status == 404 or vsi_errno in VSI_MISSING:
        return missing
    if status in (401, 403) or vsi_errno in VSI_DENIED:
        return RemoteAccessDeniedError(errno.EACCES, 'access to remote source denied '
                                       '({})'.format(why), name)
    if status in (0, 429) or (status or 0) >= 500 or TRANSIENT_RE.search(why):
        return RemoteUnavailableError(errno.EAGAIN, 'remote source unavailable, after '
                                      'retries ({})'.format(why), name)
    if 'does not exist' in why:
        return missing
    return RemoteSourceError(errno.EIO, 'cannot read remote source ({})'.format(why), name)


def attempt(url, action, what=''):
    """
    ``action(gdal)`` in a :func:`gdal_session`, with GDAL errors turned into
    typed ones (``what`` says what was being done) and transient failures
    tried again, with backoff, up to :data:`OPEN_RETRIES` more times.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> attempt('https://h/a.tif', lambda gdal: gdal.GetConfigOption('GDAL_HTTP_MULTIPLEX'))
        'YES'
    """
    for tries in range(OPEN_RETRIES + 1):
        with gdal_session(url) as (gdal, messages):
            delay = float(gdal.GetConfigOption('GDAL_HTTP_RETRY_DELAY') or 0.5)
            gdal.VSIErrorReset()
            try:
                return action(gdal)
            except RuntimeError as ex:
                why = '; '.join([str(ex)] + messages)  # the final error's status first
                error = error_for(url, what + why, gdal.VSIGetLastErrorNo())
            if isinstance(error, RemoteUnavailableError):
                gdal.VSICurlPartialClearCache(to_vsi(url))  # forget the failure
        if not isinstance(error, RemoteUnavailableError) or tries == OPEN_RETRIES:
            raise error from None
        time.sleep(delay * 2 ** tries)


def open_dataset(url):
    """
    An open GDAL dataset on a remote raster; typed errors name the URL.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> # offline: GDAL refuses a .txt (see GDAL_OPTIONS) before any request
        >>> open_dataset('https://user:pw@host.invalid/notes.txt')
        Traceback (most recent call last):
        ...
        ndsampler.errors.RemoteNotFoundError: [Errno 2] remote source not found (...): 'https://host.invalid/notes.txt'
    """
    def action(gdal):
        return gdal.OpenEx(to_vsi(url), gdal.OF_RASTER | gdal.OF_READONLY)
    return attempt(url, action)


def is_tiled(dataset):
    """
    True when a dataset's blocks are narrower than its rows (a COG, a tiled
    TIFF): then a window needs only some of its bytes.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> from osgeo import gdal
        >>> driver = gdal.GetDriverByName('GTiff')
        >>> tiled = driver.Create('/vsimem/t.tif', 600, 600, 1, options=['TILED=YES'])
        >>> strips = driver.Create('/vsimem/s.tif', 600, 600, 1)
        >>> is_tiled(tiled), is_tiled(strips)
        (True, False)
    """
    if dataset.RasterCount == 0:
        return False
    return dataset.GetRasterBand(1).GetBlockSize()[0] < dataset.RasterXSize


def stat(url):
    """
    ``(size, etag, mtime)`` of a remote file, from one ``HEAD`` (GDAL's
    ``VSIStatL`` and the response headers; ``etag`` may be ``''``).

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> # offline: GDAL refuses a .txt (see GDAL_OPTIONS) before any request
        >>> stat('https://host.invalid/notes.txt?X-Amz-Signature=abc')
        Traceback (most recent call last):
        ...
        ndsampler.errors.RemoteNotFoundError: [Errno 2] ...: 'https://host.invalid/notes.txt?X-Amz-Signature=REDACTED'
    """
    def action(gdal):
        vsi = to_vsi(url)
        st = gdal.VSIStatL(vsi)
        if st is None:
            raise RuntimeError(gdal.VSIGetLastErrorMsg() or 'does not exist')
        headers = gdal.GetFileMetadata(vsi, 'HEADERS') or {}
        etag = next((v for k, v in headers.items() if k.lower() == 'etag'), '')
        return st.size, etag.strip('"'), st.mtime
    return attempt(url, action)


def source_key(url, hashid_mode='PATH'):
    """
    A 16-hex-digit key of a remote file's identity: its URL (without
    credentials or signatures), size, ``ETag`` and modification time.  With
    ``'PIXELS'`` the URL is left out when the server gives an ``ETag``
    (a content hash on S3 and GCS), so copies share a cache.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> # offline: GDAL refuses a .txt (see GDAL_OPTIONS) before any request
        >>> try:
        ...     source_key('https://host.invalid/notes.txt')
        ... except FileNotFoundError as ex:
        ...     print(type(ex).__name__, ex.filename)
        RemoteNotFoundError https://host.invalid/notes.txt
    """
    size, etag, mtime = stat(url)
    name = '' if hashid_mode == 'PIXELS' and etag else redact(url, drop=True)
    text = '{}|{}|{}|{}'.format(name, size, etag, mtime)
    return hashlib.sha1(text.encode('utf8')).hexdigest()[:16]


def cache_fpath(cache_dpath, url, key, ext):
    """
    ``<cache_dpath>/<stem>_<url hash>_<key><ext>`` for a remote source.

    Example:
        >>> cache_fpath('/c', 'https://h/d/img 1.png?sig=9', 'k', '.npy')
        '/c/img_1_b1ae9811_k.npy'
    """
    stem = os.path.splitext(os.path.basename(urlsplit(_split_vsi(url)[1]).path
                                             if '://' in url else url.split('?')[0]))[0]
    stem = re.sub(r'[^A-Za-z0-9._-]', '_', stem)[:40]
    url_hash = hashlib.sha1(redact(url, drop=True).encode('utf8')).hexdigest()[:8]
    return join(cache_dpath, '{}_{}_{}{}'.format(stem, url_hash, key, ext))


def fetch(url, dst):
    """
    Copy a remote file to the local path ``dst``, in large range requests;
    ``RemoteSourceError`` when fewer bytes arrive than its size.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> # offline: GDAL refuses a .txt (see GDAL_OPTIONS) before any request
        >>> import os, tempfile
        >>> dst = os.path.join(tempfile.mkdtemp(), 'notes.txt')
        >>> try:
        ...     fetch('https://host.invalid/notes.txt', dst)
        ... except FileNotFoundError as ex:
        ...     print(type(ex).__name__, os.path.exists(dst))
        RemoteNotFoundError False
    """
    def action(gdal):
        vsi = to_vsi(url)
        st = gdal.VSIStatL(vsi)
        if st is None:
            raise RuntimeError(gdal.VSIGetLastErrorMsg() or 'does not exist')
        size = st.size
        handle = gdal.VSIFOpenExL(vsi, 'rb', True)
        got = 0
        try:
            with open(dst, 'wb') as file:
                while got < size:
                    block = gdal.VSIFReadL(1, min(FETCH_CHUNK, size - got), handle)
                    if not block:
                        break
                    file.write(block)
                    got += len(block)
        finally:
            gdal.VSIFCloseL(handle)
        if got != size:
            raise RuntimeError('received {} of {} bytes'.format(got, size))
    attempt(url, action)
    return dst


def local_copy(url, workdir, hashid_mode='PATH'):
    """
    The path of a local copy of a remote file under
    ``<workdir>/_cache/remote``, fetched once (under a lock, published by
    rename, keyed by the remote identity so a changed file is fetched again).

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> # offline: GDAL refuses a .txt (see GDAL_OPTIONS) before any request
        >>> import os, tempfile
        >>> workdir = tempfile.mkdtemp()
        >>> try:
        ...     local_copy('https://host.invalid/notes.txt', workdir)
        ... except FileNotFoundError as ex:
        ...     print(type(ex).__name__, os.listdir(workdir))
        RemoteNotFoundError []
    """
    from ndsampler import _cachefile
    ext = ext_of(url)
    dpath = join(os.fspath(workdir), '_cache', 'remote')
    key = source_key(url, hashid_mode)
    dst = cache_fpath(dpath, url, key, ext)
    return os.fspath(_cachefile.build_once(dst, lambda tmp: fetch(url, tmp),
                                           family_glob=_cachefile.family_glob(dst, key, ext)))


@contextlib.contextmanager
def temporary_copy(url, beside=None):
    """A local copy of a remote file, deleted on exit: named after ``beside``
    (a cache file's temporary, so a killed builder's leftovers go with it)
    in its directory, or in the system's temporary directory.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> # offline: GDAL refuses a .txt (see GDAL_OPTIONS) before any request
        >>> import glob, os, tempfile
        >>> beside = os.path.join(tempfile.mkdtemp(), 'cache.npy.tmp')
        >>> try:
        ...     with temporary_copy('https://host.invalid/notes.txt', beside=beside) as path:
        ...         pass
        ... except FileNotFoundError as ex:
        ...     print(type(ex).__name__, glob.glob(beside + '*'))
        RemoteNotFoundError []
    """
    kwargs = {} if beside is None else {'prefix': os.path.basename(beside) + '.',
                                        'dir': os.path.dirname(beside) or '.'}
    fd, path = tempfile.mkstemp(suffix=ext_of(url), **kwargs)
    os.close(fd)
    try:
        yield fetch(url, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
