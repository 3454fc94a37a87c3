"""Upload to resized on the local endpoint: a curl-style form POST of a JPEG until the resized
object is visible, warm and cold. Needs `make demo` (or up + infra create) and local-env.

Cold samples change the function's configuration first, which (as on AWS) retires its warm
environments, so the next event starts a new one.

    eval "$(make -s local-env)"; .venv/bin/python -m bench.upload_latency [--warm 20 --cold 5]
"""
import argparse
import json
import os
import statistics
import time
import urllib.request

import boto3
from wand.image import Image

from deploy.tune import percentile

BOUNDARY = 'bench-boundary-3f1c'


def photo(width, height):
    with Image(width=width, height=height, pseudo='plasma:') as image:
        image.format = 'jpeg'
        image.compression_quality = 90
        return image.make_blob()


def post(form, body):
    fields = [*form['fields'].items(), ('Content-Type', 'image/jpeg')]
    data = b''.join(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                    f'{value}\r\n'.encode() for name, value in fields)
    data += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="p.jpg"\r\n'
             f'Content-Type: image/jpeg\r\n\r\n').encode() + body + f'\r\n--{BOUNDARY}--\r\n'.encode()
    request = urllib.request.Request(form['url'], data=data, method='POST', headers={
        'Content-Type': f'multipart/form-data; boundary={BOUNDARY}'})
    urllib.request.urlopen(request).close()


def one_upload(gallery, s3, bucket, body):
    with urllib.request.urlopen(gallery + 'presign') as response:
        form = json.load(response)
    started = time.perf_counter()
    post(form, body)
    while True:
        try:
            s3.head_object(Bucket=bucket, Key=form['key'])
            return (time.perf_counter() - started) * 1000
        except s3.exceptions.ClientError:
            time.sleep(0.005)


def retire_environments(lambdas, function, sample):
    configuration = lambdas.get_function_configuration(FunctionName=function)
    variables = configuration.get('Environment', {}).get('Variables', {})
    variables['BENCH_COLD_SAMPLE'] = str(sample)
    lambdas.update_function_configuration(FunctionName=function,
                                          Environment={'Variables': variables})
    lambdas.get_waiter('function_updated_v2').wait(FunctionName=function)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--warm', type=int, default=20)
    parser.add_argument('--cold', type=int, default=5)
    parser.add_argument('--size', default='4000x3000')
    arguments = parser.parse_args()
    gallery, bucket = os.environ['GALLERY_URL'], os.environ['RESIZED_BUCKET']
    s3, lambdas = boto3.client('s3'), boto3.client('lambda')
    width, height = map(int, arguments.size.split('x'))
    body = photo(width, height)
    one_upload(gallery, s3, bucket, body)  # a warm environment exists from here on
    warm = [one_upload(gallery, s3, bucket, body) for _ in range(arguments.warm)]
    cold = []
    for sample in range(arguments.cold):
        retire_environments(lambdas, 'ResizeImage-dev', f'{time.time_ns()}-{sample}')
        cold.append(one_upload(gallery, s3, bucket, body))
    print(f'{arguments.size} JPEG ({len(body):,} bytes), upload POST to resized object visible:')
    for name, values in (('warm', warm), ('cold', cold)):
        if values:
            print(f'  {name}: p50 {statistics.median(values):.0f} ms, '
                  f'p95 {percentile(values, 0.95):.0f} ms (n={len(values)})')


if __name__ == '__main__':
    main()
