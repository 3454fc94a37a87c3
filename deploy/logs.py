"""Reading what a function did: the result of `make invoke`, and `make logs`.

awscli 1.x, the one on PyPI, has no `aws logs tail`; `make logs` uses it when the installed
awscli has it, and this follower (the same output, through boto3) when it does not.

    python -m deploy.logs report INVOCATION.json RESPONSE.json
    python -m deploy.logs tail /aws/lambda/NAME [--follow] [--since 10m]
"""
import argparse
import base64
import json
import re
import sys
import time
from datetime import datetime, timezone



def report(invocation, response_path):
    """Print the payload and the decoded log tail; fail when the function failed.
    `invocation` is what `aws lambda invoke` answered, or the file it was saved in."""
    if isinstance(invocation, str):
        with open(invocation) as handle:
            invocation = json.load(handle)
    with open(response_path, 'rb') as handle:
        payload = handle.read().decode(errors='replace')
    try:
        payload = json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    error = invocation.get('FunctionError')
    print(f'Status {invocation.get("StatusCode")}'
          + (f', function error: {error}' if error else '') + ', result:')
    print(payload)
    if invocation.get('LogResult'):
        print('Log tail:')
        print(base64.b64decode(invocation['LogResult']).decode(errors='replace').rstrip())
    return 1 if error else 0


def since_millis(since, now=None):
    match = re.fullmatch(r'(\d+)([smhdw])', since)
    if not match:
        raise ValueError(f'--since wants a number and a unit (s, m, h, d, w), not {since!r}')
    seconds = int(match[1]) * {'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[match[2]]
    return int(((time.time() if now is None else now) - seconds) * 1000)


def tail(group, since, follow, poll_seconds=1.0, logs=None):
    import boto3  # 0.8 s of imports, which make invoke does without
    logs = logs or boto3.client('logs')
    start = since_millis(since)
    seen, waiting_said = set(), False
    while True:
        arguments = {'logGroupName': group, 'startTime': start}
        try:
            for page in logs.get_paginator('filter_log_events').paginate(**arguments):
                for event in page.get('events', []):
                    if event['eventId'] in seen:
                        continue
                    seen.add(event['eventId'])
                    start = max(start, event['timestamp'])
                    stamp = datetime.fromtimestamp(event['timestamp'] / 1000, tz=timezone.utc)
                    print(f'{stamp.isoformat(timespec="milliseconds")} {event["logStreamName"]} '
                          f'{event["message"].rstrip()}', flush=True)
        except logs.exceptions.ResourceNotFoundException:
            if not follow:
                print(f'error: no log group {group} yet: the function has not run.',
                      file=sys.stderr)
                return 1
            if not waiting_said:
                waiting_said = True
                print(f'no log group {group} yet (make deploy creates it); waiting for it',
                      file=sys.stderr, flush=True)
        if not follow:
            return 0
        time.sleep(poll_seconds)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.logs')
    commands = parser.add_subparsers(dest='command', required=True)
    report_command = commands.add_parser('report')
    report_command.add_argument('invocation')
    report_command.add_argument('response')
    tail_command = commands.add_parser('tail')
    tail_command.add_argument('group')
    tail_command.add_argument('--follow', action='store_true')
    tail_command.add_argument('--since', default='10m')
    arguments = parser.parse_args(argv)
    if arguments.command == 'report':
        return report(arguments.invocation, arguments.response)
    try:
        return tail(arguments.group, arguments.since, arguments.follow)
    except ValueError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == '__main__':
    sys.exit(main())
