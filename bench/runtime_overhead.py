"""What the local runtime itself costs: warm invokes and cold starts, measured on an empty
function that the bench deploys next to the service, so every figure has its floor beside it.
The empty function has 1,769 MB, one whole vCPU on AWS and here: at 128 MB its CPU share (a
fourteenth of a core) would be measured, not the endpoint.

A cold start is what the endpoint adds (the invoke round trip minus the REPORT line's Init
Duration and Duration: making the environment's group, /tmp and namespace, starting the
process, answering) plus the runtime's own Init Duration. The empty function's Init Duration
is the floor any Python function pays (the interpreter and the runtime client); each
function's Init above it is its own imports.
"""
import base64
import io
import json
import re
import time
import zipfile

import boto3
from botocore.config import Config

from bench.upload_latency import retire_environments
from bench.service import EVENTS, summary

EMPTY = 'BenchEmpty'
EMPTY_ROLE = 'bench-empty-function'
TRUST = {'Version': '2012-10-17', 'Statement': [{
    'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},
    'Action': 'sts:AssumeRole'}]}
WARM_GOAL_MS, REPORT_GOAL_MS, COLD_OVERHEAD_GOAL_MS = 5, 2, 30


def client():
    """One attempt per call: a retry would hide the time of a slow answer."""
    return boto3.client('lambda', config=Config(retries={'max_attempts': 1}))


def deploy_empty(runtime='python3.12'):
    """The empty function: a handler that returns at once, with a role that grants nothing."""
    lambdas, iam = client(), boto3.client('iam')
    try:
        lambdas.get_function(FunctionName=EMPTY)
        return
    except lambdas.exceptions.ResourceNotFoundException:
        pass
    try:
        role = iam.get_role(RoleName=EMPTY_ROLE)['Role']['Arn']
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName=EMPTY_ROLE,
                               AssumeRolePolicyDocument=json.dumps(TRUST))['Role']['Arn']
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, 'w') as handle:
        handle.writestr('handler.py', 'def handle(event, context):\n    return None\n')
    lambdas.create_function(FunctionName=EMPTY, Runtime=runtime, Role=role,
                            Handler='handler.handle', Code={'ZipFile': archive.getvalue()},
                            MemorySize=1769, Timeout=3)
    lambdas.get_waiter('function_active_v2').wait(FunctionName=EMPTY)


def timed_invoke(lambdas, function, payload=b'{}', fail_ok=False):
    """(round trip ms, REPORT fields) of one invocation. A cold start is measured whatever the
    handler answers (the service's sample events name objects that are not there)."""
    started = time.perf_counter()
    response = lambdas.invoke(FunctionName=function, Payload=payload, LogType='Tail')
    round_trip = (time.perf_counter() - started) * 1000
    response['Payload'].read()
    tail = base64.b64decode(response['LogResult']).decode()
    report = {name: float(value) for name, value in
              re.findall(r'\b(Init Duration|Duration): ([\d.]+) ms', tail)}
    if response.get('FunctionError') and not fail_ok:
        raise RuntimeError(f'{function} failed in the bench: {tail[-500:]}')
    return round_trip, report


def warm(samples, progress=print):
    lambdas = client()
    deploy_empty()
    for _ in range(3):
        timed_invoke(lambdas, EMPTY)
    trips, durations = [], []
    for _ in range(samples):
        trip, report = timed_invoke(lambdas, EMPTY)
        trips.append(trip)
        durations.append(report['Duration'])
    figures = {'round_trip': summary(trips), 'duration': summary(durations)}
    progress(f'  warm invoke of the empty function: p50 {figures["round_trip"]["p50"]:.1f} ms, '
             f'REPORT Duration p50 {figures["duration"]["p50"]:.2f} ms')
    return figures


def cold(samples, progress=print):
    """Interleaved: one cold start of each function per round, so all share the same noise."""
    lambdas = client()
    deploy_empty()
    events = {EMPTY: b'{}'}
    for function, path in EVENTS.items():
        with open(path, 'rb') as handle:
            events[function] = handle.read()
    rows = {function: {'init': [], 'overhead': [], 'round_trip': []} for function in events}
    for sample in range(samples):
        for function, payload in events.items():
            retire_environments(lambdas, function, f'cold-{time.time_ns()}-{sample}')
            trip, report = timed_invoke(lambdas, function, payload, fail_ok=True)
            rows[function]['round_trip'].append(trip)
            rows[function]['init'].append(report['Init Duration'])
            rows[function]['overhead'].append(trip - report['Init Duration'] - report['Duration'])
    figures = {function: {name: summary(values) for name, values in row.items()}
               for function, row in rows.items()}
    for function, row in figures.items():
        progress(f'  cold start {function}: Init p50 {row["init"]["p50"]:.0f} ms, endpoint '
                 f'overhead p50 {row["overhead"]["p50"]:.0f} ms')
    return figures


def table(warm_figures, cold_figures):
    lines = []
    if warm_figures:
        trip, duration = warm_figures['round_trip'], warm_figures['duration']
        lines += [f'   warm invoke, empty function, through the Invoke API: p50 {trip["p50"]:.1f} '
                  f'ms, p95 {trip["p95"]:.1f} ms (goal < {WARM_GOAL_MS} ms; LocalStack publishes '
                  f'17 ms minimum); REPORT Duration p50 {duration["p50"]:.2f} ms '
                  f'(goal < {REPORT_GOAL_MS} ms) (n={trip["n"]})']
    if cold_figures:
        floor = cold_figures[EMPTY]['init']['p50']
        overhead = cold_figures[EMPTY]['overhead']['p50']
        lines.append(f'   cold start, empty function: the endpoint adds p50 {overhead:.0f} ms '
                     f'around Init Duration (goal < {COLD_OVERHEAD_GOAL_MS} ms); its Init, '
                     f'{floor:.0f} ms, is the floor of every Python function')
        for function, row in cold_figures.items():
            init = row['init']['p50']
            above = ('' if function == EMPTY
                     else f', floor + {init - floor:.0f} ms of its own imports')
            lines.append(f'     {function:12} Init p50 {init:4.0f} ms{above}; endpoint '
                         f'{row["overhead"]["p50"]:.0f} ms; round trip p50 '
                         f'{row["round_trip"]["p50"]:.0f} ms (n={row["init"]["n"]})')
    return lines
