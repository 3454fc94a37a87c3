"""What a deploy to the local endpoint says about the Python its functions will run on.

The local endpoint runs a python3.12 function on Python 3.12 when the machine has it, and
otherwise on its own Python (local_endpoint.runtimes); its /_local/health answers which X.Y runs
each runtime. A create, update or deploy whose AWS_ENDPOINT_URL is an endpoint on this machine
asks it once and says in one line which of its functions' runtimes the machine lacks. AWS, an
endpoint elsewhere, or one that does not answer, is not asked or says nothing: the deploy is
as before.
"""
import json
import urllib.error
import urllib.parse
import urllib.request

HEALTH_PATH = '/_local/health'
LOOPBACK = ('127.0.0.1', 'localhost', '::1')
SAID = set()  # the runtimes this command has spoken of (make watch deploys again and again)


def say_once(runtimes, endpoint, echo=print):
    """The note for the runtimes this command has not spoken of yet, if any runs on another
    Python at the local endpoint."""
    new = set(runtimes) - SAID
    if not new:
        return
    SAID.update(new)
    line = note(new, python_versions(endpoint))
    if line:
        echo(line)


def python_versions(endpoint, timeout=2.0):
    """{runtime: 'X.Y'} as the local endpoint at `endpoint` runs them, or {}."""
    if not endpoint or urllib.parse.urlsplit(endpoint).hostname not in LOOPBACK:
        return {}
    try:
        with urllib.request.urlopen(endpoint.rstrip('/') + HEALTH_PATH,
                                    timeout=timeout) as response:
            runtimes = json.load(response).get('runtimes')
    except (OSError, ValueError, AttributeError):  # no endpoint of ours: nothing to say
        return {}
    return runtimes if isinstance(runtimes, dict) else {}


def note(runtimes, versions):
    """One line for the runtimes among `runtimes` that run on another Python, or None."""
    lacking = sorted(runtime for runtime in set(runtimes)
                     if versions.get(runtime) not in (None, runtime.replace('python', '')))
    if not lacking:
        return None
    wanted = [runtime.replace('python', '') for runtime in lacking]
    running = versions[lacking[0]]
    return (f'note: the local endpoint has no Python {", ".join(wanted)}: '
            f'{", ".join(lacking)} functions run there on Python {running}, and an invocation '
            f'that fails to import a module compiled for {" or ".join(wanted)} is refused. '
            f'Install it (pyenv install {wanted[0]}) and restart the endpoint (make down up), '
            f'or set RUNTIME=python{running}.')
