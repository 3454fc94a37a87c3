"""Image logic for image_resize, kept free of AWS so it can be tested and benchmarked alone.

Uploads are untrusted. ImageMagick will happily decode dozens of formats by content (SVG, MVG,
MSL, text, PostScript through delegates...), so nothing reaches it until the magic bytes match
an allowlisted format, and it is then told which coder to use instead of guessing. It never
sees the file as uploaded either: ``containers`` rebuilds it from the chunks of the first
frame's pixels, so text, profiles, comments and frames can't cost memory or time. Dimensions
come from the headers and a ping before any pixel is decoded, which is what makes a
decompression bomb cost microseconds instead of gigabytes.

JPEGs, the common case, are decoded at reduced scale by libjpeg (the ``jpeg:size`` hint), which
is most of the speed: the full 12 MP decode the 2016 tutorial did is never needed for a
400x400 thumbnail.
"""
import ctypes
import re
from contextlib import contextmanager
from dataclasses import dataclass

from wand.api import library, libmagick
from wand.exceptions import ResourceLimitError, WandException
from wand.image import INTERLACE_TYPES, Image
from wand.resource import limits

from containers import MalformedContainer, UnsupportedVariant, pixel_data

# Larger sources are refused whatever the memory: decode time grows with the pixels (a 49 MP
# PNG takes 1.8 s on one core here; Lambda's 1024 MB gets about 0.6 of a core).
DEFAULT_MAX_PIXELS = 50_000_000
# How much memory a resize may take: 60 % of the function's, less what the runtime holds before
# any image (Python, boto3, Wand and ImageMagick loaded: 75 MB in a REPORT line). The rest is
# slack: Lambda kills the whole environment at 100 %.
MEMORY_SHARE = 0.6
RUNTIME_MB = 80
DEFAULT_MEMORY_MB = 1024  # image_resize's MEMORY_SIZE
MB_PER_CPU = 1769  # Lambda's CPU share: one vCPU per 1,769 MB of MemorySize
# Memory per source pixel while it is decoded, besides what the decoder buffers (which the
# headers tell: containers.PixelData.decoder_buffer): ImageMagick's 16-bit RGBA pixel cache, 8
# bytes, and one of slack. A JPEG is decoded at reduced scale, so its cache is 1/4 to 1/64 of
# that. Checked against the worst case of each format at 7000x7000 in
# tests/unit/test_hostile_images.py: lossless WebP 12.4 bytes, GIF 10.1, 16-bit RGBA PNG 7.9
# (interlaced: 15.7), progressive 4:4:4 CMYK JPEG 7.9.
CACHE_BYTES_PER_PIXEL = {'JPEG': 1, 'PNG': 9, 'GIF': 9, 'WEBP': 9}


def memory_budget(memory_mb):
    """Bytes a resize may use in a function of ``memory_mb``: never less than 16 MiB."""
    return max(16 << 20, int((memory_mb * MEMORY_SHARE - RUNTIME_MB) * (1 << 20)))


def max_pixels_in_memory(coder, memory_mb, decoder_buffer=0.0, decoder_fixed=0):
    """The largest source of this format, in pixels, whose decode stays within the budget."""
    return max(0, int((memory_budget(memory_mb) - decoder_fixed)
                      / (CACHE_BYTES_PER_PIXEL[coder] + decoder_buffer)))


DEFAULT_JPEG_QUALITY = 85

# No allowlisted format can be wider or taller than this (JPEG stops at 65500, WebP at 16383).
MAX_SIDE = 65535

# ImageMagick's severities: warnings are 300-399, errors 400 and up.
_RESOURCE_LIMIT = (300, 400)
_CORRUPT_IMAGE_WARNING = 325
_ERROR = 400

# libjpeg warns about bytes between markers that some cameras write; the image is intact.
_BENIGN_WARNINGS = ('extraneous bytes before marker',)

# Orientations (EXIF 5-8) that swap width and height once applied.
_TRANSPOSING = {'left_top', 'right_top', 'right_bottom', 'left_bottom'}


class ImageRejected(ValueError):
    """The upload is not an image we accept. Permanent: retrying cannot change the answer."""

    reason = 'rejected'


class EmptyImage(ImageRejected):
    reason = 'empty'


class UnsupportedFormat(ImageRejected):
    reason = 'unsupported-format'


class ImageTooLarge(ImageRejected):
    reason = 'too-many-pixels'


class CorruptImage(ImageRejected):
    reason = 'corrupt'


@dataclass(frozen=True)
class ImageFormat:
    coder: str
    mime_type: str


