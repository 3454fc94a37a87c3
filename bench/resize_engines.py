"""Resize engines side by side, one core: the project's resize_blob, the 2016 tutorial's
method, and libvips' thumbnail_buffer when pyvips is installed.

Runs are interleaved (each round times every engine once, on the same input) so that a noisy
neighbour slows all of them alike; medians and ratios measured in one run are the result,
absolute milliseconds only context.

    .venv/bin/python -m bench.resize_engines [--rounds 15] [--json PATH]
"""
import os

# One core and one thread for every library, set before any of them loads.
for _name in ('OMP_NUM_THREADS', 'VIPS_CONCURRENCY', 'MAGICK_THREAD_LIMIT'):
    os.environ[_name] = '1'
if hasattr(os, 'sched_setaffinity'):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from wand.image import Image  # noqa: E402

from deploy.functions import load  # noqa: E402

resize = load('image_resize', 'resize')
BOX = 400
QUALITY = 85


def photo_like(width, height, coder):
    """A plasma: detail at every scale, so it compresses like a photograph (a 12 MP JPEG at
    quality 90 is about 3 MB), not like a flat fill. Added noise would triple that."""
    with Image(width=width, height=height, pseudo='plasma:') as image:
        image.depth = 8
        image.format = coder
        if coder == 'jpeg':
            image.compression_quality = 90
        return image.make_blob()


def project(blob):
    return resize.resize_blob(blob, BOX, BOX, jpeg_quality=QUALITY).data


def tutorial(blob):
    """The 2016 tutorial's method: decode everything, best fit, lanczos2 with blur=1."""
    with Image(blob=blob) as image:
        ratio = image.width / image.height
        width, height = (BOX, round(BOX / ratio)) if ratio > 1 else (round(BOX * ratio), BOX)
        image.resize(width, height, filter='lanczos2', blur=1)
        image.strip()
        image.compression_quality = QUALITY
        return image.make_blob()


def vips_engine():
    try:
        import pyvips
    except (ImportError, OSError):
        return None

    def vips(blob):
        thumbnail = pyvips.Image.thumbnail_buffer(blob, BOX, height=BOX)
        if blob[:3] == b'\xff\xd8\xff':
            return thumbnail.write_to_buffer('.jpg', Q=QUALITY, interlace=True, strip=True)
        return thumbnail.write_to_buffer('.png', strip=True)
    return vips


def psnr(engines, blob):
    """Each engine's output against a slow reference (full decode, Lanczos3): speed is only
    worth reporting next to what it costs in quality."""
    with Image(blob=blob) as reference:
        reference.resize(*resize.fit_within(reference.width, reference.height, BOX, BOX),
                         filter='lanczos')
        scores = {}
        for name, engine in engines.items():
            with Image(blob=engine(blob)) as output:
                scores[name] = output.compare(reference, metric='peak_signal_to_noise_ratio')[1]
        return scores


def measure(engines, blob, rounds):
    for engine in engines.values():  # warm-up: libraries load, caches fill
        engine(blob)
    times = {name: [] for name in engines}
    for _ in range(rounds):
        for name, engine in engines.items():
            started = time.perf_counter()
            engine(blob)
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--json', help='also write the figures to this file')
    arguments = parser.parse_args()

    engines = {'project': project, 'tutorial': tutorial}
    vips = vips_engine()
    if vips:
        engines['pyvips'] = vips
    inputs = {'12 MP JPEG': photo_like(4000, 3000, 'jpeg'),
              '12 MP PNG': photo_like(4000, 3000, 'png'),
              '2 MP JPEG': photo_like(1600, 1200, 'jpeg'),
              '600x400 JPEG': photo_like(600, 400, 'jpeg')}

    print(f'one core, {arguments.rounds} interleaved rounds, median ms; PSNR against a full '
          f'decode + Lanczos3 reference, in engine order'
          + ('' if vips else ' (pyvips not installed: make bench-resize installs it)'))
    header = f'{"input":14} {"bytes":>10} ' + ' '.join(f'{name:>9}' for name in engines)
    header += f' {"tutorial/project":>17}' + (f' {"project/vips":>13}' if vips else '')
    print(header)
    results = {}
    for label, blob in inputs.items():
        medians = measure(engines, blob, arguments.rounds)
        quality = psnr(engines, blob)
        results[label] = {'median_ms': medians, 'psnr_db': quality}
        row = f'{label:14} {len(blob):>10,} ' + ' '.join(f'{medians[name]:>9.1f}' for name in engines)
        row += f' {medians["tutorial"] / medians["project"]:>16.2f}x'
        if vips:
            row += f' {medians["project"] / medians["pyvips"]:>12.2f}x'
        row += '   PSNR dB ' + '/'.join(f'{quality[name]:.1f}' for name in engines)
        print(row, flush=True)
    if arguments.json:
        with open(arguments.json, 'w') as handle:
            json.dump({'rounds': arguments.rounds, 'results': results}, handle, indent=2)


if __name__ == '__main__':
    main()
