"""make layer: the ImageMagick layer for Lambda's Amazon Linux 2023, checked without AWS.

The layer is built once per run from Debian bullseye's packages (tests/layer.py). These tests
read its ELF files, load it in a fresh interpreter with the paths `make create` sets (host
ImageMagick out of the way: the layer's libraries come first, and /proc/self/maps is read to
prove it), and run the project's corpus through it.
"""
import json
import os
import re
import subprocess
import tempfile
import unittest
import zipfile

from deploy import elf
from tests import images, layer
from tests.workspace import make

# Reads every payload by file name with an explicit coder, as an attacker who got past
# resize.py's magic-byte check would; prints {name: "read" | error}.
READ_DIRECTLY = '''
import json, os, sys
from wand.image import Image
from wand.exceptions import WandException
outcomes = {}
for path in sys.argv[1:]:
    name = os.path.basename(path)
    try:
        with Image(filename=f"{name.upper()}:{path}") as image:
            outcomes[name] = "read"
    except WandException as error:
        outcomes[name] = f"{type(error).__name__}: {error}"
print(json.dumps(outcomes))
'''

# Runs the corpus through resize.py; prints the outcomes and the ImageMagick files mapped.
RESIZE_CORPUS = '''
import json, re, sys
import resize
corpus = json.load(open(sys.argv[1]))
outcomes = {}
for name, hex_data in corpus.items():
    try:
        resized = resize.resize_blob(bytes.fromhex(hex_data), 400, 400)
        outcomes[name] = [resized.mime_type, list(resized.size)]
    except resize.ImageRejected as rejection:
        outcomes[name] = ["rejected", rejection.reason]
with open("/proc/self/maps") as maps:
    mapped = sorted({line.split()[-1] for line in maps if line.rstrip().endswith(".so")
                     or ".so." in line})
print(json.dumps({"outcomes": outcomes, "mapped": mapped}))
'''
IMAGEMAGICK_FILES = re.compile(r'libMagick|/coders/|libjpeg|libpng|libwebp|libgomp|liblcms|libxml2')
PAYLOADS = {'mvg': images.MVG, 'msl': images.MSL, 'svg': images.SVG, 'text': b'hello\n',
            'pdf': images.PDF}


class LayerBuildTest(unittest.TestCase):
    def test_the_layer_is_cached_and_deterministic(self):
        root = layer.built_layer()
        again = make(root, 'layer')
        self.assertIn('up to date', again.stdout)
        with tempfile.TemporaryDirectory() as folder:
            rebuilt = os.path.join(folder, 'again.zip')
            make(root, '-C', 'image_resize', 'layer', f'LAYER_ZIP={rebuilt}')
            with open(rebuilt, 'rb') as first, open(layer.layer_zip(), 'rb') as second:
                self.assertEqual(first.read(), second.read(), 'the same inputs, the same bytes')

    def test_an_amazon_linux_2_runtime_is_refused(self):
        refused = make(layer.built_layer(), 'layer', 'RUNTIME=python3.11', check=False)
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn('RUNTIME=python3.11 runs on Amazon Linux 2 (glibc 2.26)', refused.stderr)

    def test_every_elf_file_loads_on_amazon_linux_2023(self):
        files = elf.zip_files(layer.layer_zip())
        self.assertEqual(elf.problems(files, 'x86_64'), [])
        count, versions = elf.summary(files)
        self.assertGreater(count, 20)
        self.assertLessEqual(versions['GLIBC'], (2, 34))
        result = make(layer.built_layer(), 'layer-check')
        self.assertIn('load on Amazon Linux 2023', result.stdout)

    def test_the_layout_is_the_one_wand_and_imagemagick_read(self):
        with zipfile.ZipFile(layer.layer_zip()) as archive:
            names = set(archive.namelist())
            policy = archive.read('etc/imagemagick/policy.xml').decode()
        for name in ('lib/libMagickWand-6.Q16.so.6', 'lib/libMagickCore-6.Q16.so.6'):
            self.assertIn(name, names)  # where Wand looks with MAGICK_HOME=/opt
        coders = sorted(name.rsplit('/', 1)[1] for name in names if '/coders/' in name)
        self.assertEqual(coders, ['gif.la', 'gif.so', 'jpeg.la', 'jpeg.so', 'png.la', 'png.so',
                                  'webp.la', 'webp.so'])
        self.assertFalse([name for name in names if re.search(
            r'lib(c|m|pthread|dl|rt|gcc_s|stdc\+\+)\.so', name)], 'nothing the runtime has')
        self.assertIn('pattern="{JPEG,PNG,GIF,WEBP}"', policy)
        self.assertIn('<policy domain="delegate" rights="none" pattern="*" />', policy)


class LayerAtRunTimeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.opt = layer.unpacked_layer()
        cls.payloads = tempfile.mkdtemp(prefix='payloads-')
        cls.addClassCleanup(subprocess.run, ['rm', '-rf', cls.payloads])
        for name, data in PAYLOADS.items():
            with open(os.path.join(cls.payloads, name), 'wb') as handle:
                handle.write(data)

    def read_directly(self, environment):
        result = layer.run_python(READ_DIRECTLY, environment,
                                  *[os.path.join(self.payloads, name) for name in PAYLOADS])
        self.assertEqual(result.returncode, 0, result.stderr)
        return json.loads(result.stdout)

    def test_the_policy_refuses_what_the_format_check_would(self):
        """Wand called directly, the project's format check bypassed."""
        with_layer = self.read_directly(layer.layer_environment(self.opt))
        self.assertFalse([name for name, outcome in with_layer.items() if outcome == 'read'],
                         with_layer)
        # The policy alone, in front of an ImageMagick that has every coder (this machine's):
        # each payload is refused by the policy itself.
        policy_only = self.read_directly(layer.layer_environment(self.opt, libraries=False))
        for name in ('mvg', 'msl', 'svg', 'text'):
            self.assertIn('not allowed by the security policy', policy_only[name])
        # ...and the MVG payload is live: without the policy, that ImageMagick draws it.
        control = layer.run_python(READ_DIRECTLY, layer.layer_environment(
            self.opt, policy=False, libraries=False), os.path.join(self.payloads, 'mvg'))
        self.assertEqual(json.loads(control.stdout), {'mvg': 'read'})

    def test_the_corpus_behaves_as_with_the_hosts_imagemagick(self):
        corpus = {'photo': images.photo_jpeg(1600, 1200), 'rotated': images.jpeg(800, 600, 6),
                  'cmyk': images.cmyk_jpeg(), 'alpha': images.png(800, 600, alpha=True),
                  'deep': images.png(800, 600, depth=16), 'webp': images.webp(640, 480),
                  'gif': images.animated_gif(500, 400, 3), 'tiny': images.png(30, 20),
                  'mvg': images.MVG, 'svg': images.SVG, 'msl': images.MSL, 'pdf': images.PDF,
                  'html': images.HTML, 'truncated': images.truncated(images.jpeg(1200, 900)),
                  'header-bomb': images.png_header_bomb(), 'deflate-bomb': images.png_deflate_bomb()}
        with tempfile.NamedTemporaryFile('w', suffix='.json') as saved:
            json.dump({name: data.hex() for name, data in corpus.items()}, saved)
            saved.flush()
            runs = {}
            for label, environment in (('layer', layer.layer_environment(self.opt)),
                                       ('host', dict(os.environ))):
                result = layer.run_python(RESIZE_CORPUS, environment, saved.name)
                self.assertEqual(result.returncode, 0, result.stderr)
                runs[label] = json.loads(result.stdout)
        self.assertEqual(runs['layer']['outcomes'], runs['host']['outcomes'])
        self.assertEqual(runs['layer']['outcomes']['rotated'], ['image/jpeg', [300, 400]])
        self.assertEqual(runs['layer']['outcomes']['truncated'], ['rejected', 'corrupt'])
        imagemagick = [path for path in runs['layer']['mapped'] if IMAGEMAGICK_FILES.search(path)]
        self.assertTrue(any('libMagickCore' in path for path in imagemagick))
        self.assertTrue(any(path.endswith('/coders/jpeg.so') for path in imagemagick))
        outside = [path for path in imagemagick if not path.startswith(self.opt + os.sep)]
        self.assertEqual(outside, [], 'every ImageMagick file mapped comes from the layer')