JPEG = ImageFormat('JPEG', 'image/jpeg')
PNG = ImageFormat('PNG', 'image/png')
GIF = ImageFormat('GIF', 'image/gif')
WEBP = ImageFormat('WEBP', 'image/webp')


class ResizedImage(tuple):
    """The ``(bytes, mime_type)`` pair ``resize_blob`` promises, carrying the dimensions too.

    Callers that only want the pair unpack it; the handler's logs and metadata read the sizes
    without a second ping.
    """

    def __new__(cls, data, mime_type, source_size, size):
        pair = super().__new__(cls, (data, mime_type))
        pair.source_size = source_size
        pair.size = size
        return pair

    @property
    def data(self):
        return self[0]

    @property
    def mime_type(self):
        return self[1]


def sniff_format(blob):
    """Return the allowlisted format whose signature starts ``blob``, or refuse it."""
    if not blob:
        raise EmptyImage('the file is empty (0 bytes)')
    if blob[:3] == b'\xff\xd8\xff':
        return JPEG
    if blob[:8] == b'\x89PNG\r\n\x1a\n':
        return PNG
    if blob[:6] in (b'GIF87a', b'GIF89a'):
        return GIF
    if blob[:4] == b'RIFF' and blob[8:12] == b'WEBP':
        return WEBP
    raise UnsupportedFormat(
        f'not an accepted image: {_describe(blob)}; only JPEG, PNG, GIF and WebP are resized')


def _describe(blob):
    head = blob[:512].lstrip().lower()
    for signature, name in ((b'%pdf', 'PDF'), (b'%!', 'PostScript'), (b'<svg', 'SVG'),
                            (b'<?xml', 'XML or SVG'), (b'<!doctype html', 'HTML'),
                            (b'<html', 'HTML'), (b'push graphic-context', 'MVG'),
                            (b'viewbox', 'MVG'), (b'<image', 'MSL'), (b'ii*\x00', 'TIFF'),
                            (b'mm\x00*', 'TIFF'), (b'bm', 'BMP')):
        if head.startswith(signature):
            return f'looks like {name}'
    if all(32 <= byte < 127 or byte in b'\t\r\n' for byte in blob[:512]):
        return 'looks like text'
    return f'unknown signature {blob[:8].hex()}'


def fit_within(width, height, max_width, max_height):
    """Best fit of ``width`` x ``height`` inside the box, keeping the aspect ratio.

    Never enlarges, and never rounds a side to 0 (a 1 x 100000 strip stays 1 pixel wide).
    """
    if width <= 0 or height <= 0 or max_width <= 0 or max_height <= 0:
        raise ValueError(f'sizes must be positive: {width}x{height} into {max_width}x{max_height}')
    if width <= max_width and height <= max_height:
        return width, height
    scale = min(max_width / width, max_height / height)
    return (min(max_width, max(1, round(width * scale))),
            min(max_height, max(1, round(height * scale))))


def resize_image(image, resize_width, resize_height):
    """Fit a Wand image into ``resize_width`` x ``resize_height`` in place, and return it.

    The 2016 tutorial's entry point, kept for its callers; unlike it, this never enlarges.
    """
    _resize_to(image, *fit_within(image.width, image.height, resize_width, resize_height))
    return image


def _resize_to(image, width, height):
    if image.size == (width, height):
        return
    # A windowed filter over a 12 MP source is slow and gains nothing over a box average of
    # the surplus pixels; shrink by area to twice the target first, as libvips does. The last
    # pass then never reduces by more than 2x, where two Lanczos lobes look the same as three
    # and cost a third less.
    if image.width > 2 * width and image.height > 2 * height:
        image.scale(2 * width, 2 * height)
    image.resize(width, height, filter='lanczos2')


def resize_blob(blob, max_width, max_height, *, max_pixels=DEFAULT_MAX_PIXELS,
                jpeg_quality=DEFAULT_JPEG_QUALITY, memory_mb=DEFAULT_MEMORY_MB):
    """Decode an untrusted upload, fit it into the box and encode it in its own format.

    Returns a ``ResizedImage`` (it unpacks as ``(bytes, mime_type)``). Anything that is not
    an acceptable image raises an ``ImageRejected`` (a ``ValueError``) saying why.
    """
    image_format = sniff_format(blob)
    budget = memory_budget(memory_mb)
    try:
        pixels = pixel_data(blob, image_format.coder)
        in_memory = max_pixels_in_memory(image_format.coder, memory_mb, pixels.decoder_buffer,
                                         pixels.decoder_fixed)
        why = None
        if in_memory < max_pixels:
            max_pixels = in_memory
            why = (f'a {image_format.coder} that large does not fit in the memory a '
                   f'{memory_mb} MB function has for it ({budget >> 20} MB)')
        for declared in pixels.sizes:
            _check_pixels(*declared, max_pixels, why)
        pixels.verify()  # what costs time with the pixels, once their number is accepted
    except MalformedContainer as error:
        raise CorruptImage(str(error)) from None
    except UnsupportedVariant as error:
        raise UnsupportedFormat(str(error)) from None
    with _limits(max_pixels, budget, threads_for(memory_mb)):
        return _resize(pixels.blob, image_format, pixels.orientation, max_width, max_height,
                       max_pixels, jpeg_quality)


