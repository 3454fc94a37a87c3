"""Form uploads read as S3 reads them: the policy is checked on exactly the key and the bytes
moto is handed, whatever a hostile form does with field names, order, extra file parts, size."""
import base64
import io
import json
import unittest
from datetime import datetime, timezone

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local_endpoint import post_policy
from local_endpoint.s3_errors import S3Error

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
SCOPE = '20261121/us-east-1/s3/aws4_request'
BOUNDARY = 'hostile-boundary'
CONDITIONS = [{'bucket': 'b'}, ['starts-with', '$key', 'uploads/'],
              {'x-amz-algorithm': 'AWS4-HMAC-SHA256'}, {'x-amz-credential': f'test/{SCOPE}'},
              {'x-amz-date': '20261121T110000Z'}, ['content-length-range', 1, 100]]


def signed_fields(conditions=CONDITIONS, key='uploads/a'):
    policy = base64.b64encode(json.dumps({'expiration': '2026-11-21T13:00:00Z',
                                          'conditions': conditions}).encode()).decode()
    return [('key', key), ('x-amz-algorithm', 'AWS4-HMAC-SHA256'),
            ('x-amz-credential', f'test/{SCOPE}'), ('x-amz-date', '20261121T110000Z'),
            ('policy', policy), ('x-amz-signature', post_policy.signature('test', SCOPE, policy))]


def field(name, value):
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
            .encode() + (value if isinstance(value, bytes) else value.encode()) + b'\r\n')


def file_part(data, name='file', filename='photo.jpg'):
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: image/jpeg\r\n\r\n'.encode() + data + b'\r\n')


def environ(*parts, content_type=f'multipart/form-data; boundary={BOUNDARY}', stream=None):
    body = b''.join(parts) + f'--{BOUNDARY}--\r\n'.encode()
    built = EnvironBuilder(path='/b', method='POST', base_url='http://127.0.0.1:4566').get_environ()
    built.update({'wsgi.input': stream or io.BytesIO(body), 'CONTENT_TYPE': content_type,
                  'CONTENT_LENGTH': str(stream.length if stream else len(body))})
    return built


def check(built):
    return post_policy.check(built, post_policy.local_secret, NOW)


def as_moto_reads_it(built):
    """What moto stores from a form: form["key"], the last file part, the other fields."""
    request = Request(built)
    return (request.form['key'], [part.read() for part in request.files.values()][-1],
            sorted(request.form))


class EndlessFile(io.RawIOBase):
    """A form whose file part never ends (as far as anyone reads), counting what is read."""

    def __init__(self, head, length):
        self.head, self.length, self.served = head, length, 0

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = (self.head[self.served:] or b'x' * len(buffer))[:len(buffer)]
        buffer[:len(chunk)] = chunk
        self.served += len(chunk)
        return len(chunk)


