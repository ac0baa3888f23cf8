"""
The modules client code of ndsampler 0.8.1 imports besides the sampler:
``coerce_data``, ``frame_cache``, ``utils.util_sklearn``, ``util_gdal``,
``util_lru``, ``util_futures``, ``util_shape``, ``validate_cog``, the
pathinfo record, and ``hashid`` stability across processes.
"""
import json
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest


@pytest.fixture
def gdal():
    pytest.importorskip('osgeo.gdal_array')
    from ndsampler.utils.util_gdal import import_gdal
    return import_gdal()


def run_python(code, **env):
    """Run ``code`` in a fresh interpreter; return its stdout (fail on error)."""
    full_env = dict(os.environ, **env)
    out = subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                         text=True, env=full_env)
    assert out.returncode == 0, out.stderr
    return out.stdout


# -- importing without the optional dependencies -----------------------------------

def test_every_compat_module_imports_without_gdal_and_gdal_functions_raise():
    out = run_python('''
        import sys
        sys.modules['osgeo'] = None  # as if GDAL were not installed
        import numpy as np
        import ndsampler.coerce_data, ndsampler.frame_cache, ndsampler._pathinfo
        from ndsampler.utils import (util_gdal, util_lru, util_futures, util_shape,
                                     util_sklearn, validate_cog)
        from ndsampler.errors import BackendUnavailableError
        print(util_gdal.have_gdal())
        calls = [lambda: util_gdal.import_gdal(),
                 lambda: util_gdal.LazyGDalFrameFile('x.tif').shape,
                 lambda: util_gdal._imwrite_cloud_optimized_geotiff('x.tif', np.zeros((2, 2))),
                 lambda: util_gdal.batch_convert_to_cog(['a.png'], ['a.tif']),
                 lambda: validate_cog.validate('x.tif'),
                 lambda: ndsampler.frame_cache._cog_cache_write('a.png', 'a.tif', {})]
        for call in calls:
            try:
                call()
            except BackendUnavailableError as ex:
                assert isinstance(ex, ImportError)
                print('unavailable')
        print(util_gdal._auto_compress(data=np.zeros((2, 2, 3), np.uint8)))
        print(util_gdal.validate_nonzero_data(np.ones((3, 3))))
    ''')
    assert out.split() == ['False'] + ['unavailable'] * 6 + ['JPEG', 'True']


# -- util_lru ----------------------------------------------------------------------

def test_lru_dict_evicts_the_least_recently_used_key():
    from ndsampler.utils.util_lru import LRUDict
    cache = LRUDict(3)
    for key in 'abc':
        cache[key] = key.upper()
    assert cache['a'] == 'A'           # a is now the most recent
    cache['d'] = 'D'                   # evicts b
    assert list(cache) == ['c', 'a', 'd']
    cache['c'] = 'C2'                  # overwriting touches c
    cache['e'] = 'E'                   # evicts a
    assert list(cache.items()) == [('d', 'D'), ('c', 'C2'), ('e', 'E')]
    assert cache.get('d') == 'D' and cache.get('zzz', 0) == 0
    assert list(cache.keys()) == ['c', 'e', 'd']
    assert 'a' not in cache and cache.has_key('c') and len(cache) == 3
    del cache['e']
    assert list(cache.values()) == ['C2', 'D']
    cache.clear()
    assert len(cache) == 0


def test_lru_dict_set_size_drops_the_oldest_items():
    from ndsampler.utils.util_lru import LRUDict
    cache = LRUDict(10)
    cache.update(dict(zip(range(10), range(10))))
    cache[0]
    cache.set_size(3)
    assert list(cache) == [8, 9, 0] and cache.get_size() == 3
    cache.set_size(10)
    assert list(cache) == [8, 9, 0]
    with pytest.raises(ValueError):
        cache.set_size(0)
    with pytest.raises(ValueError):
        LRUDict(0)


