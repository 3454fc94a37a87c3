"""Hostile images: every input under MAX_UPLOAD_BYTES is resized or refused within 5 seconds
and 60 % of the function's memory, whatever its chunks, profiles, comments, frames or scans hold.

Each file is resized in a fresh fork of a process that loaded what the function loads
(tests/resize_probe.py), so the memory measured is the resize's own, and what the Lambda runtime
holds (RUNTIME_MB) is added on top. The limit is the rule, not a speed claim: every case here
takes milliseconds, or at most about two seconds for the largest images the limits allow.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import unittest

from deploy.functions import ROOT, load
from tests import images

resize = load('image_resize', 'resize')
MAX_SECONDS = 5
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # image_list's presigned POST


def function_memory_mb():
    """image_resize's MEMORY_SIZE, as its Makefile sets it."""
    with open(os.path.join(ROOT, 'image_resize', 'Makefile')) as makefile:
        return int(re.search(r'^MEMORY_SIZE \?= (\d+)$', makefile.read(), re.M)[1])


def probe(files, memory_mb):
    """{name: report} for each (name, bytes), resized by tests/resize_probe.py."""
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for name, data in files:
            paths.append(os.path.join(folder, name))
            with open(paths[-1], 'wb') as target:
                target.write(data)
        output = subprocess.run(
            [sys.executable, os.path.join(ROOT, 'tests', 'resize_probe.py'), str(memory_mb),
             *paths], check=True, capture_output=True, text=True, timeout=300).stdout
    return {report['file']: report for report in map(json.loads, output.splitlines())}


def segments(marker, payload, size=65533):
    """A payload split into JPEG marker segments of at most ``size`` bytes each."""
    return [(marker, payload[offset:offset + size]) for offset in range(0, len(payload), size)]


def icc_segments(profile):
    """An ICC profile split as JPEG carries it: APP2 "ICC_PROFILE" segments, numbered."""
    parts = [profile[offset:offset + 65000] for offset in range(0, len(profile), 65000)]
    return [(0xe2, b'ICC_PROFILE\x00' + bytes([index + 1, len(parts)]) + part)
            for index, part in enumerate(parts)]


