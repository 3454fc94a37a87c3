"""resize.py: the image logic, with no AWS. Every input is generated here."""
import sys
import unittest
from unittest import mock

from wand.image import Image

from tests import images
from deploy.functions import load

resize = load('image_resize', 'resize')


def decoded(data):
    return Image(blob=data)


def colour_at(image, x, y):
    pixel = image[x, y]
    return round(pixel.red * 255), round(pixel.green * 255), round(pixel.blue * 255), \
        round(pixel.alpha * 255)


def is_reddish(rgba):
    red, green, blue, _ = rgba
    return red > 200 and green < 60 and blue < 60


def is_blueish(rgba):
    red, green, blue, _ = rgba
    return blue > 200 and red < 60 and green < 60


class FitWithinTest(unittest.TestCase):
    def test_landscape_fits_width(self):
        self.assertEqual(resize.fit_within(4000, 3000, 400, 400), (400, 300))

    def test_portrait_fits_height(self):
        self.assertEqual(resize.fit_within(3000, 4000, 400, 400), (300, 400))

    def test_non_square_box(self):
        self.assertEqual(resize.fit_within(1000, 1000, 400, 200), (200, 200))
        self.assertEqual(resize.fit_within(2000, 500, 400, 200), (400, 100))

    def test_never_enlarges(self):
        self.assertEqual(resize.fit_within(30, 20, 400, 400), (30, 20))
        self.assertEqual(resize.fit_within(400, 400, 400, 400), (400, 400))
        self.assertEqual(resize.fit_within(400, 10, 400, 400), (400, 10))

    def test_extreme_aspect_never_rounds_to_zero(self):
        self.assertEqual(resize.fit_within(1, 100000, 400, 400), (1, 400))
        self.assertEqual(resize.fit_within(100000, 1, 400, 400), (400, 1))
        self.assertEqual(resize.fit_within(3, 100000, 400, 400), (1, 400))

    def test_rounds_to_nearest(self):
        self.assertEqual(resize.fit_within(1001, 999, 400, 400), (400, 399))

    def test_refuses_non_positive_sizes(self):
        for arguments in ((0, 10, 400, 400), (10, -1, 400, 400), (10, 10, 0, 400)):
            with self.assertRaises(ValueError):
                resize.fit_within(*arguments)


class ResizeImageTest(unittest.TestCase):
    """The tutorial's public function keeps its signature and returns the image."""

    def test_best_fit_keeps_aspect(self):
        with images.two_colour(1200, 600) as image:
            returned = resize.resize_image(image, 400, 400)
            self.assertIs(returned, image)
            self.assertEqual(image.size, (400, 200))

    def test_small_image_is_not_enlarged(self):
        with images.two_colour(100, 50) as image:
            resize.resize_image(image, 400, 400)
            self.assertEqual(image.size, (100, 50))


class SniffFormatTest(unittest.TestCase):
    def test_allowlisted_formats(self):
        self.assertIs(resize.sniff_format(images.jpeg(20, 20)), resize.JPEG)
        self.assertIs(resize.sniff_format(images.png(20, 20)), resize.PNG)
        self.assertIs(resize.sniff_format(images.animated_gif(20, 20, 2)), resize.GIF)
        self.assertIs(resize.sniff_format(images.webp(20, 20)), resize.WEBP)

    def test_declared_size_read_from_headers(self):
        for data, size in ((images.jpeg(801, 599), (801, 599)), (images.png(33, 44), (33, 44)),
                           (images.animated_gif(50, 40, 2), (50, 40)),
                           (images.webp(641, 479), (641, 479)),
                           (images.webp(643, 471, alpha=False), (643, 471))):
            self.assertIn(size, resize.pixel_data(data, resize.sniff_format(data).coder).sizes)