def test_lru_dict_new_chooses_an_implementation():
    from ndsampler.utils.util_lru import LRUDict
    assert type(LRUDict.new(4, impl='py')) is LRUDict
    auto = LRUDict.new(2)
    auto[1], auto[2], auto[3] = 1, 2, 3
    assert sorted(auto.keys()) == [2, 3]
    with pytest.raises(KeyError):
        LRUDict.new(2, impl='rust')
    try:
        import lru  # NOQA
    except ImportError:
        with pytest.raises(ImportError):
            LRUDict.new(2, impl='c')
    else:
        assert type(LRUDict.new(2, impl='c')).__name__ == 'LRU'


def test_lru_dict_pickles_with_its_order():
    from ndsampler.utils.util_lru import LRUDict
    cache = LRUDict(2)
    cache.update({'x': 1, 'y': 2})
    cache['x']
    clone = pickle.loads(pickle.dumps(cache))
    clone['z'] = 3
    assert list(clone) == ['x', 'z']


# -- util_futures ------------------------------------------------------------------

@pytest.mark.parametrize('mode, workers', [('serial', 0), ('thread', 0), ('thread', 3),
                                           ('process', 2)])
def test_executor_runs_jobs_in_every_mode(mode, workers):
    from ndsampler.utils.util_futures import Executor
    with Executor(mode=mode, max_workers=workers) as executor:
        futures = [executor.submit(pow, 3, n) for n in range(5)]
        assert [f.result() for f in futures] == [1, 3, 9, 27, 81]


def test_serial_executor_runs_a_job_when_its_result_is_asked_for():
    from ndsampler.utils.util_futures import SerialExecutor, as_completed
    calls = []
    with SerialExecutor() as executor:
        future = executor.submit(calls.append, 'ran')
        results = [f.result() for f in as_completed([future])]
    assert calls == ['ran'] and results == [None]


def test_job_pool_counts_and_collects_jobs():
    from ndsampler.utils.util_futures import JobPool
    pool = JobPool('thread', max_workers=2)
    with pool:
        for n in range(7):
            pool.submit(divmod, n, 3)
        assert len(pool) == 7
        assert sorted(job.result() for job in pool) == sorted(divmod(n, 3) for n in range(7))
    with pytest.raises(KeyError):
        JobPool('fiber', max_workers=2)


# -- util_shape --------------------------------------------------------------------

def test_nestshape_reports_shapes_of_nested_arrays():
    from ndsampler.utils.util_shape import nestshape
    data = {'im': np.zeros((2, 3, 4)), 'meta': {'gid': 7, 'name': 'x', 'pad': None,
                                                 'slice': slice(0, 5)},
            'boxes': [np.zeros((5, 4)), (np.zeros(3), 1.5)]}
    assert nestshape(data) == {
        'boxes': [(5, 4), ((3,), 1.5)], 'im': (2, 3, 4),
        'meta': {'gid': 7, 'name': 'x', 'pad': None, 'slice': slice(0, 5)}}
    assert list(nestshape({'b': 1, 'a': 2})) == ['a', 'b']
    with pytest.raises(TypeError):
        nestshape({'bad': object()})


def test_nestshape_describes_containers_and_tensors():
    from ndsampler.utils.util_shape import nestshape

    class DataContainer:
        def __init__(self, data):
            self.data, self.stack, self.cpu_only = data, True, False

    assert nestshape([DataContainer([np.zeros((1, 2))])]) == [
        {'DataContainer{cpu_only=False, stack=True}': [(1, 2)]}]
    torch = pytest.importorskip('torch')
    assert nestshape({'t': torch.zeros(2, 5)}) == {'t': (2, 5)}


# -- util_sklearn ------------------------------------------------------------------

def test_stratified_group_kfold_reproduces_the_original_folds():
    from ndsampler.utils.util_sklearn import StratifiedGroupKFold
    groups = [1, 1, 3, 4, 2, 2, 7, 8, 8]
    y = [1, 1, 1, 1, 2, 2, 2, 3, 3]
    splitter = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=0)
    folds = [(train.tolist(), test.tolist())
             for train, test in splitter.split(np.empty((9, 0)), y, groups)]
    assert folds == [([2, 3, 4, 5, 6], [0, 1, 7, 8]),
                     ([0, 1, 2, 7, 8], [3, 4, 5, 6]),
                     ([0, 1, 3, 4, 5, 6, 7, 8], [2])]


