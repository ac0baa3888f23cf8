"""
Check that a file is a Cloud Optimized GeoTIFF: tiled, with internal tiled
overviews, and laid out so that a reader finds every IFD (directory) at the
start of the file and the pixels after them, smallest overview first and
full resolution last.

Everything is read through GDAL (optional: without it :func:`validate`
raises :class:`ndsampler.errors.BackendUnavailableError`).  As a script::

    python -m ndsampler.utils.validate_cog [-q] file.tif

Example:
    >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
    >>> import numpy as np, ubelt as ub
    >>> from ndsampler.utils.util_gdal import _imwrite_cloud_optimized_geotiff
    >>> from ndsampler.utils.validate_cog import validate
    >>> fpath = ub.Path.appdir('ndsampler/doctest/validate_cog').ensuredir() / 'ok.tif'
    >>> _ = _imwrite_cloud_optimized_geotiff(fpath, np.zeros((1000, 700, 3), np.uint8), compress='LZW')
    >>> warnings, errors, details = validate(fpath)
    >>> warnings, errors, details['layout'], len(details['ifd_offsets'])
    ([], [], 'COG', 3)
"""
import os
import sys

from ndsampler.errors import NdsamplerError

__all__ = ['validate', 'ValidateCloudOptimizedGeoTIFFException']

#: Images up to this size in both dimensions need neither tiles nor overviews.
SMALL = 512
#: The line that opens GDAL's structural metadata ("ghost area").
GHOST_PREFIX = b'GDAL_STRUCTURAL_METADATA_SIZE='


class ValidateCloudOptimizedGeoTIFFException(NdsamplerError, ValueError):
    """The file cannot be opened by GDAL (or GDAL is too old to inspect it)."""


def validate(ds, check_tiled=True):
    """
    Check the structure of a (Geo)TIFF for cloud-optimised reading.

    Args:
        ds (str | PathLike | osgeo.gdal.Dataset): the file or an open dataset.
        check_tiled (bool): report images (and overviews) larger than 512
            pixels that are stored in strips instead of tiles.

    Returns:
        Tuple[List[str], List[str], Dict]: ``(warnings, errors, details)``.
        The file is a valid COG when ``errors`` is empty.  ``details`` has
        ``ifd_offsets`` and ``data_offsets`` (``{'main': int,
        'overview_0': int, ...}``: where each level's directory and first
        tile are), ``block_size`` (``[w, h]``), ``overview_count`` and
        ``layout`` (``'COG'`` when GDAL recognises the COG layout, else
        ``None``).  A file that GDAL opens but that is not a TIFF yields one
        error and empty details.

    Raises:
        ValidateCloudOptimizedGeoTIFFException: when GDAL cannot open it.
        BackendUnavailableError: without GDAL.

    Example:
        >>> # xdoctest: +REQUIRES(module:osgeo.gdal_array)
        >>> import numpy as np, kwimage, ubelt as ub
        >>> dpath = ub.Path.appdir('ndsampler/doctest/validate_cog').ensuredir()
        >>> png = kwimage.imwrite(dpath / 'plain.png', np.zeros((8, 8, 3), np.uint8))
        >>> validate(png)[1]
        ['not a TIFF file (GDAL driver PNG)']
    """
    from ndsampler.utils.util_gdal import import_gdal
    gdal = import_gdal()
    if int(gdal.VersionInfo('VERSION_NUM')) < 2020000:
        raise ValidateCloudOptimizedGeoTIFFException('validating a COG needs GDAL 2.2 or newer')
    if isinstance(ds, (str, bytes, os.PathLike)):
        path = os.fsdecode(ds)
        try:
            ds = gdal.Open(path, gdal.GA_ReadOnly)
        except RuntimeError as ex:
            raise ValidateCloudOptimizedGeoTIFFException(
                'GDAL cannot open {}: {}'.format(path, ex)) from None
        if ds is None:
            raise ValidateCloudOptimizedGeoTIFFException('GDAL cannot open {}'.format(path))
    warnings, errors, details = [], [], {}
    driver = ds.GetDriver().ShortName
    if driver != 'GTiff':
        errors.append('not a TIFF file (GDAL driver {})'.format(driver))
        return warnings, errors, details

    main = ds.GetRasterBand(1)
    levels = [main] + [main.GetOverview(i) for i in range(main.GetOverviewCount())]
    details['block_size'] = list(main.GetBlockSize())
    details['overview_count'] = len(levels) - 1
    details['layout'] = ds.GetMetadataItem('LAYOUT', 'IMAGE_STRUCTURE')

    filename = ds.GetDescription()
    if filename + '.ovr' in (ds.GetFileList() or []):
        errors.append('overviews are in an external .ovr file; they must be internal')

    large = main.XSize > SMALL or main.YSize > SMALL
    if large and len(levels) == 1:
        warnings.append('the image is larger than {0}x{0} pixels but has no overviews; '
                        'internal overviews are recommended'.format(SMALL))
    if check_tiled:
        for index, band in enumerate(levels):
            if (index == 0 and not large) or _is_tiled(band):
                continue
            errors.append('the full resolution image is not tiled' if index == 0 else
                          'overview {} is not tiled'.format(index - 1))
    for index in range(2, len(levels)):
        smaller, larger = levels[index], levels[index - 1]
        if smaller.XSize > larger.XSize or smaller.YSize > larger.YSize:
            errors.append('overview {} is larger than overview {}'.format(index - 1, index - 2))
    if len(levels) > 1 and (levels[1].XSize > main.XSize or levels[1].YSize > main.YSize):
        errors.append('overview 0 is larger than the full resolution image')

    names = ['main'] + ['overview_{}'.format(i) for i in range(len(levels) - 1)]
    ifd_offsets = [_int_item(band, 'IFD_OFFSET') for band in levels]
    data_offsets = [_int_item(band, 'BLOCK_OFFSET_0_0') for band in levels]
    details['ifd_offsets'] = dict(zip(names, ifd_offsets))
    details['data_offsets'] = dict(zip(names, data_offsets))
    if None in ifd_offsets:
        warnings.append('GDAL does not report IFD offsets; the layout was not checked')
        return warnings, errors, details
    for name, offset in zip(names, data_offsets):
        if not offset:
            errors.append('the first block of {} is missing (no BLOCK_OFFSET_0_0)'.format(
                name.replace('_', ' ')))
    errors.extend(_layout_errors(gdal, filename, names, ifd_offsets, data_offsets))
    return warnings, errors, details


