"""What `make update` must do: compare the local build and settings with the deployed function.

The Makefile does the AWS calls with awscli, where users can read them; this module only
decides. It prints the actions needed (``code``, ``configuration``) on stdout, and the reasons
on stderr, without printing environment values (they may be secrets).

    python -m deploy.plan environment OUT.json NAME=VALUE ...
    python -m deploy.plan changes DEPLOYED.json --zip F.zip --runtime ... --environment OUT.json
"""
import argparse
import json
import sys

from deploy.zipper import code_sha256


def environment(assignments):
    """Lambda's Environment from NAME=VALUE pairs; unset values are left to the code's defaults."""
    variables = {}
    for assignment in assignments:
        name, separator, value = assignment.partition('=')
        if not separator or not name:
            raise ValueError(f'expected NAME=VALUE, got {assignment!r}')
        if value:
            variables[name] = value
    return {'Variables': variables}


def desired_configuration(arguments, environment_document):
    return {
        'Runtime': arguments.runtime,
        'Handler': arguments.handler,
        'Timeout': arguments.timeout,
        'MemorySize': arguments.memory_size,
        'Role': arguments.role,
        'Layers': arguments.layers.split() if arguments.layers else [],
        'Environment': environment_document.get('Variables', {}),
    }


def deployed_configuration(deployed):
    return {
        'Runtime': deployed.get('Runtime'),
        'Handler': deployed.get('Handler'),
        'Timeout': deployed.get('Timeout'),
        'MemorySize': deployed.get('MemorySize'),
        'Role': deployed.get('Role'),
        'Layers': [layer['Arn'] for layer in deployed.get('Layers') or []],
        'Environment': (deployed.get('Environment') or {}).get('Variables') or {},
    }


def changes(deployed, zip_path, architecture, desired):
    """Return (actions, reasons)."""
    actions, reasons = [], []
    local_sha = code_sha256(zip_path)
    deployed_architecture = (deployed.get('Architectures') or ['x86_64'])[0]
    if local_sha != deployed.get('CodeSha256'):
        actions.append('code')
        reasons.append(f'code: {deployed.get("CodeSha256")} -> {local_sha}')
    elif architecture != deployed_architecture:
        actions.append('code')  # the architecture is set with the code
        reasons.append(f'architecture: {deployed_architecture} -> {architecture}')

    current = deployed_configuration(deployed)
    for field, wanted in desired.items():
        if current[field] == wanted:
            continue
        if field == 'Environment':
            changed = sorted(name for name in set(current[field]) | set(wanted)
                             if current[field].get(name) != wanted.get(name))
            reasons.append(f'environment: {", ".join(changed)} changed')
        else:
            reasons.append(f'{field}: {current[field]} -> {wanted}')
        if 'configuration' not in actions:
            actions.append('configuration')
    return actions, reasons


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.plan')
    commands = parser.add_subparsers(dest='command', required=True)
    environment_command = commands.add_parser('environment')
    environment_command.add_argument('output')
    environment_command.add_argument('assignments', nargs='*')
    changes_command = commands.add_parser('changes')
    changes_command.add_argument('deployed', help='aws lambda get-function-configuration output')
    changes_command.add_argument('--zip', required=True)
    changes_command.add_argument('--architecture', required=True)
    changes_command.add_argument('--runtime', required=True)
    changes_command.add_argument('--handler', required=True)
    changes_command.add_argument('--timeout', type=int, required=True)
    changes_command.add_argument('--memory-size', type=int, required=True)
    changes_command.add_argument('--role', required=True)
    changes_command.add_argument('--layers', default='')
    changes_command.add_argument('--environment', required=True, help='deploy.plan environment output')
    arguments = parser.parse_args(argv)

    if arguments.command == 'environment':
        try:
            document = environment(arguments.assignments)
        except ValueError as error:
            print(f'error: {error}', file=sys.stderr)
            return 2
        with open(arguments.output, 'w') as handle:
            json.dump(document, handle, indent=2, sort_keys=True)
        return 0

    with open(arguments.deployed) as handle:
        deployed = json.load(handle)
    with open(arguments.environment) as handle:
        environment_document = json.load(handle)
    actions, reasons = changes(deployed, arguments.zip, arguments.architecture,
                               desired_configuration(arguments, environment_document))
    for reason in reasons:
        print(f'  {reason}', file=sys.stderr)
    print(' '.join(actions))
    return 0


if __name__ == '__main__':
    sys.exit(main())
