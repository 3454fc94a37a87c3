"""Resize files one by one, each in a fresh fork of a process that has loaded what the function
loads, and print per file: the outcome, wall time and peak memory above that process's own.

    python tests/resize_probe.py MEMORY_MB FILE...

Each fork's high-water mark less its resident size when it started is what the resize took
(reading the file included), as it would on top of a warm Lambda runtime.
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'image_resize'))
import resize  # noqa: E402  (the function's module, imported as its handler does)


def kib(field, pid='self'):
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise LookupError(field)


def probe(path, memory_mb):
    start_kib = kib('VmRSS')
    with open(path, 'rb') as source:
        blob = source.read()
    started = time.perf_counter()
    try:
        result = resize.resize_blob(blob, 400, 400, memory_mb=memory_mb)
        outcome = {'outcome': 'resized', 'size': list(result.size)}
    except resize.ImageRejected as rejection:
        outcome = {'outcome': 'rejected', 'reason': rejection.reason, 'detail': str(rejection)}
    outcome['seconds'] = time.perf_counter() - started
    outcome['peak_kib'] = kib('VmHWM') - start_kib
    return outcome


def main(memory_mb, paths):
    for path in paths:
        reader, writer = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(reader)
            os.write(writer, json.dumps(probe(path, memory_mb)).encode())
            os._exit(0)
        os.close(writer)
        with os.fdopen(reader, 'rb') as answer:
            report = answer.read()
        _, status = os.waitpid(pid, 0)
        result = json.loads(report) if report else {'outcome': 'crashed', 'status': status}
        result.update(file=os.path.basename(path), bytes=os.path.getsize(path))
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main(int(sys.argv[1]), sys.argv[2:])
