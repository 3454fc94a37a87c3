"""What of an upload reaches ImageMagick: its pixels, and nothing else.

Every accepted format is a container of chunks, and most chunks are metadata: text, comments,
ICC and EXIF profiles, XMP, thumbnails, animation frames. ImageMagick's decoders read all of it
into memory, inflate what is compressed (a 1.5 MB PNG ``zTXt`` chunk becomes 1.5 GiB), and
concatenate what is repeated. Pixel limits don't apply to any of it: the header check that stops
a decompression bomb sees a 64x48 image. So each container is rebuilt here, in bounded time
(one pass, no decompression) and bounded memory (one copy), from the chunks that describe the
first frame's pixels; everything else is dropped before ImageMagick sees the file. The output
is stripped of metadata anyway.

What does not fit the structure a decoder needs (a chunk running past the end of the file, no
image data, too many progressive scans) is refused here with the reason. What only a decoder
can judge (a corrupt bitstream, a truncated scan) is passed on for ImageMagick to refuse.
"""
import re
import struct
import zlib
from dataclasses import dataclass

# libjpeg, mozjpeg and Photoshop write 3 to 20 scans; every scan is a pass over the whole
# image, so a few hundred bytes of repeated scans can cost minutes of CPU.
MAX_JPEG_SCANS = 32

# Real files hold a few dozen chunks, segments or blocks (a 20 MB PNG in libpng's 8 KB IDAT
# chunks: 2,500). Walking is a Python loop, so the count is what bounds its time: a file of a
# million empty chunks is refused instead of walked.
MAX_STRUCTURES = 1 << 17

# EXIF orientation values, as ImageMagick names them.
ORIENTATIONS = {1: 'top_left', 2: 'top_right', 3: 'bottom_right', 4: 'bottom_left',
                5: 'left_top', 6: 'right_top', 7: 'right_bottom', 8: 'left_bottom'}


class MalformedContainer(ValueError):
    """The file's structure is not one a decoder could read."""


class UnsupportedVariant(ValueError):
    """A variant of an accepted format that is refused: costly to decode, and rare."""


@dataclass(frozen=True)
class PixelData:
    """The rebuilt file, and what its headers say, read without decoding anything."""
    blob: bytes
    sizes: tuple  # every (width, height) a header declares: canvas, frame, bitstream
    orientation: str = 'undefined'
    # Bytes per pixel the decoder holds for the whole image before handing rows on: an
    # interlaced PNG's raw rows, a progressive JPEG's DCT coefficients, libwebp's RGBA output,
    # GIF's index plane. What the headers say it will be; memory is budgeted with it.
    decoder_buffer: float = 0.0
    decoder_fixed: int = 0  # bytes the decoder holds whatever the size (WebP's Huffman tables)
    # Checks whose cost grows with the pixels, run once their number is accepted.
    deferred: tuple = ()

    def verify(self):
        for check in self.deferred:
            check()


def pixel_data(blob, coder):
    """Rebuild ``blob`` (already sniffed as ``coder``) from the chunks its pixels need."""
    try:
        return _REBUILDERS[coder](blob, _Budget(coder))
    except (struct.error, IndexError):
        raise MalformedContainer(f'{coder} structure ends before its headers do') from None


class _Budget:
    def __init__(self, coder):
        self.coder, self.left = coder, MAX_STRUCTURES

    def spend(self):
        self.left -= 1
        if self.left < 0:
            raise MalformedContainer(f'{self.coder} has more than {MAX_STRUCTURES:,} chunks, '
                                     f'segments or blocks; no encoder writes that many')


# -- PNG -----------------------------------------------------------------------------------

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
# Critical chunks, plus tRNS (transparency). Colour chunks of fixed size are harmless and keep
# the output as it was; their largest legal length is the bound. Everything else goes: text
# (tEXt, zTXt, iTXt), profiles (iCCP, eXIf), APNG frames (acTL, fcTL, fdAT), private chunks.
_PNG_KEPT = {b'IHDR': 13, b'PLTE': 768, b'tRNS': 256, b'IDAT': None, b'IEND': 0,
             b'gAMA': 4, b'cHRM': 32, b'sRGB': 1, b'sBIT': 4, b'bKGD': 6, b'pHYs': 9}


_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # by colour type: grey, RGB, palette, ...


