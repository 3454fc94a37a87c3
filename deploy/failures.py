"""`make failed` and `make redrive`: the async events a function failed, kept in its queue.

Lambda sends an event that failed its attempts to the alias's on-failure destination (the
function's `<name>-failures` queue, see deploy.planner) as a record: the event, why it failed
(`condition`, `approximateInvokeCount`), and the function's error. SQS cannot redrive a queue
Lambda fills (StartMessageMoveTask takes SQS sources only), so redriving is done here: each
record's event is invoked again, synchronously on the alias, and its message deleted only when
that invocation succeeded; one that fails again stays, visible again after a minute.
"""
import json
import os
import urllib.parse

from deploy.planner import PlanError

BATCH = 10  # SQS's most per receive
LISTED = 100  # make failed shows at most this many
REDRIVE_VISIBILITY = 60  # seconds a message being redriven is hidden from other readers


def queue_url(aws, function):
    if not function.invoked_asynchronously:
        raise PlanError(f'{function.name} is not invoked asynchronously (no s3 or schedule '
                        f'trigger): it has no failure queue')
    answer = aws.read('sqs', 'get-queue-url', '--queue-name', function.failure_queue)
    if not answer:
        raise PlanError(f'no queue {function.failure_queue}: run make deploy')
    return answer['QueueUrl']


def receive(aws, url, visibility):
    answer = aws.run('sqs', 'receive-message', '--queue-url', url, '--max-number-of-messages',
                     BATCH, '--visibility-timeout', visibility, '--wait-time-seconds', 0) or {}
    return answer.get('Messages', [])


def describe(record):
    """One line: when, why, after how many attempts, the error, and what the event was about."""
    context = record.get('requestContext', {})
    response = record.get('responsePayload') or {}
    error = (f'{response.get("errorType", "")}: {response.get("errorMessage", "")}'
             if isinstance(response, dict) else str(response))
    payload = record.get('requestPayload') or {}
    about = ''
    records = payload.get('Records') if isinstance(payload, dict) else None
    if records:
        about = ' '.join(f's3://{item["s3"]["bucket"]["name"]}/'
                         f'{urllib.parse.unquote_plus(item["s3"]["object"]["key"])}'
                         for item in records if 's3' in item)
    return (f'{record.get("timestamp", "?")}  {context.get("condition", "?")} after '
            f'{context.get("approximateInvokeCount", "?")} attempts  {error.strip(": ")}'
            f'{"  " + about if about else ""}')


def failed(aws, function, echo=print):
    """List without consuming: messages are received (hidden meanwhile, so the next receive
    pages on), then made visible again at once, ready for make redrive."""
    url = queue_url(aws, function)
    seen, handles = {}, []
    while len(seen) < LISTED:
        messages = [message for message in receive(aws, url, 30)
                    if message['MessageId'] not in seen]
        if not messages:
            break
        for message in messages:
            seen[message['MessageId']] = json.loads(message['Body'])
            handles.append(message['ReceiptHandle'])
    for start in range(0, len(handles), BATCH):
        entries = [{'Id': str(number), 'ReceiptHandle': handle, 'VisibilityTimeout': 0}
                   for number, handle in enumerate(handles[start:start + BATCH])]
        aws.run('sqs', 'change-message-visibility-batch', '--queue-url', url, '--entries',
                json.dumps(entries), read=True)
    echo(f'{function.failure_queue}: {len(seen)} failed event{"s" * (len(seen) != 1)}'
         + (' (the first 100)' if len(seen) >= LISTED else ''))
    for record in seen.values():
        echo(f'  {describe(record)}')
    return len(seen)


def redrive(aws, function, folder, echo=print):
    url = queue_url(aws, function)
    work = os.path.join(folder, '.build', 'redrive')
    os.makedirs(work, exist_ok=True)
    succeeded = failed_again = 0
    tried = set()
    while True:
        messages = [message for message in receive(aws, url, REDRIVE_VISIBILITY)
                    if message['MessageId'] not in tried]
        if not messages:
            break
        for message in messages:
            tried.add(message['MessageId'])
            record = json.loads(message['Body'])
            payload = os.path.join(work, f'{message["MessageId"]}.json')
            with open(payload, 'w') as handle:
                json.dump(record.get('requestPayload'), handle)
            answer = aws.run('lambda', 'invoke', '--function-name', function.qualified,
                             '--payload', f'fileb://{payload}', os.path.join(work, 'response.json'))
            os.remove(payload)
            if answer and not answer.get('FunctionError'):
                aws.run('sqs', 'delete-message', '--queue-url', url, '--receipt-handle',
                        message['ReceiptHandle'])
                succeeded += 1
            else:
                echo(f'  failed again, kept: {describe(record)}')
                failed_again += 1
    echo(f'{function.name}: {succeeded} redriven, {failed_again} failed again and kept')
    return failed_again