def metadata_bombs():
    """(name, bytes): each small, each hiding its cost in what is not pixels."""
    zeros = images.deflated_zeros
    mib = 1 << 20
    return [
        # PNG: compressed text and profiles inflate; a million small chunks cost per chunk.
        ('png-ztxt-1.5gib.png', images.png_with(
            [(b'zTXt', b'Comment\x00\x00' + zeros(1536 * mib))])),
        ('png-itxt-512mib.png', images.png_with(
            [(b'iTXt', b'XML:com.adobe.xmp\x00\x01\x00\x00\x00' + zeros(512 * mib))])),
        ('png-iccp-256mib.png', images.png_with([(b'iCCP', b'icc\x00\x00' + zeros(256 * mib))])),
        ('png-exif-19mb.png', images.png_with([(b'eXIf', b'MM\x00*' + b'\x00' * 19_000_000)])),
        ('png-100k-text.png', images.png_with(
            [(b'tEXt', b'k%d\x00v' % index) for index in range(100_000)])),
        ('png-1m-text.png', images.png_with([(b'tEXt', b'k\x00v')] * 1_000_000)),
        ('png-apng-1000-frames.png', images.png_with(
            [(b'acTL', struct.pack('>II', 1000, 0))]
            + [(b'fcTL', struct.pack('>IIIIIHHBB', index, 7000, 7000, 0, 0, 1, 1, 0, 0))
               for index in range(1000)])),
        ('png-private-chunks.png', images.png_with([(b'prVt', b'\x00' * 65536)] * 250)),
        ('png-4gib-after-its-rows.png', images.png_inflating_past_its_rows()),
        # JPEG: EXIF, ICC, XMP and comments in 64 KB segments; scans; junk after the end.
        ('jpeg-exif-300x64k.jpg', images.jpeg_with(
            segments(0xe1, b'Exif\x00\x00' + b'\x00' * (300 * 65000)))),
        ('jpeg-icc-16mb.jpg', images.jpeg_with(icc_segments(b'\x00' * 255 * 65000))),
        ('jpeg-xmp-19mb.jpg', images.jpeg_with(segments(
            0xe1, b'http://ns.adobe.com/xap/1.0/\x00' + b'<x/>' * 4_750_000))),
        ('jpeg-comments-19mb.jpg', images.jpeg_with(segments(0xfe, b'c' * 19_000_000))),
        ('jpeg-1m-comments.jpg', images.jpeg_with([(0xfe, b'')] * 1_000_000)),
        ('jpeg-100k-app-segments.jpg', images.jpeg_with(
            [(0xe0 + index % 16, b'x') for index in range(100_000)])),
        ('jpeg-scan-bomb.jpg', images.progressive_scan_bomb()),
        ('jpeg-trailer-19mb.jpg', images.jpeg_with([], trailer=b'\xff\xd8' + b'\x00' * 19_000_000)),
        ('jpeg-arithmetic.jpg', images.arithmetic_jpeg()),
        # GIF: comment, application (XMP, ICC) and plain-text extensions; frames.
        ('gif-comment-19mb.gif', images.gif_with([images.gif_extension(0xfe, b'c' * 19_000_000)])),
        ('gif-1m-comments.gif', images.gif_with([images.gif_extension(0xfe, b'c')] * 1_000_000)),
        ('gif-xmp-19mb.gif', images.gif_with([images.gif_extension(
            0xff, b'XMP DataXMP' + b'x' * 19_000_000)])),
        ('gif-comment-1-byte-blocks.gif', images.gif_with(
            [images.gif_extension(0xfe, b'c' * 5_000_000, block=1)])),
        ('gif-plain-text.gif', images.gif_with([images.gif_extension(0x01, b'\x00' * 19_000_000)])),
        ('gif-1000-frames.gif', images.many_frame_gif(2000, frames=1000)),
        # WebP: EXIF, ICC and XMP chunks; unknown chunks; an animation on a huge canvas.
        ('webp-exif-19mb.webp', images.webp_with([(b'EXIF', b'MM\x00*' + b'\x00' * 19_000_000)])),
        ('webp-iccp-19mb.webp', images.webp_with([(b'ICCP', b'\x00' * 19_000_000)])),
        ('webp-xmp-19mb.webp', images.webp_with([(b'XMP ', b'<x/>' * 4_750_000)])),
        ('webp-1m-unknown-chunks.webp', images.webp_with([(b'ABCD', b'')] * 1_000_000)),
        ('webp-animation-7000-canvas.webp', images.animated_webp(canvas=7000, frames=1000)),
        ('webp-animation-6000-canvas.webp', images.animated_webp(canvas=6000, frames=1000)),
        # 65,536 Huffman groups: tables whatever the size of the image.
        ('webp-65536-groups-1mp.webp', images.lossless_webp_with_groups(1024)),
        ('webp-65536-groups-43mp.webp', images.lossless_webp_with_groups(6565)),
    ]


class MetadataBombTest(unittest.TestCase):
    """What is not pixels never reaches ImageMagick, and walking it is bounded."""

    @classmethod
    def setUpClass(cls):
        cls.memory_mb = function_memory_mb()
        cls.files = metadata_bombs()
        cls.reports = probe(cls.files, cls.memory_mb)

    def test_each_is_resized_or_refused_within_the_limits(self):
        limit_kib = self.memory_mb * 1024 * 6 // 10
        for name, data in self.files:
            with self.subTest(name):
                self.assertLess(len(data), MAX_UPLOAD_BYTES)
                report = self.reports[name]
                self.assertIn(report['outcome'], ('resized', 'rejected'), report)
                self.assertLess(report['seconds'], MAX_SECONDS, report)
                self.assertLess(report['peak_kib'] + resize.RUNTIME_MB * 1024, limit_kib, report)

    def test_the_small_images_inside_are_resized(self):
        refused = {name: report['detail'] for name, report in self.reports.items()
                   if report['outcome'] != 'resized'}
        # Refused for their structure, never for their pixels: no encoder writes these.
        self.assertEqual(sorted(refused), ['gif-1m-comments.gif',
                                           'gif-comment-1-byte-blocks.gif',
                                           'jpeg-1m-comments.jpg', 'jpeg-arithmetic.jpg',
                                           'jpeg-scan-bomb.jpg', 'png-1m-text.png',
                                           'png-4gib-after-its-rows.png',
                                           'webp-1m-unknown-chunks.webp',
                                           'webp-65536-groups-43mp.webp',
                                           'webp-animation-7000-canvas.webp'])
        self.assertIn('more than 32 scans', refused['jpeg-scan-bomb.jpg'])
        self.assertIn('131,072', refused['png-1m-text.png'])
        self.assertIn('7000x7000', refused['webp-animation-7000-canvas.webp'])
        self.assertIn('inflates past its pixels', refused['png-4gib-after-its-rows.png'])
        self.assertIn('only baseline and progressive', refused['jpeg-arithmetic.jpg'])
        self.assertIn('does not fit in the memory', refused['webp-65536-groups-43mp.webp'])
        self.assertEqual(self.reports['webp-animation-6000-canvas.webp']['size'], [1, 1])

    def test_refusals_say_why(self):
        for report in self.reports.values():
            if report['outcome'] == 'rejected':
                self.assertIn(report['reason'], ('corrupt', 'too-many-pixels',
                                                 'unsupported-format'), report)


