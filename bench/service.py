"""Stages measured on a running local endpoint with both functions deployed.

Cold samples change the function's configuration first: as on AWS, that retires its warm
environments, so the next invocation starts a new one.
"""
import concurrent.futures
import json
import os
import re
import statistics
import time
import urllib.request

import boto3

from bench.upload_latency import one_upload, percentile, photo, post, retire_environments
from deploy.functions import ROOT, load

# Three attempts a minute apart at most, locally seconds apart: past this, uploads failed.
THROUGHPUT_DEADLINE_SECONDS = 300
EVENTS = {'ResizeImage-dev': os.path.join(ROOT, 'image_resize', 'events', 's3-put.json'),
          'ListImage-dev': os.path.join(ROOT, 'image_list', 'events', 'http-get.json')}


def summary(values):
    return {'p50': statistics.median(values), 'p95': percentile(values, 0.95), 'n': len(values)}


def report_durations(function, since_ms, warm_only=True):
    """The Duration of each REPORT line the function logged since then (warm ones: no Init)."""
    logs = boto3.client('logs')
    durations = []
    for page in logs.get_paginator('filter_log_events').paginate(
            logGroupName=f'/aws/lambda/{function}', startTime=since_ms):
        for event in page['events']:
            message = event['message']
            if message.startswith('REPORT') and not (warm_only and 'Init Duration' in message):
                durations.append(float(re.search(r'\tDuration: ([\d.]+) ms', message)[1]))
    return durations


def uploads(sizes, warm, cold, progress=print):
    """Upload to resized, warm and cold, with the resize function's own Duration beside it:
    what is left is the endpoint's part (the S3 event, the invocation, the polling)."""
    gallery, bucket = os.environ['GALLERY_URL'], os.environ['RESIZED_BUCKET']
    s3, lambdas = boto3.client('s3'), boto3.client('lambda')
    figures = {}
    for width, height in sizes:
        body = photo(width, height)
        one_upload(gallery, s3, bucket, body)
        since = int(time.time() * 1000)
        warm_times = [one_upload(gallery, s3, bucket, body) for _ in range(warm)]
        time.sleep(0.3)  # the last REPORT line is written after the object
        durations = report_durations('ResizeImage-dev', since)
        cold_times = []
        for sample in range(cold):
            retire_environments(lambdas, 'ResizeImage-dev', f'upload-{time.time_ns()}-{sample}')
            cold_times.append(one_upload(gallery, s3, bucket, body))
        label = f'{width}x{height} JPEG'
        figures[label] = {'bytes': len(body), 'warm': summary(warm_times),
                          'cold': summary(cold_times), 'resize_duration': summary(durations)}
        progress(f'  upload {label}: warm p50 {figures[label]["warm"]["p50"]:.0f} ms (the '
                 f'resize itself {figures[label]["resize_duration"]["p50"]:.0f} ms), '
                 f'cold p50 {figures[label]["cold"]["p50"]:.0f} ms')
    return figures


def cpu_per_resize(body, rounds=5):
    """CPU seconds one resize of `body` takes (every thread of ImageMagick's counted), here in
    the bench's own process: what a core spends per image whatever the function's share."""
    resize = load('image_resize', 'resize')
    resize.resize_blob(body, 400, 400)
    times = []
    for _ in range(rounds):
        started = time.process_time()
        resize.resize_blob(body, 400, 400)
        times.append(time.process_time() - started)
    return statistics.median(times)


def machine_cpu_seconds():
    """(busy, all) CPU seconds of every core since boot, from /proc/stat."""
    with open('/proc/stat') as stat:
        fields = [int(value) for value in stat.readline().split()[1:8]]
    idle = fields[3] + fields[4]  # idle, iowait
    ticks = os.sysconf('SC_CLK_TCK')
    return (sum(fields) - idle) / ticks, sum(fields) / ticks