def _resize(blob, image_format, orientation, max_width, max_height, max_pixels, jpeg_quality):
    width, height = _ping(blob, image_format)
    _check_pixels(width, height, max_pixels)
    # A transposing orientation swaps the box the JPEG decode scale is chosen for.
    expected = fit_within(*((height, width) if orientation in _TRANSPOSING else (width, height)),
                          max_width, max_height)
    hint = expected[::-1] if orientation in _TRANSPOSING else expected

    with _decode(blob, image_format, hint) as image:
        decoded = image.size
        if orientation != 'undefined':  # read from EXIF by containers: ImageMagick never saw it
            image.orientation = orientation
        image.auto_orient()
        # The geometry follows what auto_orient actually did, so the output is never distorted.
        transposed = image.size == decoded[::-1] and decoded[0] != decoded[1]
        oriented = (height, width) if transposed else (width, height)
        target = fit_within(*oriented, max_width, max_height)
        # EXIF, XMP, comments and profiles never reached ImageMagick; strip() drops what it
        # records of its own (timestamps, the source's gamma chunks).
        image.strip()
        if image.colorspace == 'cmyk':
            image.transform_colorspace('srgb')
        _resize_to(image, *target)
        image.reset_coords()
        data = _encode(image, image_format, jpeg_quality)
    return ResizedImage(data, image_format.mime_type, oriented, target)


def _check_pixels(width, height, max_pixels, why=None):
    if width * height > max_pixels or max(width, height) > MAX_SIDE:
        raise ImageTooLarge(f'{width}x{height} is {width * height:,} pixels; the limit is '
                            f'{max_pixels:,}' + (f': {why}' if why else ''))


