"""deploy.elf: the checks that decide whether a layer's libraries load on Amazon Linux 2023,
tried on real ELF files of this machine."""
import ctypes.util
import os
import sys
import unittest

from deploy import elf


def host_library(name):
    """The path of one of this machine's shared libraries, found as the linker finds it."""
    found = ctypes.util.find_library(name)
    for folder in ('/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu',
                   '/usr/lib/aarch64-linux-gnu', '/lib64', '/usr/lib64'):
        if found and os.path.exists(os.path.join(folder, found)):
            return os.path.realpath(os.path.join(folder, found))
    return None


def read(path):
    with open(path, 'rb') as handle:
        return handle.read()


class ElfCheckTest(unittest.TestCase):
    def test_a_python_interpreter_is_read(self):
        info = elf.read('python', read(os.path.realpath(sys.executable)))
        self.assertTrue(info.needed)
        self.assertTrue(any(version.startswith('GLIBC_') for version in info.versions))

    def test_files_that_are_not_elf_are_skipped(self):
        self.assertIsNone(elf.read('policy.xml', b'<policymap/>'))
        self.assertEqual(elf.problems({'etc/policy.xml': b'<policymap/>'}), [])

    def test_a_library_newer_than_the_runtime_is_refused(self):
        """This machine's (Debian 12's) libMagickCore needs glibc 2.35: the reason the layer
        takes bullseye's."""
        core = host_library('MagickCore-6.Q16') or host_library('MagickCore-7.Q16HDRI')
        if core is None:
            self.skipTest('no ImageMagick library on this machine')
        info = elf.read(core, read(core))
        if elf.highest(info.versions, 'GLIBC') <= (2, 34):
            self.skipTest(f'{core} needs no glibc newer than 2.34')
        found = elf.problems({f'lib/{os.path.basename(core)}': read(core)},
                             runtime_libraries=elf.RUNTIME_LIBRARIES | set(info.needed))
        self.assertTrue(found)
        self.assertTrue(all('Amazon Linux 2023 has GLIBC_2.34 at most' in problem
                            for _, problem in found), found)

    def test_a_library_missing_from_the_layer_is_named(self):
        zlib = host_library('z')
        png = host_library('png16')
        if not (zlib and png):
            self.skipTest('no libz or libpng16 on this machine')
        relaxed = dict(elf.HIGHEST_VERSIONS, GLIBC=(9, 99))
        found = elf.problems({'lib/libpng16.so.16': read(png)}, highest_versions=relaxed)
        self.assertIn(('lib/libpng16.so.16', 'needs libz.so.1, which is neither in the layer nor '
                                             'provided by the runtime'), found)
        with_zlib = {'lib/libpng16.so.16': read(png), 'lib/libz.so.1': read(zlib)}
        self.assertEqual(elf.problems(with_zlib, highest_versions=relaxed), [],
                         'libc and libm are the runtime\'s; libz is now in the layer')

    def test_a_file_for_another_architecture_is_named(self):
        python = read(os.path.realpath(sys.executable))
        machine = elf.read('python', python).machine
        other = next(arch for arch, name in elf.MACHINES.items() if name != machine)
        self.assertIn(('bin/python', f'is built for {machine}, not {other}'),
                      elf.problems({'bin/python': python}, other))

    def test_every_version_family_has_a_ceiling(self):
        relaxed = {family: (0,) for family in elf.HIGHEST_VERSIONS}
        libc_user = read(os.path.realpath(sys.executable))
        found = elf.problems({'bin/python': libc_user}, highest_versions=relaxed)
        self.assertTrue(any('needs GLIBC_' in problem for _, problem in found))
