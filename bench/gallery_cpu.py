"""The gallery's CPU per page of 50 images, in process, and what presigning costs in it.

The gallery handler renders its first page against moto's mock_aws (in this process; nothing
leaves it) with 50 objects in the resized bucket, three ways, the same handler each time:

  before                  every image URL from generate_presigned_url, one more for the CSP's
                          origin, timestamps read by botocore's default parser (dateutil): the
                          handler as it was;
  generate_presigned_url  only the URLs made the old way;
  now                     the handler as it is (ObjectUrls, S3SigV4QueryAuth).

time.process_time around a page counts moto serving ListObjectsV2 too, which on AWS is S3's
work, not the function's. That part (from the client's before-send event to its before-parse)
is measured and taken off: "handler" is the function's own CPU. Rounds are interleaved, each
timing every way in turn, so a busy neighbour slows all of them alike; medians and the ratios
of one run are the result, milliseconds are context.
"""
import os
import statistics
import time
from contextlib import ExitStack
from functools import lru_cache
from unittest import mock

import boto3
from moto import mock_aws

from deploy.functions import load

handler = load('image_list')

UPLOADS, RESIZED = 'bench-uploads', 'bench-resized'
IMAGES = 50
PAGES_PER_ROUND = 5
# Dummy role credentials (with a session token, as a function has) and no endpoint override:
# `make local-env` exports AWS_ENDPOINT_URL, which would send the handler past the mock.
ENVIRONMENT = {'AWS_ACCESS_KEY_ID': 'bench', 'AWS_SECRET_ACCESS_KEY': 'bench',
               'AWS_SESSION_TOKEN': 'bench', 'AWS_DEFAULT_REGION': 'us-east-1',
               'AWS_REGION': 'us-east-1', 'AWS_CONFIG_FILE': os.devnull,
               'AWS_SHARED_CREDENTIALS_FILE': os.devnull,
               'UPLOAD_BUCKET': UPLOADS, 'RESIZED_BUCKET': RESIZED, 'PAGE_SIZE': str(IMAGES)}
UNSET = ('AWS_PROFILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3')


class OneByOne:
    """Image URLs as the handler made them before: each one by generate_presigned_url, the
    CSP's origin too. Same interface as the handler's ObjectUrls."""

    def __init__(self, client, bucket):
        self.client, self.bucket = client, bucket

    @property
    def base(self):
        return self.presign('probe', 3600)

    def signer(self, expires):
        return lambda key: self.presign(key, expires)

    def presign(self, key, expires):
        return self.client.generate_presigned_url(
            'get_object', Params={'Bucket': self.bucket, 'Key': key}, ExpiresIn=expires)


def one_by_one(settings):
    return OneByOne(handler.client_for(settings.resized_bucket, settings),
                    settings.resized_bucket)


class MotoClock:
    """CPU spent between a client's before-send and before-parse: moto answering, in process."""

    def __init__(self):
        self.seconds, self._started, self._clients = 0.0, None, set()

    def watch(self, client):
        if id(client) in self._clients:
            return
        self._clients.add(id(client))
        client.meta.events.register_first('before-send.s3.ListObjectsV2', self._start)
        client.meta.events.register_first('before-parse.s3.ListObjectsV2', self._stop)

    def _start(self, **_):
        self._started = time.process_time()

    def _stop(self, **_):
        self.seconds += time.process_time() - self._started


def ways():
    """Each way's patches, applied around its pages only. "before" has clients of its own,
    from a session with botocore's default timestamp parser."""
    default_session = lru_cache(maxsize=None)(boto3.session.Session)
    default_clients = lru_cache(maxsize=None)(handler.s3_client.__wrapped__)
    return {
        'before': {'image_urls': one_by_one, '_session': default_session,
                   's3_client': default_clients},
        'generate_presigned_url': {'image_urls': one_by_one},
        'now': {},
    }