class FormUploadTest(unittest.TestCase):
    def refused(self, built):
        with self.assertRaises(S3Error) as caught:
            check(built)
        return caught.exception

    def test_moto_stores_exactly_the_key_and_bytes_that_were_checked(self):
        moto_environ, upload = check(environ(
            *[field(name, value) for name, value in signed_fields()], file_part(b'0123456789'),
            field('success_action_redirect', 'http://evil.example/'), file_part(b'y' * 500)))
        self.assertEqual(upload.key, 'uploads/a')
        key, stored, fields = as_moto_reads_it(moto_environ)
        self.assertEqual((key, stored), ('uploads/a', b'0123456789'))
        self.assertEqual(fields, sorted(name for name, _ in signed_fields()),
                         'what follows the file is ignored, as S3 ignores it')

    def test_a_second_spelling_of_key_is_a_duplicate_not_a_bypass(self):
        for other in ('Key', 'KEY', 'key'):
            with self.subTest(other):
                refusal = self.refused(environ(
                    field(other, '../../elsewhere/over-someone-else'),
                    *[field(name, value) for name, value in signed_fields()],
                    file_part(b'0123456789')))
                self.assertEqual((refusal.status, refusal.code), (400, 'InvalidArgument'))
                self.assertEqual(refusal.extra['ArgumentName'], 'key')

    def test_the_size_checked_is_the_size_stored(self):
        refusal = self.refused(environ(
            *[field(name, value) for name, value in signed_fields()],
            file_part(b'x' * 101, name='FILE')))
        self.assertEqual((refusal.code, refusal.extra['MaxSizeAllowed']), ('EntityTooLarge', 100))

    def test_fields_after_the_file_do_not_count(self):
        refusal = self.refused(environ(
            file_part(b'0123456789'), *[field(name, value) for name, value in signed_fields()]))
        self.assertEqual((refusal.status, refusal.code), (400, 'InvalidArgument'))
        self.assertEqual(refusal.message, "Bucket POST must contain a field named 'key'.  If it "
                                          "is specified, please check the order of the fields.")

    def test_a_form_without_a_file_part(self):
        refusal = self.refused(environ(*[field(name, value) for name, value in signed_fields()]))
        self.assertEqual((refusal.code, refusal.message, refusal.extra['ArgumentName']),
                         ('InvalidArgument', 'POST requires exactly one file upload per request.',
                          'file'))

    def test_a_key_over_1024_bytes_is_s3s_key_too_long(self):
        key = 'uploads/' + 'é' * 510
        refusal = self.refused(environ(
            *[field(name, value) for name, value in signed_fields(key=key)], file_part(b'abc')))
        self.assertEqual((refusal.status, refusal.code), (400, 'KeyTooLongError'))
        self.assertEqual(refusal.extra, {'MaxSizeAllowed': 1024, 'Size': len(key.encode())})

    def test_the_filename_is_part_of_the_key_that_is_checked(self):
        fields = signed_fields(key='uploads/${filename}')
        moto_environ, upload = check(environ(*[field(name, value) for name, value in fields],
                                             file_part(b'abc', filename='x${filename}.jpg')))
        self.assertEqual(upload.key, 'uploads/x${filename}.jpg')
        self.assertEqual(as_moto_reads_it(moto_environ)[0], upload.key)

    def test_every_post_to_a_bucket_is_a_form_upload_but_delete_objects(self):
        for content_type in ('Multipart/Form-Data; boundary=x', 'text/plain', ''):
            built = environ(content_type=content_type)
            self.assertTrue(post_policy.is_form_upload(dict(built, QUERY_STRING='anything')))
        self.assertFalse(post_policy.is_form_upload(dict(built, QUERY_STRING='delete')))
        upper = environ(*[field(name, value) for name, value in signed_fields()],
                        file_part(b'abc'), content_type=f'Multipart/Form-Data; boundary={BOUNDARY}')
        self.assertEqual(check(upper)[1].key, 'uploads/a')
        refusal = self.refused(environ(content_type='text/plain'))
        self.assertEqual((refusal.status, refusal.code), (412, 'PreconditionFailed'))

    def test_fields_before_the_file_are_bounded(self):
        refusal = self.refused(environ(field('x-ignore-padding', 'p' * 30000), file_part(b'a')))
        self.assertEqual((refusal.code, refusal.extra['MaxPostPreDataLengthBytes']),
                         ('MaxPostPreDataLengthExceeded', 20480))  # S3's 20 KB
        endless_header = EndlessFile(f'--{BOUNDARY}\r\nContent-Disposition: form-data; '
                                     'name="a"; x="'.encode(), 10 ** 9)
        self.assertEqual(self.refused(environ(stream=endless_header)).code,
                         'MaxPostPreDataLengthExceeded')
        self.assertLess(endless_header.served, 200 * 1024)

    def test_an_oversized_file_is_refused_without_being_read(self):
        head = b''.join([*[field(name, value) for name, value in signed_fields()],
                         f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                         f'filename="big.jpg"\r\n\r\n'.encode()])
        stream = EndlessFile(head, 25 * 1024 * 1024)
        refusal = self.refused(environ(stream=stream))
        self.assertEqual(refusal.code, 'EntityTooLarge')
        self.assertGreater(refusal.extra['ProposedSize'], 24 * 1024 * 1024)
        self.assertLess(stream.served, 200 * 1024, 'read up to the limit, not the 25 MB')

    def test_hostile_policies_get_s3s_answer_not_a_crash(self):
        cases = [([{'bucket': 'b', 'key': 'uploads/a'}], 'InvalidPolicyDocument'),
                 ([['content-length-range', 'test', '10']], 'AccessDenied'),
                 ([['eq', 'key', 'uploads/a']], 'AccessDenied'),  # a field needs its $
                 (['starts-with'], 'InvalidPolicyDocument'),
                 ([['starts-with', '$key']], 'InvalidPolicyDocument'),
                 ({'not': 'a list'}, 'InvalidPolicyDocument')]
        for conditions, code in cases:
            with self.subTest(conditions=conditions):
                refusal = self.refused(environ(*[
                    field(name, value) for name, value in signed_fields(conditions)],
                    file_part(b'abc')))
                self.assertEqual(refusal.code, code)

    def test_malformed_bodies_are_malformed_post_requests(self):
        for body in (b'no boundary here', f'--{BOUNDARY}\r\nNo-Disposition: x\r\n\r\nv\r\n'.encode(),
                     field('key', b'\xff\xfe not utf-8') + file_part(b'a')):
            with self.subTest(body=body[:30]):
                built = environ()
                built.update({'wsgi.input': io.BytesIO(body), 'CONTENT_LENGTH': str(len(body))})
                self.assertEqual(self.refused(built).code, 'MalformedPOSTRequest')
        built = environ(*[field(name, value) for name, value in signed_fields()], file_part(b'a'))
        del built['CONTENT_LENGTH']
        self.assertEqual(self.refused(built).status, 411)

    def test_a_body_that_ends_before_its_file(self):
        body = b''.join([field(name, value) for name, value in signed_fields()]) + file_part(b'abc')
        built = environ()
        built.update({'wsgi.input': io.BytesIO(body[:-4]), 'CONTENT_LENGTH': str(len(body))})
        self.assertEqual(self.refused(built).code, 'IncompleteBody')
