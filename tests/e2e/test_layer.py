"""image_resize on the local endpoint with the ImageMagick layer attached, as on AWS:
`make layer-publish`, then `make infra create` attaches the newest layer version and sets
MAGICK_HOME, MAGICK_CONFIGURE_PATH and MAGICK_CODER_MODULE_PATH under /opt (the endpoint's
unpacked layers). The hostile corpus must behave as with the host's ImageMagick, and
/proc/<pid>/maps of the function's processes must show ImageMagick only from the layer."""
import os
import re

from tests import images, layer
from tests.e2e.endpoint import RESIZED_BUCKET, EndpointTestCase, local_environment
from tests.e2e.test_hostile import HostileCorpusTests
from tests.integration.test_layer import IMAGEMAGICK_FILES


def processes_of(function, endpoint_url):
    """pids of the execution environments running `function` for the endpoint at that URL."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/environ', 'rb') as environ:
                variables = dict(item.split(b'=', 1) for item in environ.read().split(b'\0')
                                 if b'=' in item)
        except OSError:
            continue
        if variables.get(b'AWS_LAMBDA_FUNCTION_NAME') == function.encode() and \
                variables.get(b'AWS_ENDPOINT_URL') == endpoint_url.encode():
            found.append((int(pid), {key.decode(): value.decode()
                                     for key, value in variables.items()}))
    return found


class LayerOnTheEndpointTest(HostileCorpusTests, EndpointTestCase):
    @classmethod
    def deploy(cls):
        layer.give_layer_to(cls.root)
        cls.environment = local_environment(cls.url)
        published = cls.run_make('layer-publish').stdout.strip().splitlines()[-1]
        cls.layer_arn = published
        cls.run_make('deploy')
        cls.gallery = cls.client('lambda').get_function_url_config(
            FunctionName='ListImage-dev')['FunctionUrl']

    def test_create_attached_the_published_layer(self):
        self.assertRegex(self.layer_arn, r':layer:image-service-imagemagick:\d+$')
        configuration = self.client('lambda').get_function_configuration(
            FunctionName='ResizeImage-dev')
        self.assertEqual([item['Arn'] for item in configuration['Layers']], [self.layer_arn])
        variables = configuration['Environment']['Variables']
        self.assertEqual((variables['MAGICK_HOME'], variables['MAGICK_CONFIGURE_PATH'],
                          variables['MAGICK_CODER_MODULE_PATH']),
                         ('/opt', '/opt/etc/imagemagick', '/opt/lib/imagemagick/coders'))
        again = self.run_make('layer-publish').stdout
        self.assertIn('unchanged, already published', again)

    def test_imagemagick_comes_only_from_the_layer(self):
        keys = [self.upload(data, content_type)[0] for data, content_type in (
            (images.jpeg(800, 600), 'image/jpeg'), (images.png(640, 480), 'image/png'),
            (images.animated_gif(300, 200, 2), 'image/gif'), (images.webp(640, 480), 'image/webp'))]
        self.wait_for(lambda: all(self.exists(RESIZED_BUCKET, key) for key in keys),
                      what='four formats resized')
        environments = processes_of('ResizeImage-dev', self.url)
        self.assertTrue(environments, 'a warm ResizeImage environment')
        for pid, variables in environments:
            opt = variables['MAGICK_HOME']
            self.assertTrue(opt.startswith(os.path.join(self.state, 'opt')), opt)
            with open(f'/proc/{pid}/maps') as maps:
                mapped = {line.split()[-1] for line in maps if '.so' in line}
            imagemagick = sorted(path for path in mapped if IMAGEMAGICK_FILES.search(path))
            self.assertTrue(any(re.search(r'libMagickCore', path) for path in imagemagick))
            self.assertEqual([path for path in imagemagick if not path.startswith(opt + '/')],
                             [], f'pid {pid} maps ImageMagick from outside the layer')
