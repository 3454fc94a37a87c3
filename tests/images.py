"""Test images, made on the spot so the suite carries no binary fixtures and fetches nothing.

Hostile files are built byte by byte (forged PNG headers, a real deflate bomb, EXIF with GPS)
because no well-behaved encoder would write them.
"""
import re
import struct
import zlib

from wand.api import library
from wand.color import Color
from wand.image import INTERLACE_TYPES, Image


def two_colour(width, height, left='red', right='blue'):
    """A Wand image whose left half and right half differ, so rotations can be told apart."""
    image = Image(width=width, height=height, background=Color(right))
    with Image(width=max(1, width // 2), height=height, background=Color(left)) as half:
        image.composite(half, 0, 0)
    return image


def clear_top_half(image):
    """Make the top half fully transparent, so tests can check the alpha channel survived."""
    image.alpha_channel = 'activate'
    with Image(width=image.width, height=max(1, image.height // 2),
               background=Color('transparent')) as clear:
        image.composite(clear, 0, 0, operator='copy')


def encode(image, coder, **options):
    image.format = coder
    for name, value in options.items():
        setattr(image, name, value)
    return image.make_blob()


def jpeg(width=800, height=600, orientation=None, gps=False, quality=90):
    with two_colour(width, height) as image:
        data = encode(image, 'jpeg', compression_quality=quality)
    if orientation is not None or gps:
        data = with_exif(data, orientation=orientation, gps=gps)
    return data


def photo_jpeg(width=1600, height=1200):
    """Detail at every scale, like a photograph (a plasma), for screenshots and timings."""
    with Image(width=width, height=height, pseudo='plasma:') as image:
        return encode(image, 'jpeg', compression_quality=90)


def cmyk_jpeg(width=300, height=200):
    with Image(width=width, height=height, background=Color('red')) as image:
        image.transform_colorspace('cmyk')
        return encode(image, 'jpeg')


def png(width=640, height=480, alpha=False, depth=8):
    with two_colour(width, height) as image:
        if alpha:
            clear_top_half(image)
        image.depth = depth
        # Without this ImageMagick quietly writes 8 bits when no value needs 16.
        image.options['png:bit-depth'] = str(depth)
        return encode(image, 'png')


def webp(width=640, height=480, alpha=True):
    with two_colour(width, height) as image:
        if alpha:
            clear_top_half(image)
        return encode(image, 'webp')


def animated_gif(width=500, height=400, frames=5):
    """Frame 0 is red; the rest are other colours, so the first frame can be recognised."""
    with Image() as animation:
        for index in range(frames):
            colour = 'red' if index == 0 else f'rgb(0,{index * 40 % 256},255)'
            with Image(width=width, height=height, background=Color(colour)) as frame:
                frame.delay = 10
                animation.sequence.append(frame)
        animation.format = 'gif'
        return animation.make_blob()


def truncated(data, keep=0.5):
    return data[:int(len(data) * keep)]


# -- EXIF, written by hand: orientation plus a GPS block with a position ---------------------

def with_exif(jpeg_data, orientation=None, gps=False):
    """Insert an APP1 Exif segment right after the JPEG's SOI marker."""
    assert jpeg_data[:2] == b'\xff\xd8'
    payload = b'Exif\x00\x00' + _tiff(orientation, gps)
    segment = b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload
    return jpeg_data[:2] + segment + jpeg_data[2:]


def _tiff(orientation, gps):
    entries = []
    if orientation is not None:
        entries.append((0x0112, 3, 1, struct.pack('<HH', orientation, 0)))
    if gps:
        entries.append((0x8825, 4, 1, None))  # pointer to the GPS IFD, patched below
    ifd0_size = 2 + 12 * len(entries) + 4
    gps_offset = 8 + ifd0_size
    ifd0 = struct.pack('<H', len(entries))
    for tag, kind, count, value in entries:
        if value is None:
            value = struct.pack('<I', gps_offset)
        ifd0 += struct.pack('<HHI', tag, kind, count) + value
    ifd0 += struct.pack('<I', 0)
    return b'II*\x00' + struct.pack('<I', 8) + ifd0 + (_gps_ifd(gps_offset) if gps else b'')


def _gps_ifd(offset):
    """GPSLatitudeRef N, GPSLatitude 48/1 51/1 24/1, GPSLongitudeRef E, GPSLongitude 2/1 21/1 3/1."""
    count = 4
    data_offset = offset + 2 + 12 * count + 4
    latitude = struct.pack('<6I', 48, 1, 51, 1, 24, 1)
    longitude = struct.pack('<6I', 2, 1, 21, 1, 3, 1)
    ifd = struct.pack('<H', count)
    ifd += struct.pack('<HHI', 1, 2, 2) + b'N\x00\x00\x00'
    ifd += struct.pack('<HHII', 2, 5, 3, data_offset)
    ifd += struct.pack('<HHI', 3, 2, 2) + b'E\x00\x00\x00'
    ifd += struct.pack('<HHII', 4, 5, 3, data_offset + len(latitude))
    ifd += struct.pack('<I', 0)
    return ifd + latitude + longitude


# -- PNGs forged chunk by chunk --------------------------------------------------------------

def _chunk(kind, body):
    return (struct.pack('>I', len(body)) + kind + body
            + struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff))


def png_header_bomb(width=60000, height=60000):
    """A valid-looking PNG whose header claims a gigantic canvas over a few bytes of data."""
    header = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header)
            + _chunk(b'IDAT', zlib.compress(b'\x00' * 64)) + _chunk(b'IEND', b''))