class AmplificationTest(unittest.TestCase):
    """A few kilobytes may declare millions of pixels; the limit per format keeps each decode
    within the memory of the default function. The worst case of each format is measured at the
    largest size that limit allows, and just past it."""

    @classmethod
    def setUpClass(cls):
        cls.memory_mb = function_memory_mb()
        containers = sys.modules['containers']
        cls.sides = {coder: int(min(resize.DEFAULT_MAX_PIXELS, resize.max_pixels_in_memory(
            coder, cls.memory_mb, buffer, tables)) ** 0.5) for coder, buffer, tables in (
                ('GIF', containers.GIF_BUFFER, 0),
                ('WEBP', containers.WEBP_BUFFER, containers.huffman_tables(2048)),
                ('PNG', 8, 0))}  # an interlaced 16-bit RGBA PNG holds all its raw rows
        cls.files = [
            ('webp-lossless.webp', images.flat_image('webp', cls.sides['WEBP'], lossless=True)),
            ('gif.gif', images.flat_image('gif', cls.sides['GIF'])),
            ('png-16bit-rgba.png', images.flat_image('png', 7000, depth=16, alpha=True)),
            ('png-16bit-rgba-interlaced.png', images.flat_image(
                'png', cls.sides['PNG'], depth=16, alpha=True, interlaced=True)),
            ('png-16bit-rgba-interlaced-7000.png', images.flat_image(
                'png', 7000, depth=16, alpha=True, interlaced=True)),
            ('webp-7000.webp', images.flat_image('webp', 7000, lossless=True)),
            ('gif-7500.gif', images.gif_claiming(7500, 7500)),
        ]
        cls.reports = probe(cls.files, cls.memory_mb)
        for report in cls.reports.values():  # the README's table comes from these lines
            print(f"{report['file']}: {report['bytes']:,} bytes, {report['outcome']}, "
                  f"{report['peak_kib'] >> 10} MB, {report['seconds']:.2f} s", file=sys.stderr)

    def test_the_largest_allowed_fits_in_the_memory(self):
        limit_kib = self.memory_mb * 1024 * 6 // 10
        for name in ('webp-lossless.webp', 'gif.gif', 'png-16bit-rgba.png',
                     'png-16bit-rgba-interlaced.png'):
            with self.subTest(name):
                report = self.reports[name]
                self.assertEqual(report['outcome'], 'resized', report)
                self.assertLess(report['peak_kib'] + resize.RUNTIME_MB * 1024, limit_kib, report)
                self.assertLess(report['seconds'], MAX_SECONDS, report)

    def test_larger_is_refused_from_the_header(self):
        for name in ('webp-7000.webp', 'gif-7500.gif', 'png-16bit-rgba-interlaced-7000.png'):
            with self.subTest(name):
                report = self.reports[name]
                self.assertEqual(report['reason'], 'too-many-pixels', report)
                self.assertLess(report['seconds'], 0.5, report)
        self.assertIn(f'{self.memory_mb} MB function', self.reports['webp-7000.webp']['detail'])

    def test_a_smaller_function_gets_a_smaller_limit(self):
        self.assertLess(resize.max_pixels_in_memory('WEBP', 512),
                        resize.max_pixels_in_memory('WEBP', 1024) / 2)
        data = self.files[0][1]
        with self.assertRaises(resize.ImageTooLarge) as refused:
            resize.resize_blob(data, 400, 400, memory_mb=512)
        self.assertIn('512 MB function', str(refused.exception))


if __name__ == '__main__':
    unittest.main()