def process_cpu_seconds(pid):
    """The CPU a process has used itself (user + system), not its children's."""
    with open(f'/proc/{pid}/stat') as stat:
        fields = stat.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def throughput(in_flight, progress=print, size=(1600, 1200)):
    """`in_flight` uploads posted at once; the time until every one is resized, beside the
    CPU-bound limit: the machine's cores divided by the CPU one resize takes."""
    gallery, bucket = os.environ['GALLERY_URL'], os.environ['RESIZED_BUCKET']
    s3 = boto3.client('s3')
    body = photo(*size)
    forms = []
    for _ in range(in_flight):
        with urllib.request.urlopen(gallery + 'presign') as response:
            forms.append(json.load(response))
    endpoint = os.environ.get('BENCH_ENDPOINT_PID')
    endpoint_before = process_cpu_seconds(endpoint) if endpoint else None
    busy_before, all_before = machine_cpu_seconds()
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(lambda form: post(form, body), forms))
    pending = {form['key'] for form in forms}
    deadline = time.monotonic() + THROUGHPUT_DEADLINE_SECONDS
    while pending:
        if time.monotonic() > deadline:  # failed for good (their attempts are in the log)
            raise RuntimeError(f'{len(pending)} of {in_flight} uploads not resized after '
                               f'{THROUGHPUT_DEADLINE_SECONDS} s: see the endpoint log and '
                               f'failed-events.jsonl in the bench state folder')
        for key in list(pending):
            try:
                s3.head_object(Bucket=bucket, Key=key)
                pending.discard(key)
            except s3.exceptions.ClientError:
                pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    busy_after, all_after = machine_cpu_seconds()
    endpoint_cpu = (process_cpu_seconds(endpoint) - endpoint_before) if endpoint else None
    cpu = cpu_per_resize(body)
    cores = os.cpu_count()  # the machine's: this process is held to one (resize_engines)
    figures = {'uploads': in_flight, 'size': f'{size[0]}x{size[1]}', 'seconds': seconds,
               'per_second': in_flight / seconds, 'cpu_seconds_per_resize': cpu, 'cores': cores,
               'cpu_bound_per_second': cores / cpu,
               # What the run used of the whole machine, and of it the endpoint's own process.
               'machine_busy': (busy_after - busy_before) / (all_after - all_before),
               'cpu_seconds_per_upload': (busy_after - busy_before) / in_flight,
               'machine_bound_per_second': cores * in_flight / (busy_after - busy_before),
               'endpoint_cpu_seconds_per_upload': (endpoint_cpu / in_flight
                                                   if endpoint_cpu is not None else None)}
    progress(f'  throughput: {in_flight} uploads in flight, {figures["per_second"]:.1f}/s; '
             f'CPU-bound limit {figures["cpu_bound_per_second"]:.1f}/s')
    return figures


def gallery(sizes, requests, progress=print):
    """Gallery response time as the resized bucket grows; the page lists one page of keys."""
    url, bucket = os.environ['GALLERY_URL'], os.environ['RESIZED_BUCKET']
    s3, logs = boto3.client('s3'), boto3.client('logs')
    settings = load('image_list').Settings(upload_bucket='-', resized_bucket=bucket)
    new_key = load('image_list').new_upload_key
    present = sum(page.get('KeyCount', 0) for page in
                  s3.get_paginator('list_objects_v2').paginate(Bucket=bucket))
    figures = {}
    for size in sizes:
        missing = size - present
        if missing > 0:
            keys = [new_key(settings, now=1_600_000_000 + present + index) for index in range(missing)]
            with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
                list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=b'x'), keys))
            present = size
        urllib.request.urlopen(url).read()  # warm
        since = int(time.time() * 1000)
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            with urllib.request.urlopen(url) as response:
                response.read()
            times.append((time.perf_counter() - started) * 1000)
        time.sleep(0.3)
        events = logs.filter_log_events(logGroupName='/aws/lambda/ListImage-dev', startTime=since)
        durations = [float(re.search(r'Duration: ([\d.]+) ms', event['message'])[1])
                     for event in events['events'] if event['message'].startswith('REPORT')]
        # The one S3 call a page makes, alone: what the store itself costs at this size.
        listing = []
        for _ in range(requests):
            started = time.perf_counter()
            s3.list_objects_v2(Bucket=bucket, Prefix='uploads/', MaxKeys=50)
            listing.append((time.perf_counter() - started) * 1000)
        figures[size] = {'http': summary(times), 'list_objects_v2': summary(listing),
                         'function_duration': summary(durations) if durations else None}
        progress(f'  gallery at {size:,} objects: p50 {figures[size]["http"]["p50"]:.0f} ms, '
                 f'ListObjectsV2 alone {figures[size]["list_objects_v2"]["p50"]:.0f} ms')
    return figures
