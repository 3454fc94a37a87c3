"""`make upload FILE=photo.jpg`: the gallery's own presigned POST, sent with curl.

The form comes from image_list's handler code (the same function the page calls), signed
with your credentials instead of the function's role; curl posts it to S3 exactly as the
browser does. It prints the curl command so you can run it again by hand, then waits for the
resized image.

    python -m deploy.upload FILE [--wait SECONDS]
"""
import argparse
import mimetypes
import os
import shlex
import subprocess
import sys
import time

import boto3
from botocore.exceptions import ClientError

from deploy.functions import load


def presigned_form(environ=os.environ):
    gallery = load('image_list')
    return gallery.upload_form(gallery.Settings.from_environ(environ))


def curl_command(form, path, content_type):
    command = ['curl', '--silent', '--show-error', '--fail-with-body']
    for name, value in form['fields'].items():
        command += ['-F', f'{name}={value}']
    command += ['-F', f'Content-Type={content_type}', '-F', f'file=@{path}', form['url']]
    return command


def wait_for_resized(bucket, key, seconds, s3=None):
    s3 = s3 or boto3.client('s3')
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
            return head
        except ClientError as error:
            if error.response.get('Error', {}).get('Code') not in ('404', 'NoSuchKey', 'NotFound'):
                raise
        time.sleep(0.5)
    return None


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.upload')
    parser.add_argument('file')
    parser.add_argument('--wait', type=float, default=30,
                        help='seconds to wait for the resized image (0: do not wait)')
    arguments = parser.parse_args(argv)
    if not os.path.isfile(arguments.file):
        print(f'error: no file {arguments.file!r}: pass FILE=path/to/image.jpg', file=sys.stderr)
        return 2
    content_type = mimetypes.guess_type(arguments.file)[0] or 'application/octet-stream'
    form = presigned_form()
    command = curl_command(form, arguments.file, content_type)
    print(shlex.join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(f'error: S3 refused the upload (curl exit {result.returncode}):\n'
              f'{result.stdout}{result.stderr}', file=sys.stderr)
        return 1
    print(f'uploaded {arguments.file} as s3://{os.environ["UPLOAD_BUCKET"]}/{form["key"]}')
    if arguments.wait <= 0:
        return 0
    head = wait_for_resized(os.environ['RESIZED_BUCKET'], form['key'], arguments.wait)
    if head is None:
        print(f'not resized after {arguments.wait:g} s: see make logs in image_resize',
              file=sys.stderr)
        return 1
    metadata = head.get('Metadata', {})
    print(f'resized: s3://{os.environ["RESIZED_BUCKET"]}/{form["key"]} '
          f'({head["ContentLength"]:,} bytes, {head.get("ContentType")}, from '
          f'{metadata.get("source-width")}x{metadata.get("source-height")})')
    return 0


if __name__ == '__main__':
    sys.exit(main())
