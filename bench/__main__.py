"""`make bench`: every performance figure side by side, in one run.

Ratios measured in the same run are the result; absolute times depend on the machine and on
what else it is doing. Nothing here passes or fails: it reports.

    python -m bench [--quick] [--json PATH]    (make bench sets up the local endpoint first)
"""
import argparse
import json
import os
import platform
import sys
import time
from datetime import datetime, timezone

from bench import (build_loop, deploy_loop, gallery_cpu, memory_sizes, resize_engines,
                   runtime_overhead, service, state_store)

PLANS = {
    'full': {'rounds': 15, 'cold': 7, 'warm_invokes': 200, 'warm': 20, 'upload_cold': 5,
             'in_flight': 50, 'gallery': (100, 1000, 10000), 'gallery_requests': 20, 'builds': 5,
             'edited': build_loop.FUNCTIONS, 'tune': 10, 'deploys': 5, 'puts': 30},
    'quick': {'rounds': 3, 'cold': 2, 'warm_invokes': 30, 'warm': 5, 'upload_cold': 2,
              'in_flight': 10, 'gallery': (100, 1000), 'gallery_requests': 5, 'builds': 1,
              'edited': ('image_list', build_loop.HEAVY), 'tune': 3, 'deploys': 1, 'puts': 10},
}


def progress(message):
    print(message, flush=True)


def stage(name, results, function, *arguments):
    progress(f'[{time.strftime("%H:%M:%S")}] {name}')
    started = time.perf_counter()
    results[name] = function(*arguments, progress=progress)
    progress(f'  ({time.perf_counter() - started:.0f} s)')