def png_deflate_bomb(side=20000):
    """A real deflate bomb: a complete 8-bit grey PNG of zeros, ~1000x smaller than its pixels.

    Every scanline is present, so a decoder that trusted it would inflate side*side bytes.
    """
    header = struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0)
    compressor = zlib.compressobj(9)
    row = b'\x00' * (side + 1)  # filter byte + one byte per pixel
    rows_per_chunk = max(1, (8 << 20) // len(row))
    block = row * rows_per_chunk
    parts = []
    remaining = side
    while remaining:
        count = min(rows_per_chunk, remaining)
        parts.append(compressor.compress(block if count == rows_per_chunk else row * count))
        remaining -= count
    parts.append(compressor.flush())
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header)
            + _chunk(b'IDAT', b''.join(parts)) + _chunk(b'IEND', b''))


# -- Payloads ImageMagick would interpret if it were allowed to guess ------------------------

SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="100" height="100">'
       b'<image href="file:///etc/passwd" width="100" height="100"/></svg>')
MVG = b'push graphic-context\nviewbox 0 0 640 480\nimage over 0,0 0,0 \'text:/etc/passwd\'\npop graphic-context\n'
MSL = b'<?xml version="1.0"?><image><read filename="/etc/passwd"/></image>'
TEXT = b'just some text, renamed photo.jpg\n'
PDF = b'%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'
HTML = b'<!DOCTYPE html><html><body><script>alert(1)</script></body></html>'


# -- Metadata bombs: small files whose chunks, profiles, comments or frames cost memory or time -

def deflated_zeros(size):
    """A zlib stream of ``size`` zero bytes (a multiple of 1 MiB), built in milliseconds.

    Every MiB compresses to the same bytes after a full flush, so the stream is one block
    repeated; only the Adler-32 at the end depends on the size (a=1, b=size mod 65521).
    """
    mebibyte = b'\x00' * (1 << 20)
    compressor = zlib.compressobj(9)
    first = compressor.compress(mebibyte) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(mebibyte) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush()[:-4]  # the final empty block, without the checksum
    return (first + block * ((size >> 20) - 1) + tail
            + struct.pack('>I', ((size % 65521) << 16) | 1))


def png_with(chunks, width=64, height=48):
    """A valid small PNG with ``chunks`` (kind, body) inserted after IHDR."""
    data = png(width, height)
    header_end = 8 + 25
    return data[:header_end] + b''.join(_chunk(kind, body) for kind, body in chunks) \
        + data[header_end:]


