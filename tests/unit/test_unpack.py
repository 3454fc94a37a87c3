"""Function and layer zips unpacked as Lambda unpacks them (symlinks kept), never anywhere but
their folder, once per content; and Lambda's checks of a deployment package at create time."""
import io
import os
import shutil
import stat
import struct
import tempfile
import unittest
import zipfile

import boto3
from moto import mock_aws
from moto.awslambda import models

from local_endpoint import code_limits, unpack
from local_endpoint.unpack import UNZIPPED_LIMIT, UnpackError

ROLE = 'arn:aws:iam::123456789012:role/test'


def zip_of(*entries):
    """A zip of (name, content) files, (name, target, 'link') symlinks, and (name, content,
    mode) files with a Unix mode."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, 'w', zipfile.ZIP_DEFLATED) as archive:
        for name, content, *kind in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            if kind == ['link']:
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
            else:
                info.external_attr = (stat.S_IFREG | (kind[0] if kind else 0o644)) << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def declaring(zip_bytes, size):
    """The zip with its first entry's uncompressed size, in the central directory, changed."""
    data = bytearray(zip_bytes)
    central = data.index(b'PK\x01\x02')
    struct.pack_into('<I', data, central + 24, size)
    return bytes(data)


class UnpackTest(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.root)
        self.cache = os.path.join(self.root, 'code')
        self.staging = os.path.join(self.root, 'run')
        self.outside = os.path.join(self.root, 'outside')
        os.mkdir(self.outside)

    def unpacked(self, *zips):
        return unpack.unpacked(list(zips), self.cache, self.staging)

    def assertNothingLeft(self):
        self.assertEqual(os.listdir(self.outside), [], 'nothing written outside')
        self.assertEqual(os.listdir(self.staging) if os.path.exists(self.staging) else [], [],
                         'no staging folder left')
        self.assertFalse(os.path.exists(self.cache) and os.listdir(self.cache),
                         'no half-unpacked folder in the cache')

    def test_symlinks_are_kept_and_permissions_too(self):
        folder = self.unpacked(zip_of(('lib/libx.so.1', b'\x7fELF'),
                                      ('lib/libx.so', 'libx.so.1', 'link'),
                                      ('bin/tool', b'#!/bin/sh\n', 0o755)))
        link = os.path.join(folder, 'lib', 'libx.so')
        self.assertTrue(os.path.islink(link))
        self.assertEqual(os.readlink(link), 'libx.so.1')
        with open(link, 'rb') as handle:
            self.assertEqual(handle.read(), b'\x7fELF')
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(folder, 'bin', 'tool')).st_mode),
                         0o755)

    def test_nothing_is_written_through_a_symlink(self):
        for through in ('evil/pwned', 'evil/deeper/pwned'):
            with self.subTest(through), self.assertRaises(UnpackError) as caught:
                self.unpacked(zip_of(('evil', self.outside, 'link'), (through, b'x')))
            self.assertIn(through, str(caught.exception))
            self.assertIn("through the symlink 'evil'", str(caught.exception))
            self.assertNothingLeft()

    def test_nothing_is_written_outside_the_folder(self):
        for name in ('../outside/escaped', '/abs/path', 'a/../../outside/escaped'):
            with self.subTest(name), self.assertRaises(UnpackError) as caught:
                self.unpacked(zip_of(('fine.py', b''), (name, b'x')))
            self.assertIn(repr(name), str(caught.exception))
            self.assertNothingLeft()

    def test_a_later_layer_replaces_an_earlier_ones_symlink_not_its_target(self):
        target = os.path.join(self.outside, 'target')
        with open(target, 'w') as handle:
            handle.write('untouched')
        folder = self.unpacked(zip_of(('python/x', target, 'link')),
                               zip_of(('python/x', b'from layer two')))
        self.assertFalse(os.path.islink(os.path.join(folder, 'python', 'x')))
        with open(target) as handle:
            self.assertEqual(handle.read(), 'untouched')

    def test_a_later_layer_cannot_write_through_an_earlier_ones_symlink(self):
        with self.assertRaises(UnpackError):
            self.unpacked(zip_of(('python', self.outside, 'link')),
                          zip_of(('python/module.py', b'x')))
        self.assertEqual(os.listdir(self.outside), [])
        self.assertEqual(os.listdir(self.staging), [])

    def test_a_zip_bomb_stops_at_the_size_it_declared(self):
        bomb = declaring(zip_of(('big.bin', b'\0' * (4 << 20))), 1024)
        with self.assertRaises(UnpackError):
            self.unpacked(bomb)
        self.assertNothingLeft()

    def test_the_declared_total_is_held_to_lambdas_limit(self):
        with self.assertRaises(UnpackError) as caught:
            self.unpacked(declaring(zip_of(('big.bin', b'x')), UNZIPPED_LIMIT))
        self.assertIn(f'not smaller than {UNZIPPED_LIMIT}', str(caught.exception))
        self.assertNothingLeft()

    def test_what_is_not_a_zip_is_refused_clearly(self):
        for data in (b'', b'not a zip at all', zip_of(('a.py', b'x' * 1000))[:-30]):
            with self.subTest(data[:10]), self.assertRaises(UnpackError) as caught:
                self.unpacked(data)
            self.assertIn('not a readable zip file', str(caught.exception))
            self.assertNothingLeft()

    def test_folders_are_keyed_by_content_in_order(self):
        one, two = zip_of(('layer.txt', b'one')), zip_of(('layer.txt', b'two'))
        first = self.unpacked(one)
        self.assertEqual(self.unpacked(one), first, 'the same content is unpacked once')
        republished = self.unpacked(two)  # a new layer under the same name and ARN
        self.assertNotEqual(republished, first)
        with open(os.path.join(republished, 'layer.txt')) as handle:
            self.assertEqual(handle.read(), 'two')
        self.assertNotEqual(self.unpacked(one, two), self.unpacked(two, one))
        with open(os.path.join(self.unpacked(one, two), 'layer.txt')) as handle:
            self.assertEqual(handle.read(), 'two', 'the later layer wins')


