"""Stages measured on a running local endpoint with both functions deployed.

Cold samples change the function's configuration first: as on AWS, that retires its warm
environments, so the next invocation starts a new one.
"""
import base64
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

EVENTS = {'ResizeImage': os.path.join(ROOT, 'image_resize', 'events', 's3-put.json'),
          'ListImage': os.path.join(ROOT, 'image_list', 'events', 'http-get.json')}


def summary(values):
    return {'p50': statistics.median(values), 'p95': percentile(values, 0.95), 'n': len(values)}


def cold_starts(samples, progress=print):
    """Init Duration from REPORT lines, each in a fresh environment."""
    lambdas = boto3.client('lambda')
    figures = {}
    for function, event in EVENTS.items():
        inits = []
        for sample in range(samples):
            retire_environments(lambdas, function, f'cold-{time.time_ns()}-{sample}')
            with open(event, 'rb') as handle:
                response = lambdas.invoke(FunctionName=function, Payload=handle.read(),
                                          LogType='Tail')
            tail = base64.b64decode(response['LogResult']).decode()
            inits.append(float(re.search(r'Init Duration: ([\d.]+) ms', tail)[1]))
        figures[function] = summary(inits)
        progress(f'  cold start {function}: Init Duration p50 {figures[function]["p50"]:.0f} ms')
    return figures


def uploads(sizes, warm, cold, progress=print):
    gallery, bucket = os.environ['GALLERY_URL'], os.environ['RESIZED_BUCKET']
    s3, lambdas = boto3.client('s3'), boto3.client('lambda')
    figures = {}
    for width, height in sizes:
        body = photo(width, height)
        one_upload(gallery, s3, bucket, body)
        warm_times = [one_upload(gallery, s3, bucket, body) for _ in range(warm)]
        cold_times = []
        for sample in range(cold):
            retire_environments(lambdas, 'ResizeImage', f'upload-{time.time_ns()}-{sample}')
            cold_times.append(one_upload(gallery, s3, bucket, body))
        label = f'{width}x{height} JPEG'
        figures[label] = {'bytes': len(body), 'warm': summary(warm_times),
                          'cold': summary(cold_times)}
        progress(f'  upload {label}: warm p50 {figures[label]["warm"]["p50"]:.0f} ms, '
                 f'cold p50 {figures[label]["cold"]["p50"]:.0f} ms')
    return figures


def throughput(in_flight, progress=print, size=(1600, 1200)):
    """`in_flight` uploads posted at once; the time until every one is resized."""
    gallery, bucket = os.environ['GALLERY_URL'], os.environ['RESIZED_BUCKET']
    s3 = boto3.client('s3')
    body = photo(*size)
    forms = []
    for _ in range(in_flight):
        with urllib.request.urlopen(gallery + 'presign') as response:
            forms.append(json.load(response))
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=in_flight) as pool:
        list(pool.map(lambda form: post(form, body), forms))
    pending = {form['key'] for form in forms}
    while pending:
        for key in list(pending):
            try:
                s3.head_object(Bucket=bucket, Key=key)
                pending.discard(key)
            except s3.exceptions.ClientError:
                pass
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    figures = {'uploads': in_flight, 'size': f'{size[0]}x{size[1]}', 'seconds': seconds,
               'per_second': in_flight / seconds}
    progress(f'  throughput: {in_flight} uploads in flight, {figures["per_second"]:.1f}/s')
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
        events = logs.filter_log_events(logGroupName='/aws/lambda/ListImage', startTime=since)
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