class ResizeBlobTest(unittest.TestCase):
    def resized(self, data, max_width=400, max_height=400, **options):
        result = resize.resize_blob(data, max_width, max_height, **options)
        return result

    def test_returns_bytes_and_mime_type(self):
        data, mime_type = self.resized(images.jpeg(800, 600))
        self.assertIsInstance(data, bytes)
        self.assertEqual(mime_type, 'image/jpeg')

    def test_jpeg_is_fitted_progressive_and_reports_sizes(self):
        result = self.resized(images.jpeg(800, 600))
        self.assertEqual(result.source_size, (800, 600))
        self.assertEqual(result.size, (400, 300))
        self.assertIn(b'\xff\xc2', result.data[:2000], 'SOF2 marker: progressive JPEG')
        with decoded(result.data) as image:
            self.assertEqual(image.size, (400, 300))
            self.assertEqual(image.format, 'JPEG')

    def test_jpeg_quality_is_applied(self):
        source = images.jpeg(800, 600)
        low = self.resized(source, jpeg_quality=20).data
        high = self.resized(source, jpeg_quality=95).data
        self.assertLess(len(low), len(high))

    def test_jpeg_is_decoded_at_reduced_scale(self):
        """libjpeg's DCT scaling: a 3200x2400 JPEG bound for 400x300 decodes at 1/8."""
        seen = []
        original = resize._resize_to

        def spy(image, width, height):
            seen.append(image.size)
            return original(image, width, height)

        with mock.patch.object(resize, '_resize_to', spy):
            self.resized(images.jpeg(3200, 2400))
        self.assertEqual(seen, [(400, 300)])

    def test_exif_orientation_is_applied_then_stripped_with_gps(self):
        source = images.jpeg(800, 600, orientation=6, gps=True)
        with decoded(source) as original:
            self.assertEqual(original.orientation, 'right_top')
            self.assertTrue(any(name.startswith('exif:GPS') for name in original.metadata))
        result = self.resized(source)
        self.assertEqual(result.size, (300, 400))
        self.assertNotIn(b'Exif', result.data)
        with decoded(result.data) as image:
            self.assertEqual(image.size, (300, 400))
            self.assertFalse([name for name in image.metadata if name.startswith('exif:')])
            # Stored left half red; rotated 90 degrees clockwise, red is on top.
            self.assertTrue(is_reddish(colour_at(image, 150, 20)))
            self.assertTrue(is_blueish(colour_at(image, 150, 380)))

    def test_cmyk_becomes_srgb(self):
        source = images.cmyk_jpeg(600, 400)
        with decoded(source) as original:
            self.assertEqual(original.colorspace, 'cmyk')
        with decoded(self.resized(source).data) as image:
            self.assertEqual(image.colorspace, 'srgb')
            self.assertTrue(is_reddish(colour_at(image, 200, 100)))

    def test_png_keeps_transparency(self):
        result = self.resized(images.png(800, 600, alpha=True))
        self.assertEqual(result.mime_type, 'image/png')
        with decoded(result.data) as image:
            self.assertEqual(image.size, (400, 300))
            self.assertTrue(image.alpha_channel)
            self.assertEqual(colour_at(image, 100, 50)[3], 0, 'top half stays transparent')
            self.assertEqual(colour_at(image, 100, 250)[3], 255)

    def test_sixteen_bit_png_becomes_eight_bit(self):
        source = images.png(800, 600, depth=16)
        with decoded(source) as original:
            self.assertEqual(original.depth, 16)
        with decoded(self.resized(source).data) as image:
            self.assertEqual(image.depth, 8)
            self.assertEqual(image.size, (400, 300))

    def test_animated_gif_gives_its_first_frame(self):
        result = self.resized(images.animated_gif(500, 400, frames=5))
        self.assertEqual(result.mime_type, 'image/gif')
        with decoded(result.data) as image:
            self.assertEqual(len(image.sequence), 1)
            self.assertEqual(image.size, (400, 320))
            self.assertTrue(is_reddish(colour_at(image, 200, 160)))

    def test_webp_stays_webp_with_alpha(self):
        result = self.resized(images.webp(800, 600, alpha=True))
        self.assertEqual(result.mime_type, 'image/webp')
        self.assertEqual(result.data[8:12], b'WEBP')
        with decoded(result.data) as image:
            self.assertEqual(image.size, (400, 300))
            self.assertEqual(colour_at(image, 100, 50)[3], 0)

    def test_tiny_image_is_not_enlarged(self):
        result = self.resized(images.png(30, 20))
        self.assertEqual(result.size, (30, 20))
        with decoded(result.data) as image:
            self.assertEqual(image.size, (30, 20))

    def test_extreme_aspect_keeps_one_pixel(self):
        result = self.resized(images.png(1, 5000))
        with decoded(result.data) as image:
            self.assertEqual(image.size, (1, 400))