def _is_tiled(band):
    """False for strips (full-width blocks), or one block over a large image."""
    block_w, block_h = band.GetBlockSize()
    if block_w != band.XSize:
        return True
    if block_h < band.YSize:
        return False
    return max(band.XSize, band.YSize) <= 1024


def _int_item(band, key):
    value = band.GetMetadataItem(key, 'TIFF')
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _first_ifd_offsets(gdal, filename):
    """
    Where the first IFD may start: right after the TIFF header (8 bytes,
    16 for BigTIFF), or right after GDAL's structural metadata block when
    the file opens with one (give or take one byte of word alignment).
    ``None`` when the file's bytes cannot be read.
    """
    try:
        handle = gdal.VSIFOpenL(filename, 'rb')
    except RuntimeError:
        return None
    if handle is None:
        return None
    try:
        head = gdal.VSIFReadL(1, 128, handle)
    finally:
        gdal.VSIFCloseL(handle)
    if len(head) < 8:
        return None
    header = 16 if head[2:4] in (b'+\x00', b'\x00+') else 8
    if head[header:header + len(GHOST_PREFIX)] == GHOST_PREFIX:
        line_end = head.find(b'\n', header)
        size_text = head[header + len(GHOST_PREFIX):line_end].split()[0]
        end = line_end + 1 + int(size_text)
        return {end, end + 1}
    return {header}


def _layout_errors(gdal, filename, names, ifd_offsets, data_offsets):
    """The COG ordering rules: first IFD at the start, IFDs ascending from
    full resolution to the smallest overview, every IFD before any pixel,
    and pixel data descending from full resolution to the smallest overview."""
    errors = []
    allowed = _first_ifd_offsets(gdal, filename)
    if allowed is not None and ifd_offsets[0] not in allowed:
        errors.append('the first IFD is at byte {}; a COG has it right after the header '
                      '(byte {})'.format(ifd_offsets[0], min(allowed)))
    for index in range(1, len(names)):
        if ifd_offsets[index] < ifd_offsets[index - 1]:
            errors.append('the IFD of {} (byte {}) comes before the IFD of {} (byte {})'.format(
                names[index], ifd_offsets[index], names[index - 1], ifd_offsets[index - 1]))
    present = [offset for offset in data_offsets if offset]
    if present and min(present) < max(ifd_offsets):
        errors.append('pixel data starts at byte {}, before the last IFD (byte {}); a COG '
                      'puts every IFD first'.format(min(present), max(ifd_offsets)))
    for index in range(1, len(names)):
        finer, coarser = data_offsets[index - 1], data_offsets[index]
        if finer and coarser and finer < coarser:
            errors.append('the pixels of {} (byte {}) come before those of {} (byte {}); a '
                          'COG stores the smallest overview first'.format(
                              names[index - 1], finer, names[index], coarser))
    return errors


def main(argv=None):
    """Command line: print the verdict for one file; exit 0 when valid."""
    args = list(sys.argv[1:] if argv is None else argv)
    quiet = '-q' in args
    paths = [a for a in args if a != '-q']
    if len(paths) != 1 or any(p.startswith('-') for p in paths):
        print('usage: python -m ndsampler.utils.validate_cog [-q] file.tif')
        return 2
    try:
        warnings, errors, details = validate(paths[0])
    except ValidateCloudOptimizedGeoTIFFException as ex:
        if not quiet:
            print('{} is NOT a valid cloud optimized GeoTIFF: {}'.format(paths[0], ex))
        return 1
    if not quiet:
        for warning in warnings:
            print('warning: ' + warning)
        for error in errors:
            print('error: ' + error)
        verdict = 'is NOT' if errors else 'is'
        print('{} {} a valid cloud optimized GeoTIFF'.format(paths[0], verdict))
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