def report(results, plan_name):
    lines = ['', f'make bench ({plan_name}), {results["date"]}, {results["machine"]}',
             'Ratios from this one run are the result; milliseconds are context.', '',
             '1. Resize, one core, median of interleaved runs; peak RSS of each in its own '
             'process; PSNR against full decode + Lanczos3',
             resize_engines.table(results['resize'])]
    if results.get('warm invoke'):
        lines += ['', '2. The local runtime\'s own cost: warm invokes and cold starts, each beside '
                      'its goal or floor']
        lines += runtime_overhead.table(results['warm invoke'], results['cold start'])
    uploads = results.get('upload to resized')
    if uploads:
        lines += ['', '3. Upload to resized on the local endpoint (form POST until the resized '
                      'object is visible), beside the resize function\'s own REPORT Duration']
        for label, row in uploads.items():
            duration = row['resize_duration']['p50']
            lines.append(f'   {label:15} warm p50 {row["warm"]["p50"]:.0f} ms = the resize '
                         f'{duration:.0f} ms + {row["warm"]["p50"] - duration:.0f} ms (goal: + < '
                         f'30 ms), p95 {row["warm"]["p95"]:.0f} ms; cold p50 '
                         f'{row["cold"]["p50"]:.0f} ms, p95 {row["cold"]["p95"]:.0f} ms')
        rate = results['throughput']
        lines.append(f'   throughput: {rate["uploads"]} x {rate["size"]} in flight: '
                     f'{rate["per_second"]:.1f} uploads/s ({rate["seconds"]:.1f} s); CPU-bound '
                     f'limit {rate["cpu_bound_per_second"]:.1f}/s ({rate["cores"]} cores / '
                     f'{rate["cpu_seconds_per_resize"] * 1000:.0f} ms of CPU per resize); '
                     f'{rate["per_second"] / rate["cpu_bound_per_second"]:.0%} of it')
        endpoint = rate.get('endpoint_cpu_seconds_per_upload')
        lines.append(f'   during it the machine was {rate["machine_busy"]:.0%} busy: '
                     f'{rate["cpu_seconds_per_upload"] * 1000:.0f} ms of CPU per upload in all'
                     + (f', {endpoint * 1000:.0f} ms of it in the endpoint\'s own process (S3, '
                        f'the form, events, logs)' if endpoint is not None else '')
                     + f'; at that cost the machine\'s limit is '
                     f'{rate["machine_bound_per_second"]:.1f}/s')
    lines += ['', f'4. Build loop: make build against sam build --cached (aws-sam-cli '
                  f'{results["build loop"]["sam_version"]}) on the same function folders']
    lines += build_loop.table(results['build loop'])
    gallery = results.get('gallery')
    if gallery:
        lines += ['', '5. Gallery by objects in the resized bucket, p50: the page over HTTP, the '
                      "function's own Duration, and the page's one S3 call (ListObjectsV2, 50 "
                      'keys) alone against the same endpoint']
        for size, row in gallery.items():
            duration = row['function_duration']
            lines.append(f'   {int(size):>6,} objects: page {row["http"]["p50"]:.0f} ms'
                         + (f', function {duration["p50"]:.0f} ms' if duration else '')
                         + f', ListObjectsV2 alone {row["list_objects_v2"]["p50"]:.0f} ms')
    sizes = results.get('memory sizes')
    if sizes:
        lines += ['', '6. The same function at several memory sizes (make tune): on AWS, and here, '
                      'CPU is MemorySize/1769 of a core; cost per million at us-east-1 x86_64 '
                      'prices']
        lines += memory_sizes.table(sizes)
    cpu = results.get('gallery cpu')
    if cpu:
        lines += ['', "7. The gallery's own CPU per page of 50 images, in process: before (boto3's "
                      'generate_presigned_url per image, dateutil timestamps) and now']
        lines += gallery_cpu.table(cpu)
    deploys = results.get('deploy loop')
    if deploys:
        lines += ['', '8. Deploy loop on the local endpoint: make watch and make update, edit to '
                      'live']
        lines += deploy_loop.table(deploys)
    kept = results.get('state store')
    if kept:
        lines += ['', '9. What keeping state costs the endpoint: S3 writes beside the endpoint '
                      'before it kept anything, alternated; start-up with and without state']
        lines += state_store.table(kept)
    return '\n'.join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m bench')
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--json', default=os.path.join('.local', 'bench', 'results.json'))
    arguments = parser.parse_args(argv)
    plan_name = 'quick' if arguments.quick else 'full'
    plan = PLANS[plan_name]
    results = {'plan': plan_name, 'date': datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC'),
               'machine': f'{platform.machine()}, {os.cpu_count()} cores, '
                          f'{platform.platform(terse=True)}, Python {platform.python_version()}'}
    started = time.perf_counter()
    # First: its file writes would otherwise compete with the writeback of the 10,000
    # objects the gallery stage stores, which the endpoint before it did not write.
    stage('state store', results, state_store.run, min(plan['rounds'], 6), plan['puts'])
    stage('resize', results, resize_engines.run, plan['rounds'], arguments.quick)
    if os.environ.get('GALLERY_URL'):
        stage('warm invoke', results, runtime_overhead.warm, plan['warm_invokes'])
        stage('cold start', results, runtime_overhead.cold, plan['cold'])
        sizes = [(4000, 3000)] if arguments.quick else [(4000, 3000), (1600, 1200)]
        stage('upload to resized', results, service.uploads, sizes, plan['warm'],
              plan['upload_cold'])
        stage('throughput', results, service.throughput, plan['in_flight'])
        # Before the gallery stage fills the bucket: the page's listing stays small.
        stage('memory sizes', results, memory_sizes.run, plan['tune'])
        stage('gallery', results, service.gallery, plan['gallery'], plan['gallery_requests'])
        stage('deploy loop', results, deploy_loop.run, plan['deploys'])
    else:
        progress('GALLERY_URL is not set: skipping the stages that need the local endpoint')
    stage('gallery cpu', results, gallery_cpu.run, plan['rounds'])
    stage('build loop', results, build_loop.run, plan['builds'], plan['edited'])
    results['seconds'] = time.perf_counter() - started
    print(report(results, plan_name))
    os.makedirs(os.path.dirname(os.path.abspath(arguments.json)), exist_ok=True)
    with open(arguments.json, 'w') as handle:
        json.dump(results, handle, indent=2, default=str)
    print(f'\nfigures written to {arguments.json} ({results["seconds"]:.0f} s in all)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