class RefusalTest(unittest.TestCase):
    def assertRejected(self, data, error, reason, **options):
        with self.assertRaises(error) as caught:
            resize.resize_blob(data, 400, 400, **options)
        self.assertIsInstance(caught.exception, ValueError)
        self.assertEqual(caught.exception.reason, reason)
        self.assertTrue(str(caught.exception))
        return caught.exception

    def test_zero_bytes(self):
        self.assertRejected(b'', resize.EmptyImage, 'empty')

    def test_payloads_imagemagick_would_interpret_never_reach_it(self):
        with mock.patch.object(resize, '_ping') as ping, \
                mock.patch.object(resize, '_decode') as decode:
            for name in ('SVG', 'MVG', 'MSL', 'TEXT', 'PDF', 'HTML'):
                with self.subTest(name):
                    error = self.assertRejected(getattr(images, name),
                                                resize.UnsupportedFormat, 'unsupported-format')
                    self.assertIn('only JPEG, PNG, GIF and WebP', str(error))
            ping.assert_not_called()
            decode.assert_not_called()

    def test_refusals_name_what_the_file_looks_like(self):
        for name, words in (('PDF', 'PDF'), ('HTML', 'HTML'), ('TEXT', 'text'), ('MVG', 'MVG')):
            with self.subTest(name):
                error = self.assertRejected(getattr(images, name), resize.UnsupportedFormat,
                                            'unsupported-format')
                self.assertIn(words, str(error))

    def test_svg_behind_a_jpeg_signature_is_decoded_as_jpeg_only(self):
        self.assertRejected(b'\xff\xd8\xff' + images.SVG, resize.CorruptImage, 'corrupt')

    def test_png_bytes_with_a_forced_other_coder_are_not_guessed(self):
        """The explicit coder is honoured: PNG data read as JPEG fails instead of "working"."""
        source = images.png(50, 40)
        with mock.patch.object(resize, 'sniff_format', return_value=resize.JPEG):
            self.assertRejected(source, resize.CorruptImage, 'corrupt')

    def test_truncated_jpeg_is_refused_not_half_grey(self):
        error = self.assertRejected(images.truncated(images.jpeg(1200, 900)),
                                    resize.CorruptImage, 'corrupt')
        self.assertIn('Premature end', str(error))
        self.assertNotIn('@', str(error))

    def test_truncated_png_gif_and_webp(self):
        with Image(width=300, height=200, background='red') as frame:
            frame.format = 'gif'
            single_gif = frame.make_blob()
        for name, data in (('png', images.png(1000, 800)), ('gif', single_gif),
                           ('webp', images.webp(600, 400))):
            with self.subTest(name):
                self.assertRejected(images.truncated(data, 0.6), resize.CorruptImage, 'corrupt')

    def test_png_header_claiming_60000_square_is_refused_before_decoding(self):
        with mock.patch.object(resize, '_decode') as decode:
            error = self.assertRejected(images.png_header_bomb(60000, 60000),
                                        resize.ImageTooLarge, 'too-many-pixels')
            decode.assert_not_called()
        self.assertIn('60000x60000', str(error))

    def test_real_deflate_bomb_is_refused_before_decoding(self):
        bomb = images.png_deflate_bomb(20000)
        self.assertLess(len(bomb), 1_000_000, 'a bomb: 400 MB of pixels in under 1 MB')
        with mock.patch.object(resize, '_decode') as decode:
            self.assertRejected(bomb, resize.ImageTooLarge, 'too-many-pixels')
            decode.assert_not_called()

    def test_pixel_limit_is_configurable(self):
        self.assertRejected(images.jpeg(800, 600), resize.ImageTooLarge, 'too-many-pixels',
                            max_pixels=400 * 300)
        resize.resize_blob(images.jpeg(800, 600), 400, 400, max_pixels=800 * 600)

    def test_ping_has_the_last_word_when_headers_cannot_be_read(self):
        headers_unread = lambda blob, coder: sys.modules['containers'].PixelData(blob, ())
        with mock.patch.object(resize, 'pixel_data', headers_unread):
            self.assertRejected(images.png_header_bomb(9000, 9000), resize.ImageTooLarge,
                                'too-many-pixels')


class ThreadsTest(unittest.TestCase):
    """ImageMagick runs as many threads as MemorySize buys whole cores, at least one."""

    def test_threads_follow_the_cpu_share(self):
        self.assertEqual([resize.threads_for(mb) for mb in (128, 1024, 1769, 3538, 10240)],
                         [1, 1, 1, 2, 5])

    def test_a_resize_runs_on_its_threads_and_puts_the_limit_back(self):
        limits = sys.modules[resize.__name__].limits
        before = limits['thread']
        seen = []
        real = resize._resize

        def watching(*arguments):
            seen.append(limits['thread'])
            return real(*arguments)

        with mock.patch.object(resize, '_resize', watching):
            resize.resize_blob(images.jpeg(800, 600), 400, 400, memory_mb=3538)
        self.assertEqual((seen, limits['thread']), ([2], before))