def _png(blob, budget):
    kept = [PNG_SIGNATURE]
    offset = len(PNG_SIGNATURE)
    seen = set()
    if blob[offset + 4:offset + 8] != b'IHDR':
        raise MalformedContainer('PNG does not start with its IHDR header')
    size = struct.unpack('>II', blob[offset + 8:offset + 16])
    depth, colour_type, interlace = blob[24], blob[25], blob[28]
    bits = _PNG_CHANNELS.get(colour_type, 4) * depth
    # Adam7 passes fill the whole image before the first row is complete (unpacked to at
    # least a byte a pixel).
    buffer = max(1.0, bits / 8) if interlace else 0.0
    image_data = []
    while offset + 8 <= len(blob):
        budget.spend()
        length, kind = struct.unpack('>I4s', blob[offset:offset + 8])
        end = offset + 12 + length
        if end > len(blob):
            if kind == b'IDAT':  # a truncated file: the decoder says what is missing
                kept.append(blob[offset:])
            break
        bound = _PNG_KEPT.get(kind, -1)
        if bound is None or (kind not in seen and length <= bound):
            kept.append(blob[offset:end])
            seen.add(kind)
            if kind == b'IDAT':
                image_data.append(memoryview(blob)[offset + 8:end - 4])
        elif bound < 0 and not kind[0] & 0x20:
            raise MalformedContainer(f'PNG has an unknown critical chunk {_printable(kind)}')
        offset = end
        if kind == b'IEND':
            break
    raw = _png_raw_size(*size, bits, interlace)
    return PixelData(b''.join(kept), (size,), decoder_buffer=buffer,
                     deferred=(lambda: _inflates_within(image_data, raw),))


_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # each pass's first column and row, and its steps


