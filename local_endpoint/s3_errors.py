"""S3's error answer: a status code and an XML document with Code and Message.

The endpoint answers this way wherever it refuses a request before moto sees it (form
policies, signatures, IAM, injected faults), so clients parse it as they parse S3's own.
"""
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response


class S3Error(Exception):
    def __init__(self, status, code, message, **extra):
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self):
        details = ''.join(f'<{name}>{escape(str(value))}</{name}>'
                          for name, value in self.extra.items())
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{self.code}</Code>'
                f'<Message>{escape(self.message)}</Message>{details}</Error>')
        return Response(body, status=self.status, content_type='application/xml')
