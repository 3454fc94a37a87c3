"""The ImageMagick layer, built once per test run by `make layer` in a project copy of its own
(the first build downloads about 18 MB of Debian packages), and what tests do with it."""
import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

from deploy.functions import ROOT
from tests.workspace import copy_project, make

ZIP = os.path.join('image_resize', 'imagemagick-layer.zip')
STAMP = os.path.join('image_resize', '.build', 'layer', 'imagemagick-layer.zip.inputs')
_built = {}


def built_layer():
    """The project copy holding the built layer: ROOT/image_resize/imagemagick-layer.zip."""
    if 'root' not in _built:
        root = copy_project()
        atexit.register(shutil.rmtree, root, True)
        make(root, 'layer', timeout=900)
        _built['root'] = root
    return _built['root']


def layer_zip():
    return os.path.join(built_layer(), ZIP)


def give_layer_to(root):
    """Put the built layer into another copy, as its own `make layer` would leave it."""
    for name in (ZIP, STAMP):
        os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
        shutil.copyfile(os.path.join(built_layer(), name), os.path.join(root, name))


def unpacked_layer():
    """The layer unpacked once, standing for /opt."""
    if 'opt' not in _built:
        folder = tempfile.mkdtemp(prefix='opt-')
        atexit.register(shutil.rmtree, folder, True)
        with zipfile.ZipFile(layer_zip()) as archive:
            archive.extractall(folder)
        _built['opt'] = folder
    return _built['opt']


def layer_environment(opt, policy=True, libraries=True):
    """What `make create` gives the function, with `opt` for /opt. policy=False leaves out the
    layer's configuration; libraries=False uses the host's ImageMagick instead of the layer's."""
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(('MAGICK_', 'LD_LIBRARY_PATH'))}
    if libraries:
        environment.update(MAGICK_HOME=opt, LD_LIBRARY_PATH=os.path.join(opt, 'lib'),
                           MAGICK_CODER_MODULE_PATH=os.path.join(opt, 'lib', 'imagemagick',
                                                                 'coders'))
    environment['MAGICK_CONFIGURE_PATH'] = (os.path.join(opt, 'etc', 'imagemagick') if policy
                                            else tempfile.mkdtemp(prefix='no-policy-'))
    return environment


def run_python(code, environment, *arguments):
    """Run code in a fresh interpreter (ImageMagick is loaded once per process)."""
    environment = dict(environment, PYTHONPATH=os.pathsep.join(
        [ROOT, os.path.join(ROOT, 'image_resize')]))
    return subprocess.run([sys.executable, '-c', code, *arguments], env=environment,
                          capture_output=True, text=True, timeout=300)
