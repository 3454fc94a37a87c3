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
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from wand.image import Image  # noqa: E402

from deploy.functions import ROOT, load  # noqa: E402

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


def contenders():
    engines = {'project': project, 'tutorial': tutorial}
    vips = vips_engine()
    if vips:
        engines['pyvips'] = vips
    return engines


def inputs(quick=False):
    sizes = {'12 MP JPEG': (4000, 3000, 'jpeg'), '12 MP PNG': (4000, 3000, 'png'),
             '2 MP JPEG': (1600, 1200, 'jpeg'), '600x400 JPEG': (600, 400, 'jpeg')}
    if quick:
        sizes = {name: size for name, size in sizes.items() if name in ('12 MP JPEG', '2 MP JPEG')}
    return {name: photo_like(*size) for name, size in sizes.items()}


def peak_rss_mb(engine, blob):
    """The contender's peak RSS in a process of its own (interpreter and libraries included)."""
    with tempfile.NamedTemporaryFile(suffix='.img') as handle:
        handle.write(blob)
        handle.flush()
        result = subprocess.run([sys.executable, '-m', 'bench.resize_engines', '--peak', engine,
                                 handle.name], capture_output=True, text=True, check=True,
                                env=dict(os.environ, PYTHONPATH=ROOT))
    return float(result.stdout.strip())


def run(rounds, quick=False, progress=print):
    engines = contenders()
    results = {}
    for label, blob in inputs(quick).items():
        medians = measure(engines, blob, rounds)
        results[label] = {
            'bytes': len(blob), 'median_ms': medians, 'psnr_db': psnr(engines, blob),
            'peak_rss_mb': {name: peak_rss_mb(name, blob) for name in engines},
            'tutorial_over_project': medians['tutorial'] / medians['project'],
            'project_over_pyvips': (medians['project'] / medians['pyvips']
                                    if 'pyvips' in medians else None)}
        progress(f'  resize {label}: project {medians["project"]:.1f} ms, tutorial/project '
                 f'{results[label]["tutorial_over_project"]:.2f}x'
                 + (f', project/pyvips {results[label]["project_over_pyvips"]:.2f}x'
                    if 'pyvips' in medians else ''))
    return {'rounds': rounds, 'engines': list(engines), 'inputs': results}


def table(figures):
    engines = figures['engines']
    lines = [f'{"input":14} ' + ' '.join(f'{name + " ms":>12}' for name in engines)
             + f' {"tutorial/project":>17} {"project/pyvips":>15}  peak RSS MB ('
             + '/'.join(engines) + ')  PSNR dB']
    for label, row in figures['inputs'].items():
        ratio = row['project_over_pyvips']
        lines.append(f'{label:14} ' + ' '.join(f'{row["median_ms"][name]:>12.1f}' for name in engines)
                     + f' {row["tutorial_over_project"]:>16.2f}x'
                     + (f' {ratio:>14.2f}x' if ratio else f' {"-":>15}')
                     + '  ' + '/'.join(f'{row["peak_rss_mb"][name]:.0f}' for name in engines)
                     + '  ' + '/'.join(f'{row["psnr_db"][name]:.1f}' for name in engines))
    return '\n'.join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rounds', type=int, default=15)
    parser.add_argument('--quick', action='store_true')
    parser.add_argument('--json', help='also write the figures to this file')
    parser.add_argument('--peak', nargs=2, metavar=('ENGINE', 'FILE'), help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.peak:
        engine, path = arguments.peak
        with open(path, 'rb') as handle:
            blob = handle.read()
        for _ in range(3):
            contenders()[engine](blob)
        # Not ru_maxrss: Linux carries it across fork and exec, so a child would report its
        # parent's peak. VmHWM belongs to this process's own address space.
        with open('/proc/self/status') as status:
            peak_kb = next(int(line.split()[1]) for line in status if line.startswith('VmHWM'))
        print(peak_kb / 1024)
        return
    figures = run(arguments.rounds, arguments.quick)
    print(f'one core, {arguments.rounds} interleaved rounds, median ms; PSNR against a full '
          f'decode + Lanczos3 reference')
    print(table(figures))
    if arguments.json:
        with open(arguments.json, 'w') as handle:
            json.dump(figures, handle, indent=2)


if __name__ == '__main__':
    main()