def jpeg_with(segments, width=64, height=48, trailer=b''):
    """A valid small JPEG with marker segments (marker byte, body) inserted after SOI."""
    data = jpeg(width, height)
    return data[:2] + b''.join(b'\xff' + bytes([marker]) + struct.pack('>H', len(body) + 2)
                               + body for marker, body in segments) + data[2:] + trailer


def gif_with(extensions, width=64, height=48, frames=1):
    """A valid small GIF with ``extensions`` (raw bytes) before its first image."""
    data = animated_gif(width, height, frames)
    flags = data[10]
    start = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[:start] + b''.join(extensions) + data[start:]


def gif_extension(label, payload, block=255):
    """An extension block: introducer, label, the payload in sub-blocks, terminator."""
    blocks = b''.join(bytes([len(part)]) + part
                      for part in (payload[i:i + block] for i in range(0, len(payload), block)))
    return b'\x21' + bytes([label]) + blocks + b'\x00'


def webp_with(chunks, width=64, height=48):
    """A valid small extended WebP (VP8X, ALPH, VP8) followed by ``chunks`` (kind, body)."""
    data = webp(width, height)
    body = data[12:] + b''.join(_riff(kind, payload) for kind, payload in chunks)
    return b'RIFF' + struct.pack('<I', 4 + len(body)) + b'WEBP' + body


def animated_webp(canvas=7000, frames=1000):
    """An animation of ``frames`` 1x1 lossless frames on a huge canvas: a few KB."""
    with Image(width=1, height=1, background=Color('red')) as pixel:
        pixel.format = 'webp'
        pixel.options['webp:lossless'] = 'true'
        still = pixel.make_blob()
    image_chunk = still[12:]  # the VP8L chunk of a simple WebP
    frame = (b'\x00' * 6 + (0).to_bytes(3, 'little') * 2 + (100).to_bytes(3, 'little')
             + b'\x00' + image_chunk)
    flags = struct.pack('<I', 0x02 | 0x10)  # animation, alpha
    header = flags + (canvas - 1).to_bytes(3, 'little') * 2
    body = (_riff(b'VP8X', header) + _riff(b'ANIM', b'\x00' * 6)
            + _riff(b'ANMF', frame) * frames)
    return b'RIFF' + struct.pack('<I', 4 + len(body)) + b'WEBP' + body


def _riff(kind, payload):
    return kind + struct.pack('<I', len(payload)) + payload + b'\x00' * (len(payload) & 1)


def progressive_scan_bomb(side=4000, copies=1000):
    """A progressive JPEG with one tiny scan repeated: every copy is a pass over every block."""
    with Image(width=side, height=side, pseudo='xc:gray') as image:
        image.format = 'jpeg'
        library.MagickSetInterlaceScheme(image.wand, INTERLACE_TYPES.index('plane'))
        data = image.make_blob()
    starts = [match.start() for match in re.finditer(rb'\xff\xda', data)]
    smallest = min(range(len(starts) - 1), key=lambda k: starts[k + 1] - starts[k])
    scan = data[starts[smallest]:starts[smallest + 1]]
    return data[:starts[-1]] + scan * copies + data[starts[-1]:]


def flat_image(coder, side, lossless=False, depth=8, alpha=False, interlaced=False):
    """A side x side image of one colour: a few KB that decode into side² pixels."""
    with Image(width=side, height=side, pseudo='xc:white') as image:
        if alpha:
            image.alpha_channel = 'activate'
            image.options['png:color-type'] = '6'  # RGBA, not the grey a flat image allows
        image.depth = depth
        image.options['png:bit-depth'] = str(depth)
        if interlaced:
            library.MagickSetInterlaceScheme(image.wand, INTERLACE_TYPES.index('png'))
        if lossless:
            image.options['webp:lossless'] = 'true'
        return encode(image, coder)


