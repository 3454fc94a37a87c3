"""Destinations of asynchronous invocations: Lambda's invocation record, sent to an SQS queue
of this endpoint as the message body, as Lambda sends it (aws-releases.md 3.2, 3.3).

Lambda sends with the function's execution role, so the role needs sqs:SendMessage on the
queue; while the endpoint enforces IAM, a role without it gets nothing delivered, as on AWS
(where the DestinationDeliveryFailures metric counts it). Other destination types (SNS,
Lambda, EventBridge, S3) are not delivered here: DeliveryFailed says so, and the caller keeps
the record.
"""
import json
from datetime import datetime, timezone

from moto.core.exceptions import ServiceException
from moto.iam.access_control import PermissionResult
from moto.iam.exceptions import NotFoundException
from moto.iam.models import iam_backends
from moto.sqs.models import sqs_backends

from local_endpoint import iam


class DeliveryFailed(Exception):
    """The record did not reach its destination; the message says why."""


def record(request_id, function_arn, condition, attempts, payload, response):
    """Lambda's invocation record. `response` is (status code, executed version, function
    error or None, response payload bytes)."""
    status, executed_version, function_error, response_payload = response
    context = {'statusCode': status, 'executedVersion': executed_version}
    if function_error is not None:
        context['functionError'] = function_error
    now = datetime.now(timezone.utc)
    return {'version': '1.0',
            'timestamp': now.strftime('%Y-%m-%dT%H:%M:%S.') + f'{now.microsecond // 1000:03d}Z',
            'requestContext': {'requestId': request_id, 'functionArn': function_arn,
                               'condition': condition, 'approximateInvokeCount': attempts},
            'requestPayload': as_json(payload), 'responseContext': context,
            'responsePayload': as_json(response_payload)}


def as_json(payload):
    """A payload as the record carries it: its JSON, else its text."""
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return payload.decode(errors='replace')


def deliver(destination, invocation_record, role_arn, account, region):
    """Send the record to `destination` as the function's role; DeliveryFailed if it is not
    delivered."""
    parts = destination.split(':')
    if len(parts) != 6 or parts[2] != 'sqs':
        raise DeliveryFailed(f'{destination}: the local endpoint delivers to SQS queues only')
    queue_region, queue_account, queue = parts[3], parts[4], parts[5]
    if queue.endswith('.fifo'):
        raise DeliveryFailed(f'{destination}: Lambda does not deliver to FIFO queues')
    if iam.enforcing():
        _check_role(role_arn, account, destination)
    try:
        sqs_backends[queue_account][queue_region].send_message(
            queue, json.dumps(invocation_record))
    except ServiceException as error:
        raise DeliveryFailed(f'{destination}: {error.code}: {error.message}') from None


class ExecutionRole:
    """The role's policies as moto's policy engine reads a principal's (inline and attached,
    as moto collects an assumed role's), without minting a session for every record."""

    def __init__(self, account, role_arn):
        self.role = iam_backends[account][iam.PARTITION].get_role_by_arn(role_arn)

    def collect_policies(self):
        return list(self.role.policies.values()) + list(self.role.managed_policies.values())


def _check_role(role_arn, account, queue_arn):
    """The execution role must be allowed sqs:SendMessage on the queue."""
    try:
        role = ExecutionRole(account, role_arn)
    except NotFoundException:
        raise DeliveryFailed(f'{queue_arn}: the execution role {role_arn} does not '
                             f'exist') from None
    if iam.permission(role, 'sqs:SendMessage', queue_arn) != PermissionResult.PERMITTED:
        raise DeliveryFailed(f'{queue_arn}: the execution role {role_arn} is not authorized '
                             f'to perform sqs:SendMessage on it')