def measure(patches, settings, moto):
    """One round of one way: CPU ms per page, moto's part of it, and 50 URLs presigned alone."""
    with ExitStack() as stack:
        for name, replacement in patches.items():
            stack.enter_context(mock.patch.object(handler, name, replacement))
        handler.handle_list_image({}, None)  # warm: clients, endpoint, template
        moto.watch(handler.client_for(settings.resized_bucket, settings))
        moto.seconds = 0.0
        started = time.process_time()
        for _ in range(PAGES_PER_ROUND):
            response = handler.handle_list_image({}, None)
        page = (time.process_time() - started) / PAGES_PER_ROUND
        if response['statusCode'] != 200 or response['body'].count('<img ') != IMAGES:
            raise RuntimeError(f'not a page of {IMAGES} images: {response["statusCode"]} '
                               f'{response["body"][:300]}')
        served = moto.seconds / PAGES_PER_ROUND
        keys = [f'uploads/{index:013d}-bench' for index in range(IMAGES)]
        started = time.process_time()
        for _ in range(PAGES_PER_ROUND):
            url = handler.image_urls(settings).signer(settings.url_expires)
            for key in keys:
                url(key)
        presign = (time.process_time() - started) / PAGES_PER_ROUND
    return {'page_ms': page * 1000, 'moto_ms': served * 1000,
            'handler_ms': (page - served) * 1000, 'presign_ms': presign * 1000}


def reset_handler():
    """Clients made outside this run (perhaps before moto was imported, so past its reach)
    must not serve it, nor its mocked ones outlive it."""
    handler.s3_client.cache_clear()
    handler._session.cache_clear()
    handler._object_urls.cache_clear()
    handler._BUCKET_REGIONS.clear()


def run(rounds, progress=print):
    environment = {name: value for name, value in os.environ.items() if name not in UNSET}
    environment.update(ENVIRONMENT)
    samples = {}
    with mock.patch.dict(os.environ, environment, clear=True), mock_aws():
        reset_handler()
        try:
            s3 = boto3.client('s3', region_name='us-east-1')
            s3.create_bucket(Bucket=UPLOADS)
            s3.create_bucket(Bucket=RESIZED)
            settings = handler.Settings.from_environ(os.environ)
            for index in range(IMAGES):
                key = handler.new_upload_key(settings, now=1_700_000_000 + index)
                s3.put_object(Bucket=RESIZED, Key=key, Body=b'x' * 20_000)
            patches, moto = ways(), MotoClock()
            names = list(patches)
            samples = {name: [] for name in names}
            for round_number in range(rounds):
                order = names[round_number % len(names):] + names[:round_number % len(names)]
                for name in order:
                    samples[name].append(measure(patches[name], settings, moto))
        finally:
            reset_handler()
    figures = {name: {field: statistics.median(sample[field] for sample in rows)
                      for field in rows[0]} for name, rows in samples.items()}
    results = {'images': IMAGES, 'rounds': rounds, 'pages_per_round': PAGES_PER_ROUND,
               'ways': figures,
               'handler_now_over_before': figures['now']['handler_ms']
               / figures['before']['handler_ms'],
               'handler_now_over_generate_presigned_url': figures['now']['handler_ms']
               / figures['generate_presigned_url']['handler_ms'],
               'presign_generate_presigned_url_over_now':
               figures['generate_presigned_url']['presign_ms'] / figures['now']['presign_ms']}
    progress(f'  gallery CPU per page of {IMAGES}: handler {figures["before"]["handler_ms"]:.1f} '
             f'ms before, {figures["now"]["handler_ms"]:.1f} ms now '
             f'({results["handler_now_over_before"]:.2f}x)')
    return results


def table(results):
    """Printable lines, indented as `make bench` indents a section's lines."""
    ways = results['ways']
    lines = [f'   CPU ms per page of {results["images"]} images, median of {results["rounds"]} '
             f'interleaved rounds of {results["pages_per_round"]} pages (time.process_time)',
             f'   {"":24}{"page":>8}{"moto":>8}{"handler":>9}{"presign 50":>12}']
    for name, row in ways.items():
        lines.append(f'   {name:24}{row["page_ms"]:>8.2f}{row["moto_ms"]:>8.2f}'
                     f'{row["handler_ms"]:>9.2f}{row["presign_ms"]:>12.2f}')
    return lines + [
        f'   handler: now/before {results["handler_now_over_before"]:.2f}x, now/'
        f'generate_presigned_url {results["handler_now_over_generate_presigned_url"]:.2f}x; '
        f'presigning 50 URLs: {results["presign_generate_presigned_url_over_now"]:.2f}x faster',
        "   (moto: its in-process answer to ListObjectsV2, on AWS S3's work; "
        'handler = page - moto)']