def many_frame_gif(side=2000, frames=1000):
    """A GIF whose one flat side x side frame is repeated ``frames`` times: a few MB."""
    data = flat_image('gif', side)
    flags = data[10]
    start = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[:start] + data[start:-1] * frames + b'\x3b'


def gif_claiming(width, height):
    """A small GIF whose screen and first frame claim ``width`` x ``height``: refused from
    its header, it never needs the pixels that encoding that size for real would take."""
    data = bytearray(flat_image('gif', 16))
    data[6:10] = struct.pack('<HH', width, height)
    flags = data[10]
    frame = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    while data[frame] == 0x21:  # extensions before the image: skip their sub-blocks
        frame += 2
        while data[frame]:
            frame += 1 + data[frame]
        frame += 1
    data[frame + 5:frame + 9] = struct.pack('<HH', width, height)
    return bytes(data)


def png_inflating_past_its_rows(side=64, extra=4000 << 20):
    """A grey PNG whose one zlib stream holds its rows and then ``extra`` more zero bytes."""
    rows = side * (side + 1)
    total = (rows + extra + (1 << 20) - 1) >> 20 << 20
    header = struct.pack('>IIBBBBB', side, side, 8, 0, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + _chunk(b'IHDR', header)
            + _chunk(b'IDAT', deflated_zeros(total)) + _chunk(b'IEND', b''))


def arithmetic_jpeg():
    """A JPEG whose frame says arithmetic coding (SOF10): refused from the marker alone."""
    data = bytearray(jpeg(64, 48))
    data[data.index(b'\xff\xc0') + 1] = 0xca
    return bytes(data)


class _Bits:
    """VP8L's bit order: least significant bit first; whole bytes are set aside as they fill,
    so the pending integer stays small."""

    def __init__(self):
        self.value, self.count, self.done = 0, 0, []

    def put(self, value, width):
        self.value |= value << self.count
        self.count += width
        if self.count >= 4096:
            whole = self.count // 8
            self.done.append((self.value & ((1 << 8 * whole) - 1)).to_bytes(whole, 'little'))
            self.value >>= 8 * whole
            self.count -= 8 * whole

    def data(self):
        return b''.join(self.done) + self.value.to_bytes((self.count + 7) // 8, 'little')


def lossless_webp_with_groups(side, groups=65536):
    """A lossless WebP whose entropy image points at ``groups`` Huffman groups of one-symbol
    codes: a few hundred KB that make libwebp build every group's tables."""
    bits = _Bits()
    scale = max(b for b in range(2, 10) if (-(-side >> b)) ** 2 >= groups)
    bits.put(0x2f, 8), bits.put(side - 1, 14), bits.put(side - 1, 14), bits.put(0, 4)
    bits.put(0, 1), bits.put(0, 1)  # no transform, no colour cache
    bits.put(1, 1), bits.put(scale - 2, 3)  # meta Huffman codes, one group per block
    bits.put(0, 1)  # the entropy image: no colour cache; green and red codes of 8 bits
    for alphabet in (280, 256):
        bits.put(0, 1), bits.put(8, 4)
        for symbol in (17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8):
            bits.put(1 if symbol == 8 else 0, 3)
        if alphabet > 256:
            bits.put(1, 1), bits.put(3, 3), bits.put(254, 8)
        else:
            bits.put(0, 1)
    for _ in range(3):
        _simple_code(bits)
    for index in range((-(-side >> scale)) ** 2):
        group = index % groups
        for byte in (group & 255, group >> 8):
            bits.put(int(f'{byte:08b}'[::-1], 2), 8)
    for _ in range(groups * 5):
        _simple_code(bits)
    body = b'WEBP' + _riff(b'VP8L', bits.data())
    return b'RIFF' + struct.pack('<I', len(body)) + body


def _simple_code(bits):
    """A Huffman code of one symbol, 0: four bits."""
    bits.put(1, 1), bits.put(0, 1), bits.put(0, 1), bits.put(0, 1)
