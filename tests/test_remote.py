"""
Remote sources (issue 13): images named by ``http://`` and ``s3://`` URLs,
served by a local range-honouring HTTP server and a local moto S3 server
that the tests start themselves.
"""
import logging
import os

import numpy as np
import pytest

gdal = pytest.importorskip('osgeo.gdal')
pytest.importorskip('osgeo.gdal_array')

import kwcoco  # NOQA: E402
import kwimage  # NOQA: E402

import ndsampler  # NOQA: E402
from ndsampler import errors, remote  # NOQA: E402
from _remote_servers import RangeServer, s3_client  # NOQA: E402,F401 (a fixture)

pytestmark = pytest.mark.gdal

COG_SHAPE = (700, 900, 3)
PNG_SHAPE = (120, 150, 3)
STRIP_SHAPE = (200, 300)


def pattern(shape, seed):
    """A gradient with noise: realistic for DEFLATE, exact to compare."""
    h, w, c = shape
    yy, xx = np.mgrid[0:h, 0:w]
    noise = np.random.default_rng(seed).integers(0, 24, size=shape)
    bands = [(yy * (b + 1) // 4 + xx * (3 - b) // 5) for b in range(c)]
    return ((np.stack(bands, axis=2) + noise) % 256).astype(np.uint8)


def write_cog(fpath, array, compress='DEFLATE', level=6):
    from osgeo import gdal_array
    source = gdal_array.OpenArray(np.ascontiguousarray(array.transpose(2, 0, 1)))
    options = ['BLOCKSIZE=256', 'COMPRESS=' + compress, 'LEVEL={}'.format(level),
               'OVERVIEWS=AUTO', 'NUM_THREADS=2']
    gdal.Translate(os.fspath(fpath), source,
                   options=gdal.TranslateOptions(format='COG', creationOptions=options))


@pytest.fixture(scope='session')
def sources(tmp_path_factory):
    """Local files (served by the fixtures below) and their true pixels."""
    root = tmp_path_factory.mktemp('remote_root')
    truth = {'cog.tif': pattern(COG_SHAPE, 1), 'photo.png': pattern(PNG_SHAPE, 2),
             'strip.tif': (np.arange(np.prod(STRIP_SHAPE)).reshape(STRIP_SHAPE + (1,)) * 7
                           % 65521).astype(np.uint16)}
    write_cog(root / 'cog.tif', truth['cog.tif'])
    kwimage.imwrite(root / 'photo.png', truth['photo.png'])
    from osgeo import gdal_array
    strip = gdal_array.OpenArray(np.ascontiguousarray(truth['strip.tif'][:, :, 0]))
    gdal.Translate(os.fspath(root / 'strip.tif'), strip)  # GTiff's default layout: strips
    return root, truth


@pytest.fixture
def server(sources):
    gdal.VSICurlClearCache()
    with RangeServer(sources[0]) as srv:
        yield srv


@pytest.fixture
def fast_retry(monkeypatch):
    """Retries after 10 ms (an environment variable wins over ndsampler's default)."""
    monkeypatch.setenv('GDAL_HTTP_RETRY_DELAY', '0.01')


def make_dset(urls, sizes=True):
    dset = kwcoco.CocoDataset()
    for gid, (url, shape) in enumerate(urls, start=1):
        size = {'height': shape[0], 'width': shape[1]} if sizes else {}
        dset.add_image(file_name=url, id=gid, **size)
    dset.fpath = '/nonexistent/bundle/data.kwcoco.json'
    return dset


def expected_window(truth, y0, y1, x0, x1):
    arr = truth if truth.ndim == 3 else truth[:, :, None]
    out = np.zeros((y1 - y0, x1 - x0, arr.shape[2]), arr.dtype)
    ya, yb, xa, xb = max(y0, 0), min(y1, arr.shape[0]), max(x0, 0), min(x1, arr.shape[1])
    out[ya - y0:yb - y0, xa - x0:xb - x0] = arr[ya:yb, xa:xb]
    return out


WINDOWS = [(0, 64, 0, 80), (300, 556, 600, 900), (-10, 30, 880, 920), (650, 700, 0, 900)]


def check_windows(sampler, gid, truth, windows=WINDOWS):
    for y0, y1, x0, x1 in windows:
        target = {'gid': gid, 'space_slice': (slice(y0, y1), slice(x0, x1))}
        got = sampler.load_sample(target, with_annots=False)['im']
        np.testing.assert_array_equal(got, expected_window(truth, y0, y1, x0, x1))


@pytest.mark.parametrize('backend', [None, 'npy', 'cog'])
def test_http_pixels(server, sources, tmp_path, backend):
    _, truth = sources
    urls = [(server.url('cog.tif'), COG_SHAPE), (server.url('photo.png'), PNG_SHAPE),
            (server.url('strip.tif'), STRIP_SHAPE)]
    sampler = ndsampler.CocoSampler(make_dset(urls, sizes=backend != 'npy'), workdir=tmp_path,
                                    backend=backend)
    check_windows(sampler, 1, truth['cog.tif'])
    check_windows(sampler, 2, truth['photo.png'], [(0, 120, 0, 150), (100, 130, -5, 20)])
    check_windows(sampler, 3, truth['strip.tif'], [(10, 90, 250, 310)])
    # explicit values: pixel (y=5, x=7) of the gradient, whatever the noise added
    y, x = 5, 7
    value = sampler.load_sample({'gid': 1, 'space_slice': (slice(y, y + 1), slice(x, x + 1))},
                                with_annots=False)['im'][0, 0]
    noise = np.random.default_rng(1).integers(0, 24, size=COG_SHAPE)[y, x]
    assert value.tolist() == [(y * (b + 1) // 4 + x * (3 - b) // 5 + noise[b]) % 256
                              for b in range(3)]
    assert sampler.frames.open(1).dims == COG_SHAPE[0:2]
    if backend is None:  # the COG is read in place: no local file
        assert not (tmp_path / '_cache' / 'frames').exists()
    else:
        caches = list((tmp_path / '_cache' / 'frames').rglob('cog_*' + sampler.frames.backend.ext))
        assert len(caches) == 1


def test_images_without_size_take_it_from_the_remote_header(server, sources, tmp_path):
    urls = [(server.url('cog.tif'), COG_SHAPE), (server.url('photo.png'), PNG_SHAPE)]
    sampler = ndsampler.CocoSampler(make_dset(urls, sizes=False), workdir=tmp_path, backend=None)
    assert sampler.frames.open(1).dims == COG_SHAPE[0:2]
    assert sampler.frames.open(2).dims == PNG_SHAPE[0:2]
    sample = sampler.load_sample({'gid': 2}, with_annots=False)
    np.testing.assert_array_equal(sample['im'], sources[1]['photo.png'])


def test_remote_names_are_not_joined_with_the_bundle(server):
    from ndsampler._pathinfo import build_pathinfo
    dset = make_dset([(server.url('cog.tif'), COG_SHAPE), ('/vsis3/b/k.tif', COG_SHAPE)])
    frames = ndsampler.CocoSampler(dset, backend=None).frames
    assert frames._lookup_parts(1)[0].fpath == server.url('cog.tif')
    assert frames._lookup_parts(2)[0].fpath == '/vsis3/b/k.tif'
    assert build_pathinfo(frames, 1)['channels'][None]['path'] == server.url('cog.tif')


@pytest.fixture(scope='session')
def big_cog(tmp_path_factory):
    """An 8192 x 8192 RGB COG with 256 px tiles, DEFLATE, made once per session."""
    root = tmp_path_factory.mktemp('big_cog')
    ramp = (np.arange(8192) // 32).astype(np.uint8)
    array = np.random.default_rng(0).integers(0, 32, size=(8192, 8192, 3), dtype=np.uint8)
    array[:, :, 0] += ramp[None, :]
    array[:, :, 1] += ramp[:, None]
    array[:, :, 2] += ramp[:, None] // 2 + ramp[None, :] // 2
    write_cog(root / 'big.tif', array, level=1)
    return root, array


def test_random_windows_fetch_only_their_tiles(big_cog, tmp_path):
    root, array = big_cog
    size = os.path.getsize(root / 'big.tif')
    gdal.VSICurlClearCache()
    with RangeServer(root) as srv:
        dset = make_dset([(srv.url('big.tif'), array.shape)])
        sampler = ndsampler.CocoSampler(dset, workdir=tmp_path, backend=None)
        rng = np.random.default_rng(13)
        for _ in range(20):
            y0, x0 = (int(v) for v in rng.integers(0, 8192 - 224, size=2))
            got = sampler.load_sample({'gid': 1, 'space_slice': (slice(y0, y0 + 224),
                                                                 slice(x0, x0 + 224))},
                                      with_annots=False)['im']
            np.testing.assert_array_equal(got, array[y0:y0 + 224, x0:x0 + 224])
        served = srv.bytes_served('big.tif')
    ratio = served / size
    print('served {} of {} bytes ({:.1%})'.format(served, size, ratio))
    assert ratio <= 0.10


def test_non_tiled_remote_file_is_fetched_once(server, sources, tmp_path):
    root, truth = sources
    urls = [(server.url('photo.png'), PNG_SHAPE), (server.url('strip.tif'), STRIP_SHAPE)]
    for _ in range(2):  # two samplers sharing a workdir
        sampler = ndsampler.CocoSampler(make_dset(urls), workdir=tmp_path, backend=None)
        for y0 in (0, 40, 80):
            check_windows(sampler, 1, truth['photo.png'], [(y0, y0 + 40, 10, 60)])
            check_windows(sampler, 2, truth['strip.tif'], [(y0, y0 + 40, 10, 60)])
    assert len(server.gets('photo.png')) == 1
    assert server.bytes_served('photo.png') == os.path.getsize(root / 'photo.png')
    assert server.bytes_served('strip.tif') == os.path.getsize(root / 'strip.tif')
    copies = sorted(p.name for p in (tmp_path / '_cache' / 'remote').iterdir())
    assert [p.rsplit('.', 1)[1] for p in copies] == ['png', 'ok', 'tif', 'ok']


def test_concurrent_first_touches_fetch_once(server, sources, tmp_path):
    """Threads of samplers sharing a workdir open a remote PNG at once."""
    import threading
    truth = sources[1]['photo.png']
    results = []

    def touch():
        sampler = ndsampler.CocoSampler(make_dset([(server.url('photo.png'), PNG_SHAPE)]),
                                        workdir=tmp_path, backend=None)
        results.append(sampler.load_sample({'gid': 1}, with_annots=False)['im'])

    threads = [threading.Thread(target=touch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 4 and all((im == truth).all() for im in results)
    assert len(server.gets('photo.png')) == 1
    names = sorted(p.name for p in (tmp_path / '_cache' / 'remote').iterdir())
    assert len(names) == 2 and names[1] == names[0] + '.ok'


def test_503_is_retried(server, sources, tmp_path, fast_retry):
    server.fail('cog.tif', 2)
    sampler = ndsampler.CocoSampler(make_dset([(server.url('cog.tif'), COG_SHAPE)]),
                                    workdir=tmp_path, backend=None)
    check_windows(sampler, 1, sources[1]['cog.tif'], WINDOWS[0:1])
    server.fail('cog.tif', 2)  # in the middle of reading windows
    check_windows(sampler, 1, sources[1]['cog.tif'], WINDOWS[1:2])
    assert [r[0] for r in server.requests].count('GET') > 2


def test_dropped_connections_are_retried(server, sources, tmp_path, fast_retry):
    server.fail('photo.png', 2, code=0)  # on the HEAD of the cache key
    sampler = ndsampler.CocoSampler(make_dset([(server.url('photo.png'), PNG_SHAPE)]),
                                    workdir=tmp_path, backend='npy')
    check_windows(sampler, 1, sources[1]['photo.png'], [(0, 120, 0, 150)])
    sampler = ndsampler.CocoSampler(make_dset([(server.url('cog.tif'), COG_SHAPE)]),
                                    workdir=tmp_path, backend=None)
    check_windows(sampler, 1, sources[1]['cog.tif'], WINDOWS[0:1])
    server.fail('cog.tif', 2, code=0)  # in the middle of reading windows
    check_windows(sampler, 1, sources[1]['cog.tif'], WINDOWS[1:2])


SECRETS = ('s3cretPassw0rd', 'SIGNATURESECRET', 'CREDENTIALSECRET')


def signed(url):
    scheme, rest = url.split('://')
    return '{}://alice:{}@{}?X-Amz-Signature={}&X-Amz-Credential={}&v=2'.format(
        scheme, SECRETS[0], rest, SECRETS[1], SECRETS[2])


@pytest.mark.parametrize('backend', [None, 'npy'])
def test_404_names_the_url_and_no_secret(server, tmp_path, monkeypatch, caplog, capfd, backend):
    monkeypatch.setenv('AWS_SECRET_ACCESS_KEY', 'envSecretValue123')
    caplog.set_level(logging.DEBUG)
    url = signed(server.url('missing.tif'))
    sampler = ndsampler.CocoSampler(make_dset([(url, COG_SHAPE)]), workdir=tmp_path,
                                    backend=backend)
    with pytest.raises(errors.RemoteNotFoundError) as info:
        sampler.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    assert isinstance(info.value, FileNotFoundError)
    assert isinstance(info.value, errors.SourceReadError)
    message = str(info.value)
    assert '127.0.0.1:{}/missing.tif'.format(server.port) in message
    out, err = capfd.readouterr()
    for text in (message, repr(info.value), out, err, caplog.text):
        for secret in SECRETS + ('envSecretValue123',):
            assert secret not in text


def test_403_is_a_permission_error(server, tmp_path, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    server.fail('cog.tif', 100, code=403)
    sampler = ndsampler.CocoSampler(make_dset([(signed(server.url('cog.tif')), COG_SHAPE)]),
                                    workdir=tmp_path, backend=None)
    with pytest.raises(PermissionError) as info:
        sampler.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    assert isinstance(info.value, errors.RemoteAccessDeniedError)
    out, err = capfd.readouterr()
    for text in (str(info.value), out, err, caplog.text):
        assert not any(secret in text for secret in SECRETS)


def test_retries_are_logged_without_secrets(server, sources, tmp_path, caplog, capfd,
                                            fast_retry):
    caplog.set_level(logging.DEBUG, logger='ndsampler.remote')
    server.fail('cog.tif', 1)
    sampler = ndsampler.CocoSampler(make_dset([(signed(server.url('cog.tif')), COG_SHAPE)]),
                                    workdir=tmp_path, backend=None)
    check_windows(sampler, 1, sources[1]['cog.tif'], WINDOWS[0:1])
    assert '503' in caplog.text and 'REDACTED' in caplog.text
    out, err = capfd.readouterr()
    for text in (out, err, caplog.text):
        assert not any(secret in text for secret in SECRETS)


def test_gdal_options_are_scoped_and_overridable(server, tmp_path, monkeypatch):
    seen = {}
    real = remote.open_dataset

    def spy(url):
        seen['retry'] = gdal.GetConfigOption('GDAL_HTTP_MAX_RETRY')
        with remote.gdal_session():
            seen['inside'] = {k: gdal.GetConfigOption(k) for k in remote.GDAL_OPTIONS}
        return real(url)

    monkeypatch.setattr(remote, 'open_dataset', spy)
    monkeypatch.setenv('GDAL_HTTP_MAX_RETRY', '1')
    monkeypatch.setitem(remote.GDAL_OPTIONS, 'CPL_VSIL_CURL_CACHE_SIZE', str(8 << 20))
    sampler = ndsampler.CocoSampler(make_dset([(server.url('cog.tif'), COG_SHAPE)]),
                                    workdir=tmp_path, backend=None)
    sampler.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    assert seen['inside']['GDAL_HTTP_MAX_RETRY'] == '1'          # the user's value wins
    assert seen['inside']['CPL_VSIL_CURL_CACHE_SIZE'] == str(8 << 20)
    assert seen['inside']['GDAL_DISABLE_READDIR_ON_OPEN'] == 'EMPTY_DIR'
    for key in ('GDAL_HTTP_MULTIPLEX', 'GDAL_DISABLE_READDIR_ON_OPEN'):
        assert gdal.GetConfigOption(key) is None                 # nothing leaks out


def test_changed_remote_file_gets_a_new_cache(server, sources, tmp_path):
    root = tmp_path / 'served'
    root.mkdir()
    first, second = pattern(PNG_SHAPE, 5), pattern(PNG_SHAPE, 6)
    kwimage.imwrite(root / 'x.png', first)
    gdal.VSICurlClearCache()
    with RangeServer(root) as srv:
        dset = make_dset([(srv.url('x.png'), PNG_SHAPE)])
        sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'work', backend='npy')
        check_windows(sampler, 1, first, [(0, 120, 0, 150)])
        kwimage.imwrite(root / 'x.png', second)
        os.utime(root / 'x.png', (1, 1))
        gdal.VSICurlClearCache()
        sampler = ndsampler.CocoSampler(dset, workdir=tmp_path / 'work', backend='npy')
        check_windows(sampler, 1, second, [(0, 120, 0, 150)])
    assert len(list((tmp_path / 'work' / '_cache' / 'frames' / 'npy').glob('x_*.npy'))) == 1


def test_signed_urls_share_one_cache_name():
    a = remote.cache_fpath('/c', 'https://h/a.tif?X-Amz-Signature=1&v=1', 'k', '.npy')
    b = remote.cache_fpath('https://h', 'https://u:p@h/a.tif?X-Amz-Signature=2&v=1', 'k', '.npy')
    assert os.path.basename(a) == os.path.basename(b)
    assert remote.to_vsi('gs://b/k.tif') == '/vsigs/b/k.tif'
    assert remote.to_vsi('http://h/k.tif') == '/vsicurl/http://h/k.tif'


@pytest.fixture
def s3(s3_client, sources):
    root, _ = sources
    s3_client.create_bucket(Bucket='bucket')
    for name in ('cog.tif', 'photo.png'):
        s3_client.upload_file(os.fspath(root / name), 'bucket', 'data/' + name)
    gdal.VSICurlClearCache()
    return s3_client


@pytest.mark.parametrize('backend', [None, 'npy', 'cog'])
def test_s3_pixels(s3, sources, tmp_path, backend, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    _, truth = sources
    urls = [('s3://bucket/data/cog.tif', COG_SHAPE), ('/vsis3/bucket/data/photo.png', PNG_SHAPE)]
    sampler = ndsampler.CocoSampler(make_dset(urls), workdir=tmp_path, backend=backend)
    check_windows(sampler, 1, truth['cog.tif'])
    check_windows(sampler, 2, truth['photo.png'], [(0, 120, 0, 150)])
    with pytest.raises(errors.RemoteNotFoundError, match='s3://bucket/data/nope.tif'):
        missing = ndsampler.CocoSampler(make_dset([('s3://bucket/data/nope.tif', COG_SHAPE)]),
                                        workdir=tmp_path, backend=backend)
        missing.load_sample({'gid': 1, 'cx': 5, 'cy': 5, 'width': 4, 'height': 4})
    out, err = capfd.readouterr()
    secret = os.environ['AWS_SECRET_ACCESS_KEY']
    assert secret not in out + err + caplog.text


_FORKED = {}


def _forked_window(corner):
    y0, x0 = corner
    sampler = _FORKED['sampler']
    return sampler.load_sample({'gid': 1, 'space_slice': (slice(y0, y0 + 64), slice(x0, x0 + 64))},
                               with_annots=False)['im']


def test_forked_workers_read_remote_windows(server, sources, tmp_path):
    """A forked child (a DataLoader worker) opens its own remote handles."""
    import multiprocessing
    truth = sources[1]['cog.tif']
    sampler = ndsampler.CocoSampler(make_dset([(server.url('cog.tif'), COG_SHAPE)]),
                                    workdir=tmp_path, backend=None)
    check_windows(sampler, 1, truth, WINDOWS[0:1])  # the parent holds an open handle
    _FORKED['sampler'] = sampler
    corners = [(y, x) for y in (0, 200, 500, 636) for x in (0, 300, 836)]
    try:
        with multiprocessing.get_context('fork').Pool(2) as pool:
            windows = pool.map(_forked_window, corners)
    finally:
        _FORKED.clear()
    for (y0, x0), window in zip(corners, windows):
        np.testing.assert_array_equal(window, truth[y0:y0 + 64, x0:x0 + 64])
    check_windows(sampler, 1, truth, WINDOWS[1:2])


@pytest.mark.parametrize('mode', ['SERIAL', 'SINGLE_GET'])
def test_other_range_strategies_read_the_same_pixels(server, sources, tmp_path, monkeypatch,
                                                     mode):
    """GDAL's other ways of fetching several tiles: one request after another,
    or one request spanning them."""
    monkeypatch.setenv('GDAL_HTTP_MULTIRANGE', mode)
    monkeypatch.setenv('GDAL_HTTP_MULTIPLEX', 'NO')
    sampler = ndsampler.CocoSampler(make_dset([(server.url('cog.tif'), COG_SHAPE)]),
                                    workdir=tmp_path, backend=None)
    check_windows(sampler, 1, sources[1]['cog.tif'], [(0, 512, 0, 512), (100, 700, 200, 900)])


def test_server_answers_several_ranges_as_multipart(server, sources):
    import email
    import urllib.request
    request = urllib.request.Request(server.url('photo.png'), headers={'Range': 'bytes=0-3,10-12'})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206
        body = response.read()
        kind = response.headers['Content-Type']
    message = email.message_from_bytes(b'Content-Type: ' + kind.encode() + b'\r\n\r\n' + body)
    parts = [part.get_payload(decode=True) for part in message.get_payload()]
    data = (sources[0] / 'photo.png').read_bytes()
    assert parts == [data[0:4], data[10:13]]
    assert server.bytes_served('photo.png') == 7