def threads_for(memory_mb):
    """ImageMagick's threads: the whole cores MemorySize buys (1,769 MB each), at least one.
    Lambda shows every environment two or more vCPUs whatever its share; OpenMP threads beyond
    the share only wait on each other, spinning through the function's CPU quota."""
    return max(1, memory_mb // MB_PER_CPU)


@contextmanager
def _limits(max_pixels, memory_bytes, threads):
    """Backstops behind the header checks, should a coder allocate more than the header said,
    and the threads the function's CPU share can run.

    Past these ImageMagick refuses, or moves its pixel cache out of the heap as its policy
    allows (the layer's: map and disk 1 GiB). The limits are the process's; they are put back
    afterwards for any other use of Wand.
    """
    side = min(MAX_SIDE, max_pixels)
    wanted = {'width': side, 'height': side, 'area': max_pixels, 'memory': memory_bytes,
              'thread': threads}
    saved = {name: limits[name] for name in wanted}
    try:
        for name, value in wanted.items():
            limits[name] = value
        yield
    finally:
        for name, value in saved.items():
            limits[name] = value


def _new_image(blob_format, first_frame=True):
    image = Image()
    # An explicit "CODER:" prefix makes ImageMagick use that coder, not its own guess; "[0]"
    # reads only the first frame of an animation.
    name = f'{blob_format.coder}:upload' + ('[0]' if first_frame else '')
    library.MagickSetFilename(image.wand, name.encode())
    return image


def _ping(blob, image_format):
    image = _new_image(image_format)
    try:
        if not library.MagickPingImageBlob(image.wand, blob, len(blob)):
            raise CorruptImage(f'unreadable {image_format.coder} header: {_wand_error(image)}')
        _raise_if_corrupt(image, image_format)
        width, height = image.size
        if width <= 0 or height <= 0:
            raise CorruptImage(f'{image_format.coder} header gives no dimensions')
        return width, height
    finally:
        image.close()


def _decode(blob, image_format, hint):
    image = _new_image(image_format)
    try:
        if image_format is JPEG:
            # libjpeg then decodes at 1/2, 1/4 or 1/8 scale, the smallest that is still at
            # least this size (DCT scaling).
            image.options['jpeg:size'] = '{}x{}'.format(*hint)
        try:
            image.read(blob=blob)
        except ResourceLimitError as error:
            raise ImageTooLarge(f'{image_format.coder} exceeds the decoder limits: '
                                f'{_first_line(error)}') from None
        except WandException as error:
            raise CorruptImage(f'cannot decode {image_format.coder}: {_first_line(error)}') \
                from None
        _raise_if_corrupt(image, image_format)
        if image.width <= 0 or image.height <= 0:
            raise CorruptImage(f'{image_format.coder} decoded to an empty image')
        return image
    except BaseException:
        image.close()
        raise


def _encode(image, image_format, jpeg_quality):
    image.format = image_format.coder
    if image_format is JPEG:
        image.compression_quality = jpeg_quality
        # Progressive. The JPEG writer reads the wand's setting, not the image's, so Wand's
        # image.interlace_scheme property would silently write a baseline JPEG.
        library.MagickSetInterlaceScheme(image.wand, INTERLACE_TYPES.index('plane'))
        image.options['jpeg:sampling-factor'] = '4:2:0'
    elif image_format is WEBP:
        image.compression_quality = jpeg_quality
    elif image_format is PNG:
        # A 16-bit source needs no 16-bit thumbnail.
        image.depth = 8
    return image.make_blob()


def _raise_if_corrupt(image, image_format):
    """Refuse a file that ImageMagick decoded only with a corruption warning.

    A truncated JPEG decodes "successfully" into a half-gray picture; the only sign is a
    CorruptImageWarning. ImageMagick 7 reports it on the wand; ImageMagick 6 records it on the
    image itself, which the wand API never shows.
    """
    for severity, message in (_wand_exception(image), _image_exception(image)):
        if severity in _RESOURCE_LIMIT:
            raise ImageTooLarge(
                f'{image_format.coder} exceeds the decoder limits: {_clean(message)}')
        if severity >= _ERROR or (severity == _CORRUPT_IMAGE_WARNING and not any(
                benign in message for benign in _BENIGN_WARNINGS)):
            raise CorruptImage(f'corrupt {image_format.coder}: {_clean(message)}')


def _wand_exception(image):
    severity = ctypes.c_int()
    description = library.MagickGetException(image.wand, ctypes.byref(severity))
    message = ctypes.string_at(description).decode(errors='replace') if description else ''
    if description:
        library.MagickRelinquishMemory(description)
    return severity.value, message


class _ExceptionInfo(ctypes.Structure):
    # The leading fields of ImageMagick 6's ExceptionInfo (magick/exception.h).
    _fields_ = [('severity', ctypes.c_int), ('error_number', ctypes.c_int),
                ('reason', ctypes.c_char_p), ('description', ctypes.c_char_p)]


def _bind_image_exception():
    try:
        get_image = library.GetImageFromMagickWand
        get_exception = libmagick.GetImageException
    except AttributeError:  # ImageMagick 7: coders report on the wand
        return None
    get_image.argtypes = [ctypes.c_void_p]
    get_image.restype = ctypes.c_void_p
    libmagick.AcquireExceptionInfo.argtypes = []
    libmagick.AcquireExceptionInfo.restype = ctypes.POINTER(_ExceptionInfo)
    libmagick.DestroyExceptionInfo.argtypes = [ctypes.POINTER(_ExceptionInfo)]
    libmagick.DestroyExceptionInfo.restype = ctypes.c_void_p
    get_exception.argtypes = [ctypes.c_void_p, ctypes.POINTER(_ExceptionInfo)]
    get_exception.restype = None
    return get_image, get_exception


_IMAGE_EXCEPTION = _bind_image_exception()


def _image_exception(image):
    if _IMAGE_EXCEPTION is None:
        return 0, ''
    get_image, get_exception = _IMAGE_EXCEPTION
    pointer = get_image(image.wand)
    if not pointer:
        return 0, ''
    info = libmagick.AcquireExceptionInfo()
    try:
        get_exception(pointer, info)
        reason = info.contents.reason or b''
        return info.contents.severity, reason.decode(errors='replace')
    finally:
        libmagick.DestroyExceptionInfo(info)


def _clean(message):
    """Drop ImageMagick's "`upload' @ error/jpeg.c/..." tail: it names our buffer, not the file."""
    return re.sub(r" `[^']*' @ \S+$", '', message.strip())


def _wand_error(image):
    return _clean(_wand_exception(image)[1]) or 'no detail from ImageMagick'


def _first_line(error):
    return _clean(str(error).splitlines()[0]) if str(error) else type(error).__name__
