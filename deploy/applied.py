"""What the last deploy of a function applied around it, so `make update` need not read it all.

`make update` publishes code and configuration. The role, log group, buckets and triggers a
function declares change only when its declaration or settings do, so a deploy records a
fingerprint of them once it has applied them all; while the fingerprint is the same, an update
reads only the function (as CloudFormation trusts its last deployed template). `make deploy`
and `make infra` always read everything, and so repair what was changed behind their back.
"""
import dataclasses
import hashlib
import json
import os


def fingerprint(function, names, endpoint):
    """Everything the surroundings are planned from, and where they were applied."""
    surroundings = {key: value for key, value in dataclasses.asdict(function).items()
                    if key in ('name', 'alias', 'role_name', 'permissions', 'buckets',
                               'triggers', 'log_retention_days')}
    text = json.dumps([surroundings, dataclasses.asdict(names), endpoint or ''], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _path(function):
    return os.path.join(function.folder, '.build', 'deploy', 'applied.json')


def matches(function, key):
    try:
        with open(_path(function)) as handle:
            return json.load(handle).get(function.name) == key
    except (FileNotFoundError, ValueError):
        return False


def record(function, key):
    """key None: forget (the function was deleted, or a deploy failed half way)."""
    path = _path(function)
    try:
        with open(path) as handle:
            recorded = json.load(handle)
    except (FileNotFoundError, ValueError):
        recorded = {}
    if key is None:
        recorded.pop(function.name, None)
    else:
        recorded[function.name] = key
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        json.dump(recorded, handle, indent=2)
