"""A browser form upload (S3's POST Object), read once as S3 reads it, and handed to moto
rebuilt from exactly what was read.

S3 reads the fields in order up to the part named `file`, the object's bytes, and ignores
whatever follows it; field names are case-insensitive. moto reads the same body its own way
(the field spelt `key`, the last part carrying a file name, fields after the file), so a form
checked as S3 reads it could store something else through moto. The body moto gets is
therefore written here: the fields read, once each, then the bytes read.

Bounded whatever the client sends: the fields before the file may total 20 KB (S3's limit);
the file is streamed into a spooled temporary file (memory up to SPOOL_MEMORY_BYTES, the rest
on disk) and reading stops as soon as it exceeds what the caller allows.
"""
import tempfile
import uuid

from werkzeug.exceptions import ClientDisconnected
from werkzeug.http import dump_options_header, parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from werkzeug.wsgi import LimitedStream

from local_endpoint.s3_errors import S3Error

MAX_PRE_FILE_BYTES = 20480  # "The form data and boundaries (excluding the file) cannot exceed 20 KB"
CHUNK_BYTES = 64 * 1024
SPOOL_MEMORY_BYTES = 1024 * 1024
FILE_FIELD = 'file'


class Form:
    """One form upload, read in two steps so the caller can check the fields (and learn the
    size their policy allows) before a byte of the file is stored."""

    def __init__(self, environ):
        content_type, options = parse_options_header(environ.get('CONTENT_TYPE', ''))
        if content_type.lower() != 'multipart/form-data':
            raise S3Error(412, 'PreconditionFailed',
                          'At least one of the pre-conditions you specified did not hold',
                          Condition='Bucket POST must be of the enclosure-type multipart/form-data')
        length = environ.get('CONTENT_LENGTH', '')
        if not length.isdigit():
            raise S3Error(411, 'MissingContentLength',
                          'You must provide the Content-Length HTTP header.')
        self.environ = environ
        self.length = int(length)
        self.boundary = _boundary(options.get('boundary', ''))
        self.stream = LimitedStream(environ['wsgi.input'], self.length)
        self.decoder = MultipartDecoder(self.boundary)
        self.fed = 0  # bytes given to the decoder; those still in its buffer are not read yet
        self.fields = {}

    def read_fields(self):
        """Every field before the file part, by lower-case name, `${filename}` in the key
        replaced with the file's name; stops where the file's bytes begin."""
        name, value, filename = None, bytearray(), None
        while True:
            event = self._next_event(pre_file=True)
            if self.fed - len(self.decoder.buffer) > MAX_PRE_FILE_BYTES:
                raise too_much_before_file()
            if isinstance(event, (Field, File)):
                if not event.name:
                    raise malformed()
                name = event.name.lower()
                if name == FILE_FIELD:
                    filename = event.filename if isinstance(event, File) else None
                    break
                if name in self.fields:
                    raise S3Error(400, 'InvalidArgument',
                                  f"Bucket POST must contain exactly one field named '{name}'.",
                                  ArgumentName=name, ArgumentValue='')
            elif isinstance(event, Data):
                value += event.data
                if not event.more_data:
                    self.fields[name] = _text(value)
                    name, value = None, bytearray()
            elif isinstance(event, Epilogue):
                raise S3Error(400, 'InvalidArgument',
                              'POST requires exactly one file upload per request.',
                              ArgumentName='file', ArgumentValue=0)
        if filename is not None and 'key' in self.fields:
            self.fields['key'] = self.fields['key'].replace('${filename}', filename)
        return self.fields

    def read_file(self, low, high):
        """Stream the file's bytes into the body moto gets; S3's refusal when they are fewer
        than `low` or more than `high`. What follows the file is never read."""
        bytes_before_file = self.fed - len(self.decoder.buffer)
        boundary = uuid.uuid4().hex
        body = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
        for name, value in self.fields.items():
            body.write(_part_header(boundary, name) + value.encode() + b'\r\n')
        # moto replaces ${filename} in the key with the file part's name: given that very
        # name, it leaves the key read here as it is.
        body.write(_part_header(boundary, FILE_FIELD, '${filename}'))
        size = 0
        while True:
            event = self._next_event()
            if not isinstance(event, Data):
                continue
            size += len(event.data)
            if size > high:
                trailer = len(b'\r\n--%s--\r\n' % self.boundary)
                raise S3Error(400, 'EntityTooLarge',
                              'Your proposed upload exceeds the maximum allowed size',
                              ProposedSize=max(size, self.length - bytes_before_file - trailer),
                              MaxSizeAllowed=high)
            body.write(event.data)
            if not event.more_data:
                break
        if size < low:
            raise S3Error(400, 'EntityTooSmall',
                          'Your proposed upload is smaller than the minimum allowed size',
                          ProposedSize=size, MinSizeAllowed=low)
        body.write(f'\r\n--{boundary}--\r\n'.encode())
        content_length = body.tell()
        body.seek(0)
        environ = dict(self.environ, **{
            'wsgi.input': body, 'CONTENT_LENGTH': str(content_length),
            'CONTENT_TYPE': f'multipart/form-data; boundary={boundary}'})
        for name in ('wsgi.input_terminated', 'HTTP_TRANSFER_ENCODING', 'HTTP_AUTHORIZATION'):
            environ.pop(name, None)  # the form carries its own signature
        return environ

    def _next_event(self, pre_file=False):
        try:
            while True:
                event = self.decoder.next_event()
                if not isinstance(event, NeedData):
                    return event
                if pre_file and len(self.decoder.buffer) > MAX_PRE_FILE_BYTES + CHUNK_BYTES:
                    raise too_much_before_file()  # a part header that never ends
                chunk = self.stream.read(CHUNK_BYTES)
                self.fed += len(chunk)
                self.decoder.receive_data(chunk or None)
        except ClientDisconnected:
            raise S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes '
                          'specified by the Content-Length HTTP header') from None
        except ValueError:  # werkzeug's word for a body that is not multipart/form-data
            raise malformed() from None


def too_much_before_file():
    return S3Error(400, 'MaxPostPreDataLengthExceeded',  # S3's own words, spelling included
                   'Your POST request fields preceeding the upload file was too large.',
                   MaxPostPreDataLengthBytes=MAX_PRE_FILE_BYTES)


def malformed():
    return S3Error(400, 'MalformedPOSTRequest',
                   'The body of your POST request is not well-formed multipart/form-data.')


def _boundary(value):
    """RFC 2046: 1 to 70 characters, of a set within ASCII."""
    if not 0 < len(value) <= 70 or not value.isascii():
        raise malformed()
    return value.encode()


def _text(value):
    try:
        return value.decode()
    except UnicodeDecodeError:  # S3: "The form and policy must be UTF-8 encoded"
        raise malformed() from None


def _part_header(boundary, name, filename=None):
    names = {'name': name} if filename is None else {'name': name, 'filename': filename}
    disposition = dump_options_header('form-data', names)
    kind = b'Content-Type: application/octet-stream\r\n' if filename is not None else b''
    return (f'--{boundary}\r\nContent-Disposition: {disposition}\r\n'.encode() + kind + b'\r\n')
