"""`make upload FILE=photo.jpg`: the gallery's own presigned POST, sent with curl.

The form comes from image_list's handler code (the same function the page calls), signed
with your credentials instead of the function's role; curl posts it to S3 exactly as the
browser does. It prints the curl command so you can run it again by hand, then follows what
becomes of the upload as the gallery's `/status?key=` does, with the same code: it stops as soon
as the resize function has resized, rejected or given up on it, and says which and why.

    python -m deploy.upload FILE [--wait SECONDS]
"""
import argparse
import mimetypes
import os
import shlex
import subprocess
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError

from deploy.functions import load

# States after which nothing more will happen to an upload.
OUTCOMES = ('resized', 'rejected', 'failed')
POLL_SECONDS = 0.25
LOGS_HINT = 'make -C image_resize logs'


def curl_command(form, path, content_type):
    command = ['curl', '--silent', '--show-error', '--fail-with-body']
    for name, value in form['fields'].items():
        command += ['-F', f'{name}={value}']
    command += ['-F', f'Content-Type={content_type}', '-F', f'file=@{path}', form['url']]
    return command


def wait_for_outcome(ask, seconds, on_retry, clock=time.monotonic, sleep=time.sleep,
                     interval=POLL_SECONDS):
    """Ask for the upload's status until it has an outcome or ``seconds`` have passed; return
    the last answer.

    ``on_retry`` is called once for each attempt after the first that is seen under way.
    "missing" once may be the moment between the resize writing its copy and deleting the
    original (the status looks at the copy first, then the original); the next question then
    finds the copy. "missing" twice in a row means the upload is gone.
    """
    deadline = clock() + seconds
    announced = 1
    previous = None
    while True:
        answer = ask()
        state = answer['state']
        if state in OUTCOMES or state == previous == 'missing':
            return answer
        if answer.get('attempt', 1) > announced:
            announced = answer['attempt']
            on_retry(answer)
        remaining = deadline - clock()
        if remaining <= 0:
            return answer
        previous = state
        sleep(min(interval, remaining))


def retry_line(answer):
    return (f'attempt {answer["attempt"]} of {answer["attempts"]}: the previous attempt '
            f'failed ({LOGS_HINT} says why)')


def not_resized(answer, seconds, location):
    """Why the upload has no resized copy, for an answer that is not "resized"."""
    state = answer['state']
    if state in ('rejected', 'failed'):
        detail = f': {answer["detail"]}' if answer.get('detail') else ''
        return (f'{state}: {answer["reason"]}{detail}\n'
                f'the original stays in {location}, tagged with why ({LOGS_HINT})')
    if state == 'missing':
        return (f'not resized: {location} is gone and has no resized copy '
                '(deleted by someone else?)')
    if 'attempt' in answer:
        under_way = f'attempt {answer["attempt"]} of {answer["attempts"]} is under way'
    else:
        under_way = 'the resize function has not started on it (is the upload trigger wired?)'
    return f'not resized after {seconds:g} s: {under_way}; {LOGS_HINT} shows what it did'


def resized_line(head, location):
    metadata = head.get('Metadata', {})
    return (f'resized: {location} ({head["ContentLength"]:,} bytes, {head.get("ContentType")}, '
            f'from {metadata.get("source-width")}x{metadata.get("source-height")})')


def main(argv=None, environ=os.environ):
    parser = argparse.ArgumentParser(prog='python -m deploy.upload')
    parser.add_argument('file')
    parser.add_argument('--wait', type=float, default=30,
                        help='seconds to wait for the resized image (0: do not wait)')
    arguments = parser.parse_args(argv)
    if not os.path.isfile(arguments.file):
        print(f'error: no file {arguments.file!r}: pass FILE=path/to/image.jpg', file=sys.stderr)
        return 2
    gallery = load('image_list')
    try:
        settings = gallery.Settings.from_environ(environ)
    except gallery.ConfigurationError as error:
        print(f'error: {error}: say which buckets (make upload sets them)', file=sys.stderr)
        return 2
    content_type = mimetypes.guess_type(arguments.file)[0] or 'application/octet-stream'
    form = gallery.upload_form(settings)
    command = curl_command(form, arguments.file, content_type)
    print(shlex.join(command), flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        if '<Code>NoSuchBucket</Code>' in result.stdout:
            print(f'error: the bucket {settings.upload_bucket} does not exist: run make deploy '
                  f'first', file=sys.stderr)
            return 1
        print(f'error: S3 refused the upload (curl exit {result.returncode}):\n'
              f'{result.stdout}{result.stderr}', file=sys.stderr)
        return 1
    key = form['key']
    original = f's3://{settings.upload_bucket}/{key}'
    print(f'uploaded {arguments.file} as {original}', flush=True)
    if arguments.wait <= 0:
        return 0
    try:
        answer = wait_for_outcome(lambda: gallery.upload_status(key, settings), arguments.wait,
                                  lambda retry: print(retry_line(retry), flush=True))
        if answer['state'] != 'resized':
            print(not_resized(answer, arguments.wait, original), file=sys.stderr)
            return 1
        head = gallery.client_for(settings.resized_bucket, settings).head_object(
            Bucket=settings.resized_bucket, Key=key)
    except (ClientError, BotoCoreError) as error:
        print(f'error: uploaded, but S3 did not say what became of it: {error}', file=sys.stderr)
        return 1
    print(resized_line(head, f's3://{settings.resized_bucket}/{key}'))
    return 0


if __name__ == '__main__':
    sys.exit(main())