def test_stratified_group_kfold_folds_are_disjoint_whole_groups_and_stratified():
    from ndsampler.utils.util_sklearn import StratifiedGroupKFold
    rng = np.random.RandomState(0)
    groups = np.repeat(np.arange(60), 5)
    y = np.where(rng.rand(300) < 0.7, 'common', 'rare')
    folds = list(StratifiedGroupKFold(n_splits=4).split(y, y, groups))
    tests = [set(test.tolist()) for _, test in folds]
    assert sorted(i for t in tests for i in t) == list(range(300))  # a partition
    for train, test in folds:
        assert not set(train) & set(test)
        assert sorted(set(train) | set(test)) == list(range(300))
        assert not set(groups[train]) & set(groups[test])           # groups stay whole
        rare = np.mean(y[test] == 'rare')
        assert abs(rare - np.mean(y == 'rare')) < 0.05               # classes balanced
        assert 60 <= len(test) <= 90                                 # sizes balanced


def test_stratified_group_kfold_validates_and_speaks_sklearn():
    from ndsampler.utils.util_sklearn import StratifiedGroupKFold
    with pytest.raises(ValueError):
        StratifiedGroupKFold(n_splits=1)
    with pytest.raises(ValueError):
        list(StratifiedGroupKFold(2).split(np.zeros(3), [0, 1]))
    splitter = StratifiedGroupKFold(5)
    assert splitter.get_n_splits() == 5
    assert splitter.random_state is None  # dropped without shuffle
    try:
        import sklearn.model_selection as sklearn
        from sklearn.dummy import DummyClassifier
    except Exception:  # absent, or broken by a hidden torch (scipy probes sys.modules)
        pytest.skip('scikit-learn does not import')
    assert isinstance(splitter, sklearn.BaseCrossValidator)
    X, y = np.zeros((10, 1)), np.array([0, 1] * 5)
    scores = sklearn.cross_val_score(DummyClassifier(), X, y, cv=StratifiedGroupKFold(2),
                                     groups=np.arange(10) // 2)
    assert len(scores) == 2


def test_stratified_group_kfold_works_without_sklearn():
    out = run_python('''
        import sys
        sys.modules['sklearn'] = None
        import numpy as np
        from ndsampler.utils.util_sklearn import StratifiedGroupKFold
        folds = StratifiedGroupKFold(3).split(np.empty((9, 0)), [1, 1, 1, 1, 2, 2, 2, 3, 3],
                                              [1, 1, 3, 4, 2, 2, 7, 8, 8])
        print([test.tolist() for _, test in folds])
    ''')
    assert out.strip() == '[[0, 1, 7, 8], [3, 4, 5, 6], [2]]'


# -- coerce_data -------------------------------------------------------------------

def test_split_train_vali_test_gives_disjoint_image_sets():
    import kwcoco
    from ndsampler.coerce_data import _split_train_vali_test
    dset = kwcoco.CocoDataset.demo('shapes8')
    split = _split_train_vali_test(dset)
    assert split == {'train': [1, 3, 4, 6, 8], 'vali': [5], 'test': [2, 7]}
    split2 = _split_train_vali_test(dset, factor=2)
    assert sorted(sum(split2.values(), [])) == list(range(1, 9))
    assert not set(split2['train']) & set(split2['vali'])


def test_coerce_datasets_splits_one_dataset(capsys):
    from ndsampler.coerce_data import coerce_datasets
    subsets = coerce_datasets({'datasets': 'special:shapes8'}, verbose=0)
    assert {tag: sorted(d.imgs) for tag, d in subsets.items()} == {
        'train': [1, 3, 4, 6, 8], 'vali': [5], 'test': [2, 7]}
    assert subsets['test'].tag == 'shapes8-test'
    merged = coerce_datasets({'datasets': 'special:shapes8', 'no_test': True}, verbose=0)
    assert {tag: sorted(d.imgs) for tag, d in merged.items()} == {
        'train': [1, 2, 3, 4, 6, 7, 8], 'vali': [5]}
    assert capsys.readouterr().out == ''


def test_coerce_datasets_prefers_explicit_subsets_and_reads_paths(tmp_path):
    import kwcoco
    from ndsampler.coerce_data import coerce_datasets
    vali = kwcoco.CocoDataset.demo('shapes2')
    vali.fpath = str(tmp_path / 'vali.kwcoco.json')
    vali.dump(vali.fpath)
    subsets = coerce_datasets({'datasets': 'special:shapes8',
                               'train_dataset': kwcoco.CocoDataset.demo('shapes1'),
                               'vali_dataset': 'path:' + vali.fpath}, build_hashid=True,
                              verbose=0)
    assert {tag: d.n_images for tag, d in subsets.items()} == {'train': 1, 'vali': 2}
    assert subsets['vali'].hashid == vali._build_hashid()
    with pytest.warns(UserWarning, match='special:'):
        assert coerce_datasets({'test_dataset': 'shapes1'}, verbose=0)['test'].n_images == 1
    with pytest.raises(TypeError):
        coerce_datasets({'train_dataset': 3}, verbose=0)
    assert coerce_datasets({}, verbose=0) == {}


# -- util_gdal: LazyGDalFrameFile --------------------------------------------------

@pytest.fixture
def cog_file(gdal, tmp_path):
    """A 40 x 30 x 3 uint16 COG whose pixel (y, x, c) is 1000 y + 10 x + c."""
    from ndsampler.utils.util_gdal import _imwrite_cloud_optimized_geotiff
    yy, xx, cc = np.mgrid[0:40, 0:30, 0:3]
    data = (1000 * yy + 10 * xx + cc).astype(np.uint16)
    fpath = tmp_path / 'grid.cog.tif'
    _imwrite_cloud_optimized_geotiff(fpath, data, compress='DEFLATE', blocksize=16)
    return fpath, data


def test_lazy_gdal_frame_file_describes_the_raster(cog_file):
    from ndsampler.utils.util_gdal import LazyGDalFrameFile
    fpath, data = cog_file
    file = LazyGDalFrameFile(fpath)
    assert file.shape == (40, 30, 3) and file.ndim == 3 and file.dtype is np.uint16
    assert file.fpath == file.cog_fpath == fpath
    np.testing.assert_array_equal(np.asarray(file), data)
    assert np.asarray(file, dtype=np.float32).dtype == np.float32
    assert repr(file).startswith('<LazyGDalFrameFile(.../grid.cog.tif)')


@pytest.mark.parametrize('index, expected', [
    ((slice(2, 5), slice(3, 7)), (slice(2, 5), slice(3, 7))),
    ((slice(None, -35),), (slice(0, 5),)),                      # negative stop: from the end
    ((slice(-10, 4), slice(25, 100)), (slice(0, 4), slice(25, 30))),   # clipped, not padded
    ((slice(38, 45), slice(-3, 2)), (slice(38, 40), slice(0, 2))),
    ((slice(0, 6, 2), slice(1, 10, 4)), (slice(0, 6, 2), slice(1, 10, 4))),
    ((3,), (slice(3, 4),)),                                      # ints keep their axis
    ((-1, -2), (slice(39, 40), slice(28, 29))),
    ((slice(None), slice(None), 1), (slice(None), slice(None), slice(1, 2))),
    ((slice(0, 2), slice(0, 2), [2, 0]), (slice(0, 2), slice(0, 2), [2, 0])),
    ((Ellipsis, slice(1, 3)), (slice(None), slice(None), slice(1, 3))),
])
def test_lazy_gdal_frame_file_indexing_matches_numpy_on_the_clipped_window(
        cog_file, index, expected):
    from ndsampler.utils.util_gdal import LazyGDalFrameFile
    fpath, data = cog_file
    got = LazyGDalFrameFile(fpath)[index]
    want = data[expected + (slice(None),) * (3 - len(expected))]
    assert got.shape == want.shape and got.dtype == np.uint16
    np.testing.assert_array_equal(got, want)


def test_lazy_gdal_frame_file_windows_outside_the_image_are_empty(cog_file):
    from ndsampler.utils.util_gdal import LazyGDalFrameFile
    file = LazyGDalFrameFile(cog_file[0])
    assert file[45:50].shape == (0, 30, 3)
    assert file[5:8, 31:40].shape == (3, 0, 3)
    assert file[10:5].shape == (0, 30, 3)
    with pytest.raises(IndexError):
        file[40]
    with pytest.raises(IndexError):
        file[0, 0, 3]
    with pytest.raises(IndexError):
        file[0, 0, 0, 0]
    with pytest.raises(ValueError):
        file[::-1]
    with pytest.raises(TypeError):
        file['a']


def test_lazy_gdal_frame_file_pickles_and_reports_missing_files(cog_file, tmp_path):
    from ndsampler.errors import SourceReadError
    from ndsampler.utils.util_gdal import LazyGDalFrameFile
    file = LazyGDalFrameFile(cog_file[0])
    file[0, 0]
    clone = pickle.loads(pickle.dumps(file))
    np.testing.assert_array_equal(clone[1:3, 1:3], file[1:3, 1:3])
    with pytest.raises(SourceReadError) as info:
        LazyGDalFrameFile(tmp_path / 'missing.tif').shape
    assert isinstance(info.value, FileNotFoundError) or info.value.errno == 2


def test_lazy_gdal_frame_file_validate_flags_black_images(gdal, tmp_path):
    from ndsampler.utils.util_gdal import LazyGDalFrameFile, _imwrite_cloud_optimized_geotiff
    fpath = tmp_path / 'black.tif'
    _imwrite_cloud_optimized_geotiff(fpath, np.zeros((20, 20, 1), np.uint8), compress='LZW')
    info = LazyGDalFrameFile(fpath).validate()
    assert (info['status'], info['errors'], info['warnings']) == (
        'pass', [], ['image appears to be all black'])
    info = LazyGDalFrameFile(fpath).validate(orig_data=np.ones((20, 20, 1)))
    assert info['status'] == 'fail' and 'all zeros' in info['errors'][0]
    assert set(info) == {'errors', 'warnings', 'details', 'fpath', 'orig_fpath', 'status'}


def test_lazy_gdal_frame_file_demo_is_a_valid_cog(gdal):
    from ndsampler.utils.util_gdal import LazyGDalFrameFile
    demo = LazyGDalFrameFile.demo('checkerboard', dsize=(40, 24))
    assert demo.shape == (24, 40, 3) and demo.dtype is np.uint8
    assert demo.validate()['status'] == 'pass'


def test_validate_nonzero_data_finds_off_centre_pixels():
    from ndsampler.utils.util_gdal import validate_nonzero_data
    image = np.zeros((2000, 3000, 1), np.uint8)
    assert validate_nonzero_data(image) is False
    image[1999, 0] = 1
    assert validate_nonzero_data(image) is True
    assert validate_nonzero_data(object()) is False


# -- util_gdal: writing COGs -------------------------------------------------------

@pytest.mark.parametrize('dtype, compress', [(np.uint8, 'LZW'), (np.uint16, 'DEFLATE'),
                                             (np.float32, 'ZSTD'), (np.int16, 'RAW'),
                                             (np.uint8, 'auto')])
def test_imwrite_cog_is_lossless_and_a_valid_cog(gdal, tmp_path, dtype, compress):
    from ndsampler._backends.cog import overview_shapes
    from ndsampler.utils.util_gdal import LazyGDalFrameFile, _imwrite_cloud_optimized_geotiff
    from ndsampler.utils.validate_cog import validate
    data = (np.random.RandomState(0).rand(700, 530, 2) * 200).astype(dtype)
    fpath = _imwrite_cloud_optimized_geotiff(tmp_path / 'a.tif', data, compress=compress)
    np.testing.assert_array_equal(LazyGDalFrameFile(fpath)[:], data)
    warnings, errors, details = validate(fpath)
    assert (warnings, errors, details['layout']) == ([], [], 'COG')
    assert details['block_size'] == [256, 256]
    assert details['overview_count'] == len(overview_shapes(700, 530, 256)) == 2
    ds = gdal.Open(str(fpath))
    expected = {'LZW': 'LZW', 'DEFLATE': 'DEFLATE', 'ZSTD': 'ZSTD', 'RAW': None, 'auto': None}
    assert ds.GetMetadataItem('COMPRESSION', 'IMAGE_STRUCTURE') == expected[compress]


def test_imwrite_cog_jpeg_is_lossy_but_close(gdal, tmp_path):
    from ndsampler.utils.util_gdal import LazyGDalFrameFile, _imwrite_cloud_optimized_geotiff
    yy, xx = np.mgrid[0:300, 0:400]
    data = np.stack([yy % 256, xx % 256, (yy + xx) % 256], axis=2).astype(np.uint8)
    fpath = _imwrite_cloud_optimized_geotiff(tmp_path / 'j.tif', data, compress='auto',
                                             blocksize=128)
    back = LazyGDalFrameFile(fpath)[:]
    assert back.shape == data.shape and np.abs(back.astype(int) - data).mean() < 3
    ds = gdal.Open(str(fpath))
    assert ds.GetMetadataItem('COMPRESSION', 'IMAGE_STRUCTURE') == 'YCbCr JPEG'
    assert ds.GetRasterBand(1).GetBlockSize() == [128, 128]


def test_imwrite_cog_rejects_bad_arguments(gdal, tmp_path):
    from ndsampler.utils.util_gdal import _imwrite_cloud_optimized_geotiff
    with pytest.raises(KeyError):
        _imwrite_cloud_optimized_geotiff(tmp_path / 'x.tif', np.zeros((4, 4)), compress='LZMA9')
    with pytest.raises(ValueError):
        _imwrite_cloud_optimized_geotiff(tmp_path / 'x.tif', np.zeros((4, 4, 5), np.uint8),
                                         compress='JPEG')
    with pytest.raises(ValueError):
        _imwrite_cloud_optimized_geotiff(tmp_path / 'x.tif', np.zeros((4, 4), np.float32),
                                         compress='JPEG')


@pytest.mark.parametrize('kwargs, expected', [
    ({'src_fpath': 'a.JPG'}, 'JPEG'), ({'src_fpath': 'a.png'}, 'LZW'),
    ({'src_fpath': 'a.tif', 'data': np.zeros((2, 2, 3), np.uint8)}, 'JPEG'),
    ({'data': np.zeros((2, 2, 4), np.uint8)}, 'RAW'), ({'data': np.zeros((2, 2, 1), np.uint8)}, 'RAW'),
    ({'data': np.zeros((2, 2, 3), np.float32)}, 'RAW'), ({}, 'RAW'),
])
def test_auto_compress_follows_the_original_table(kwargs, expected):
    from ndsampler.utils.util_gdal import _auto_compress
    assert _auto_compress(**kwargs) == expected


def test_batch_convert_and_validate_cogs(gdal, tmp_path):
    import kwimage
    from ndsampler.utils.util_gdal import (LazyGDalFrameFile, batch_convert_to_cog,
                                           batch_validate_cog)
    srcs = [kwimage.imwrite(tmp_path / 'img{}.png'.format(i),
                            np.full((30 + i, 20, 3), 10 * i + 1, np.uint8)) for i in range(4)]
    dsts = [str(tmp_path / 'img{}.cog.tif'.format(i)) for i in range(4)]
    batch_convert_to_cog(srcs, dsts, mode='serial')
    for i, dst in enumerate(dsts):
        file = LazyGDalFrameFile(dst)
        assert file.shape == (30 + i, 20, 3)
        assert np.unique(file[:]).tolist() == [10 * i + 1]
    infos = list(batch_validate_cog(dsts, mode='thread', max_workers=2))
    assert sorted(info['fpath'] for info in infos) == sorted(dsts)
    assert {info['status'] for info in infos} == {'pass'}
    mtimes = [os.stat(d).st_mtime_ns for d in dsts]
    batch_convert_to_cog(srcs, dsts, mode='thread', max_workers=2)  # existing: kept
    assert [os.stat(d).st_mtime_ns for d in dsts] == mtimes


# -- validate_cog ------------------------------------------------------------------

def test_validate_cog_reports_strips_missing_overviews_and_order(gdal, tmp_path):
    from ndsampler._backends.cog import CogBackend
    from ndsampler.utils.validate_cog import validate
    strips = str(tmp_path / 'strips.tif')
    gdal.GetDriverByName('GTiff').Create(strips, 1500, 1000, 1, gdal.GDT_Byte)
    warnings, errors, details = validate(strips)
    assert errors == ['the full resolution image is not tiled']
    assert len(warnings) == 1 and 'overviews' in warnings[0]
    assert details['ifd_offsets'] == {'main': 8} and details['layout'] is None
    assert validate(strips, check_tiled=False)[1] == []
    # the backend's cache file is tiled with overviews, but not in COG order
    cache = str(tmp_path / 'cache.tif')
    CogBackend({'compress': 'DEFLATE'}, tmp_path).write_array(
        cache, np.ones((700, 700, 1), np.uint8), 'DEFLATE')
    warnings, errors, details = validate(cache)
    assert warnings == [] and details['overview_count'] == 2
    assert errors and all('smallest overview first' in e for e in errors)


def test_validate_cog_rejects_other_files(gdal, tmp_path):
    import kwimage
    from ndsampler.utils.validate_cog import ValidateCloudOptimizedGeoTIFFException, main, validate
    png = kwimage.imwrite(tmp_path / 'x.png', np.zeros((4, 4), np.uint8))
    assert validate(png) == ([], ['not a TIFF file (GDAL driver PNG)'], {})
    with pytest.raises(ValidateCloudOptimizedGeoTIFFException):
        validate(tmp_path / 'missing.tif')
    assert main(['-q', str(png)]) == 1
    assert main(['-q', str(tmp_path / 'missing.tif')]) == 1


# -- frame_cache -------------------------------------------------------------------

def test_cog_cache_write_builds_once_and_checks_for_black_output(gdal, tmp_path, monkeypatch):
    import kwimage
    from ndsampler import frame_cache
    from ndsampler.utils import util_gdal
    gpath = kwimage.imwrite(tmp_path / 'src.png', np.full((50, 60, 3), 7, np.uint8))
    dst = tmp_path / 'out.cog.tif'
    assert frame_cache._cog_cache_write(gpath, dst, {'compress': 'auto',
                                                     'hack_use_cli': True}) == str(dst)
    file = util_gdal.LazyGDalFrameFile(dst)
    assert file.shape == (50, 60, 3) and np.unique(file[:]).tolist() == [7]
    mtime = os.stat(dst).st_mtime_ns
    frame_cache._cog_cache_write(gpath, dst, {})
    assert os.stat(dst).st_mtime_ns == mtime
    with pytest.raises(ValueError):
        frame_cache._cog_cache_write(gpath, dst)
    with pytest.raises(ValueError):
        frame_cache._cog_cache_write(gpath, dst, {'colour': 'red'})
    monkeypatch.setattr(util_gdal, 'validate_nonzero_data', lambda file: False)
    with pytest.raises(frame_cache.CorruptCOG):
        frame_cache._cog_cache_write(gpath, dst, {})
    assert not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ['src.png']


# -- CocoFrames._build_pathinfo --------------------------------------------------

def test_pathinfo_mirrors_the_original_record_and_names_the_real_cache(tmp_path):
    import kwcoco
    from ndsampler._pathinfo import build_pathinfo
    from ndsampler.coco_frames import CocoFrames
    dset = kwcoco.CocoDataset.demo('shapes2')
    frames = CocoFrames(dset, backend='npy', workdir=tmp_path)
    info = build_pathinfo(frames, 2)
    assert list(info) == ['id', 'channels', 'default', 'width', 'height', 'norm_to_chan_lut']
    assert (info['id'], info['default'], info['width'], info['height']) == (2, 'rgb', 600, 600)
    chan = info['channels']['rgb']
    assert list(chan) == ['file_name', 'channels', 'norm_channels', 'path', 'hashid',
                          'hashid_mode', 'cache', 'cache_type']
    assert (chan['norm_channels'], chan['hashid_mode'], chan['cache_type']) == ('r|g|b', 'PATH', 'npy')
    frames.load_image(2)  # builds the cache where the record says
    assert os.path.exists(chan['cache'])


def test_pathinfo_lists_assets_with_their_warps(tmp_path):
    import kwcoco
    from ndsampler._pathinfo import build_pathinfo
    from ndsampler.coco_frames import CocoFrames
    from ndsampler.errors import UnknownIdError
    dset = kwcoco.CocoDataset.demo('shapes1')
    img = dset.imgs[1]
    img['auxiliary'] = [{'file_name': 'extra.tif', 'channels': 'depth',
                         'warp_img_to_aux': {'type': 'affine', 'scale': 0.5}}]
    frames = CocoFrames(dset, backend=None, workdir=tmp_path)
    info = build_pathinfo(frames, 1)
    assert list(info['channels']) == ['rgb', 'depth']
    depth = info['channels']['depth']
    np.testing.assert_allclose(depth['warp_aux_to_img']['matrix'],
                               [[2, 0, 0], [0, 2, 0], [0, 0, 1]])
    assert depth['cache_type'] is None and 'cache' not in depth
    assert info['norm_to_chan_lut'] == {'r|g|b': 'rgb', 'depth': 'depth'}
    with pytest.raises(UnknownIdError):
        build_pathinfo(frames, 99)


# -- hashid ------------------------------------------------------------------------

HASHID_SCRIPT = '''
import json, sys
import ubelt as ub
import ndsampler
key, backend, workdir = sys.argv[1:]
sampler = ndsampler.CocoSampler.demo(key, backend=None if backend == 'None' else backend,
                                     workdir=workdir)
print(json.dumps({'hashid': sampler.hashid, 'depends': ub.hash_data(sampler._depends())}))
'''


def sampler_hashid(key, backend, workdir, seed):
    env = dict(os.environ, PYTHONHASHSEED=str(seed))
    out = subprocess.run([sys.executable, '-c', HASHID_SCRIPT, key, str(backend), str(workdir)],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_sampler_hashid_is_stable_across_processes_and_tracks_content(tmp_path):
    first = sampler_hashid('shapes8', 'npy', tmp_path / 'a', seed=1)
    second = sampler_hashid('shapes8', 'npy', tmp_path / 'b', seed=2)
    assert first == second
    assert first['hashid'] == first['depends'] and len(first['hashid']) == 128
    other_backend = sampler_hashid('shapes8', None, tmp_path / 'a', seed=3)
    other_dataset = sampler_hashid('shapes2', 'npy', tmp_path / 'a', seed=4)
    assert len({first['hashid'], other_backend['hashid'], other_dataset['hashid']}) == 3


def test_hash_identifiable_accepts_every_way_of_defining_it():
    from ndsampler.utils.util_misc import HashIdentifiable
    import ubelt as ub

    class ByDepends(HashIdentifiable):
        def _depends(self):
            return {'b': [1, 2], 'a': 'x'}

    class ByTuple(HashIdentifiable):
        def _make_hashid(self):
            return 'given', ['parts']

    class Preset(HashIdentifiable):
        def __init__(self):
            self._hashid = 'preset'

    thing = ByDepends()
    assert thing.hashid == ub.hash_data({'a': 'x', 'b': [1, 2]})
    assert thing._hashid_parts == {'b': [1, 2], 'a': 'x'}
    assert ByTuple().hashid == 'given' and Preset().hashid == 'preset'
    with pytest.raises(NotImplementedError):
        HashIdentifiable().hashid