class MotoLambda:
    """A test case's setUp: moto's Lambda in process, with local_endpoint.code_limits on."""

    def setUp(self):
        patched = ('create_function', 'update_function_code', 'update_function_configuration',
                   'publish_layer_version')
        originals = {name: getattr(models.LambdaBackend, name) for name in patched}

        def restore():
            for name, method in originals.items():
                setattr(models.LambdaBackend, name, method)
            models.LambdaBackend._code_limits = False

        self.addCleanup(restore)
        code_limits.install()
        mock = mock_aws()
        mock.start()
        self.addCleanup(mock.stop)
        boto3.client('iam', region_name='us-east-1').create_role(
            RoleName='test', AssumeRolePolicyDocument='{}')
        self.lambdas = boto3.client('lambda', region_name='us-east-1')


class CodeLimitsTest(MotoLambda, unittest.TestCase):
    """create-function, update-function-code, update-function-configuration and
    publish-layer-version refuse what Lambda refuses, with its words."""

    def refused(self, call, **arguments):
        with self.assertRaises(self.lambdas.exceptions.InvalidParameterValueException) as caught:
            call(**arguments)
        self.assertEqual(caught.exception.response['ResponseMetadata']['HTTPStatusCode'], 400)
        return caught.exception.response['Error']['Message']

    def create(self, name, code, **settings):
        return self.lambdas.create_function(
            FunctionName=name, Runtime='python3.12', Role=ROLE, Handler='handler.handler',
            Code={'ZipFile': code}, **settings)

    def test_a_zip_that_cannot_be_unpacked_is_refused_at_create(self):
        for code in (b'not a zip', zip_of(('link', '/etc', 'link'), ('link/passwd', b'x')),
                     zip_of(('../escape.py', b''))):
            with self.subTest(code[:12]):
                message = self.refused(self.create, name='Bad', code=code)
                self.assertEqual(message, 'Could not unzip uploaded file. Please check your '
                                          'file, then try to upload again.')
        self.assertEqual(self.lambdas.list_functions()['Functions'], [], 'nothing stored')

    def test_code_over_250_mb_unzipped_is_refused(self):
        too_big = declaring(zip_of(('handler.py', b'x')), UNZIPPED_LIMIT)
        expected = 'Unzipped size must be smaller than 262144000 bytes'
        self.assertEqual(self.refused(self.create, name='Big', code=too_big), expected)
        self.create('Small', zip_of(('handler.py', b'x')))
        self.assertEqual(self.refused(self.lambdas.update_function_code, FunctionName='Small',
                                      ZipFile=too_big), expected)
        self.assertEqual(self.refused(self.lambdas.publish_layer_version, LayerName='big',
                                      Content={'ZipFile': too_big}), expected)

    def test_code_and_layers_over_250_mb_together_are_refused(self):
        half = UNZIPPED_LIMIT // 2
        layers = [self.lambdas.publish_layer_version(
            LayerName=f'half{index}', Content={'ZipFile': declaring(zip_of(('a', b'x')), half)}
        )['LayerVersionArn'] for index in range(2)]
        code = declaring(zip_of(('handler.py', b'x')), 10)
        expected = ('Function code combined with layers exceeds the maximum allowed size of '
                    f'262144000 bytes. The actual size is {2 * half + 10} bytes.')
        self.assertEqual(self.refused(self.create, name='Heavy', code=code, Layers=layers),
                         expected)
        self.create('Light', code, Layers=layers[:1])
        self.assertEqual(self.refused(self.lambdas.update_function_configuration,
                                      FunctionName='Light', Layers=layers), expected)
