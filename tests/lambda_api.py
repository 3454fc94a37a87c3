"""The local endpoint in this process, for unit tests of its Lambda API: werkzeug's test
client, each call signed with the local key as botocore signs it, no port opened."""
import json
import tempfile

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.core import DEFAULT_ACCOUNT_ID
from moto.iam.models import iam_backends
from werkzeug.test import Client, EnvironBuilder

from local_endpoint.server import Endpoint

REGION = 'us-east-1'
BASE_URL = 'http://127.0.0.1:4566'


def start(role_name):
    """(endpoint, client), with an IAM role of that name for the tests' functions."""
    endpoint = Endpoint('127.0.0.1', 4566, tempfile.mkdtemp(), retry_delays=(0.05, 0.05))
    iam = iam_backends[DEFAULT_ACCOUNT_ID]['aws']
    if not any(role.name == role_name for role in iam.roles.values()):
        iam.create_role(role_name, '{}', '/', None, '', [], None)
    return endpoint, Client(endpoint)


def call(client, method, path, body=None, headers=None, query=''):
    """One Lambda API call as botocore sends it: JSON, signed with the local key."""
    data = b'' if body is None else json.dumps(body).encode()
    headers = dict(headers or {})
    if body is not None:
        headers['Content-Type'] = 'application/json'
    request = AWSRequest(method=method, url=BASE_URL + path + query, data=data, headers=headers)
    SigV4Auth(Credentials('test', 'test'), 'lambda', REGION).add_auth(request)
    return client.open(EnvironBuilder(path=path, base_url=BASE_URL, method=method, data=data,
                                      query_string=query.lstrip('?'),
                                      headers=dict(request.headers.items())))