def _png_raw_size(width, height, bits, interlace):
    """Bytes the image data inflates to: each row of each pass, with its filter byte."""
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x, y, step_x, step_y in passes:
        columns, rows = -(-(width - x) // step_x), -(-(height - y) // step_y)
        if columns > 0 and rows > 0:
            total += rows * (1 + (columns * bits + 7) // 8)
    return total


def _inflates_within(chunks, raw):
    """Refuse image data that inflates past the pixels: a decoder inflates it all (to check
    it), so 2 MB of zeros after the last row cost seconds, gigabytes later minutes."""
    inflater = zlib.decompressobj()
    produced = 0
    try:
        for chunk in chunks:
            while chunk and not inflater.eof:
                produced += len(inflater.decompress(chunk, 1 << 20))
                if produced > raw:
                    raise MalformedContainer(f'PNG image data inflates past its pixels '
                                             f'({raw:,} bytes)')
                chunk = inflater.unconsumed_tail
    except zlib.error as error:
        raise MalformedContainer(f'PNG image data is not a zlib stream: {error}') from None


# -- JPEG ----------------------------------------------------------------------------------

_SOF = {0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf}
_PROGRESSIVE = {0xc2, 0xc6, 0xca, 0xce}
# Baseline, extended and progressive Huffman: what cameras, browsers and encoders write.
# Arithmetic coding (a progressive arithmetic JPEG of 858 bytes decodes for 7 s at 50 MP),
# lossless and hierarchical JPEG are refused; browsers don't show them either.
_ACCEPTED_SOF = {0xc0: 'baseline', 0xc1: 'extended', 0xc2: 'progressive'}
_SOS, _EOI, _COM, _APP0, _APP1, _APP14 = 0xda, 0xd9, 0xfe, 0xe0, 0xe1, 0xee
# The next marker in entropy-coded data: 0xFF followed by anything but stuffing (00), a restart
# marker (D0-D7) or a fill byte (FF).
_NEXT_MARKER = re.compile(rb'\xff[^\x00\xd0-\xd7\xff]')


def _jpeg(blob, budget):
    kept = [b'\xff\xd8']
    offset = 2
    sizes = []
    orientation = 'undefined'
    scans = 0
    progressive, coefficients = False, 0.0
    while offset + 2 <= len(blob):
        budget.spend()
        if blob[offset] != 0xff:
            raise MalformedContainer(f'JPEG has no marker at byte {offset}')
        marker = blob[offset + 1]
        if marker == 0xff:  # fill byte before a marker
            offset += 1
            continue
        if marker == _EOI:
            kept.append(b'\xff\xd9')
            break  # anything after it (a second picture, appended junk) is not this image
        if 0xd0 <= marker <= 0xd8 or marker == 0x01:  # markers without a length
            offset += 2
            continue
        length = struct.unpack('>H', blob[offset + 2:offset + 4])[0]
        end = offset + 2 + length
        if length < 2 or end > len(blob):
            kept.append(blob[offset:])  # truncated: the decoder refuses it with the reason
            break
        body = blob[offset + 4:end]
        if marker == _SOS:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise MalformedContainer(
                    f'JPEG has more than {MAX_JPEG_SCANS} scans; no encoder writes that many')
            found = _NEXT_MARKER.search(blob, end)
            end = found.start() if found else len(blob)
            kept.append(blob[offset:end])
        elif marker in _SOF:
            if marker not in _ACCEPTED_SOF:
                raise UnsupportedVariant(
                    f'JPEG coding SOF{marker - 0xc0} (arithmetic, lossless or hierarchical) is '
                    f'not accepted: only baseline and progressive Huffman JPEGs are')
            sizes.append(struct.unpack('>HH', body[1:5])[::-1])
            progressive = progressive or marker in _PROGRESSIVE
            coefficients = _coefficients_per_pixel(body)
            kept.append(blob[offset:end])
        elif marker == _APP1 and body.startswith(b'Exif\x00\x00'):
            orientation = exif_orientation(body[6:]) or orientation
        elif marker == _APP0 and body.startswith(b'JFIF\x00') and len(kept) == 1:
            # Version, units and density; the thumbnail, if any, is dropped.
            kept.append(b'\xff\xe0' + struct.pack('>H', 16) + body[:12] + b'\x00\x00')
        elif marker == _APP14 and body.startswith(b'Adobe') and length <= 16:
            kept.append(blob[offset:end])  # says whether 3 or 4 channels are YCC or RGB/CMYK
        elif marker != _COM and not 0xe0 <= marker <= 0xef:
            kept.append(blob[offset:end])  # tables (DQT, DHT, DAC), DRI, DNL, ...
        offset = end
    if not sizes:
        raise MalformedContainer('JPEG has no frame header')
    # More than one scan (progressive, or components in scans of their own) and libjpeg keeps
    # every coefficient of the image until the last scan; one scan is decoded row by row.
    buffer = 2 * coefficients if progressive or scans > 1 else 0.0
    return PixelData(b''.join(kept), tuple(sizes), orientation, buffer)


def _coefficients_per_pixel(frame):
    """DCT coefficients per pixel over all components: 1 each, less for subsampled ones."""
    components = [frame[6 + 3 * index + 1] for index in range(frame[5])]
    largest = max((factors >> 4) * (factors & 15) for factors in components)
    return sum((factors >> 4) * (factors & 15) for factors in components) / max(1, largest)


def exif_orientation(tiff):
    """The Orientation tag of IFD0 in a TIFF structure (EXIF), or None. Reads only IFD0."""
    byte_order = {b'II': '<', b'MM': '>'}.get(tiff[:2])
    if byte_order is None:
        return None
    try:
        ifd = struct.unpack(byte_order + 'I', tiff[4:8])[0]
        count = struct.unpack(byte_order + 'H', tiff[ifd:ifd + 2])[0]
        for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
            tag, kind = struct.unpack(byte_order + 'HH', tiff[entry:entry + 4])
            if tag == 0x0112 and kind == 3:
                return ORIENTATIONS.get(struct.unpack(byte_order + 'H',
                                                      tiff[entry + 8:entry + 10])[0])
    except struct.error:
        return None
    return None


# -- GIF -----------------------------------------------------------------------------------

_GIF_IMAGE, _GIF_EXTENSION, _GIF_TRAILER, _GIF_CONTROL = 0x2c, 0x21, 0x3b, 0xf9
GIF_BUFFER = 2.0  # ImageMagick's index plane and the LZW decoder's rows (measured: 10.1 - 8)


def _gif(blob, budget):
    screen = struct.unpack('<HH', blob[6:10])
    offset = 13 + _colour_table_size(blob[10])
    kept = [blob[:offset]]
    control = b''
    while offset < len(blob):
        introducer = blob[offset]
        if introducer == _GIF_EXTENSION:
            end = _after_sub_blocks(blob, offset + 2, budget)
            # The graphic control extension of the first frame holds its transparent colour;
            # comments, application (XMP, ICC, looping) and plain-text extensions are dropped.
            if blob[offset + 1] == _GIF_CONTROL:
                control = blob[offset:end]
            offset = end
        elif introducer == _GIF_IMAGE:
            frame = struct.unpack('<HHHH', blob[offset + 1:offset + 9])
            data = offset + 10 + _colour_table_size(blob[offset + 9])
            end = _after_sub_blocks(blob, data + 1, budget)
            kept += [control, blob[offset:end], b'\x3b']
            left, top, width, height = frame
            return PixelData(b''.join(kept), (screen, (width, height),
                                              (left + width, top + height)),
                             decoder_buffer=GIF_BUFFER)
        elif introducer == _GIF_TRAILER:
            break
        else:
            raise MalformedContainer(f'GIF has an unknown block 0x{introducer:02x} '
                                     f'at byte {offset}')
    raise MalformedContainer('GIF has no image')


def _colour_table_size(flags):
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _after_sub_blocks(blob, offset, budget):
    """The offset after a chain of GIF sub-blocks (each a length byte, 0 ends the chain)."""
    while True:
        budget.spend()
        length = blob[offset]  # IndexError past the end: the chain never ends
        offset += 1 + length
        if length == 0:
            return offset


# -- WebP ----------------------------------------------------------------------------------

_WEBP_ALPHA_FLAG = 0x10
WEBP_BUFFER = 4.0  # libwebp decodes the whole image to RGBA first (measured: 12.4 - 8)
_VP8L_MAX_GROUPS, _VP8L_MIN_GROUP_BITS = 65536, 20
_VP8L_GROUP_BYTES = 6 * 1024  # measured: 5.4 KB a group with libwebp 1.2
# The header, the first animation frame, and a frame's image data with its alpha plane.
# ICCP, EXIF, XMP, ANIM and unknown chunks are dropped.
_WEBP_KEPT = {b'VP8X', b'ANMF', b'VP8 ', b'VP8L', b'ALPH'}


def _webp(blob, budget):
    sizes = []
    chunks = _first_of_each(blob, 12, budget)
    if b'VP8X' in chunks:
        sizes.append(_canvas(chunks[b'VP8X'], 4))
        if b'ANMF' in chunks:  # the first frame only, as for GIF
            frame = chunks[b'ANMF']
            sizes.append(_canvas(frame, 6))
            chunks = _first_of_each(frame, 16, budget)
    if b'VP8 ' in chunks:
        image = (b'VP8 ', chunks[b'VP8 '])
        sizes.append(_vp8_size(image[1]))
    elif b'VP8L' in chunks:
        image = (b'VP8L', chunks[b'VP8L'])
        sizes.append(_vp8l_size(image[1]))
    else:
        raise MalformedContainer('WebP has no VP8 or VP8L image data')
    if image[0] == b'VP8 ' and b'ALPH' in chunks:
        # Lossy with an alpha plane: only the extended header can say so.
        width, height = sizes[-1]
        header = struct.pack('<I', _WEBP_ALPHA_FLAG) + (width - 1).to_bytes(3, 'little') \
            + (height - 1).to_bytes(3, 'little')
        parts = [(b'VP8X', header), (b'ALPH', chunks[b'ALPH']), image]
    else:
        parts = [image]
    body = b'WEBP' + b''.join(_riff_chunk(kind, data) for kind, data in parts)
    lossless = sum(len(data) for kind, data in parts
                   if kind == b'VP8L' or (kind == b'ALPH' and data[:1] and data[0] & 3 == 1))
    return PixelData(b'RIFF' + struct.pack('<I', len(body)) + body, tuple(sizes),
                     decoder_buffer=WEBP_BUFFER, decoder_fixed=huffman_tables(lossless))


def huffman_tables(lossless_bytes):
    """The most a lossless bitstream of this size can make libwebp hold in Huffman tables.

    Each group of five codes takes at least 20 bits, and there are at most 65,536 groups; a
    few hundred KB can declare them all, and every group costs its tables whatever the
    image's size (65,536 groups in a 1 MP image: 378 MB). Counting them exactly means
    decoding the bitstream's transforms first, so the bound comes from the size.
    """
    return min(_VP8L_MAX_GROUPS, lossless_bytes * 8 // _VP8L_MIN_GROUP_BITS) * _VP8L_GROUP_BYTES


def _first_of_each(blob, offset, budget):
    """{kind: body} of the first RIFF chunk of each kind, from ``offset`` to the end."""
    chunks = {}
    while offset + 8 <= len(blob):
        budget.spend()
        kind, length = struct.unpack('<4sI', blob[offset:offset + 8])
        if kind not in chunks and kind in _WEBP_KEPT:
            # Truncated image data is kept as it is: the decoder refuses it with the reason.
            chunks[kind] = blob[offset + 8:offset + 8 + length]
        offset += 8 + length + (length & 1)
    return chunks


def _riff_chunk(kind, data):
    return kind + struct.pack('<I', len(data)) + data + b'\x00' * (len(data) & 1)


def _canvas(body, offset):
    """Width and height stored as two 24-bit values minus one (in VP8X and ANMF)."""
    if len(body) < offset + 6:
        raise struct.error('canvas size cut short')
    return (int.from_bytes(body[offset:offset + 3], 'little') + 1,
            int.from_bytes(body[offset + 3:offset + 6], 'little') + 1)


def _vp8_size(body):
    width, height = struct.unpack('<HH', body[6:10])
    return width & 0x3fff, height & 0x3fff


def _vp8l_size(body):
    bits = struct.unpack('<I', body[1:5])[0]
    return (bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1


def _printable(kind):
    return kind.decode('latin-1').encode('unicode_escape').decode()


_REBUILDERS = {'PNG': _png, 'JPEG': _jpeg, 'GIF': _gif, 'WEBP': _webp}
