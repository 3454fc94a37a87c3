"""A function's Architectures, as Lambda takes it, and whether this machine can run it.

Lambda sets the instruction set architecture with the code: create-function and
update-function-code both take `Architectures` (one of x86_64 and arm64, exactly one), and an
update without it keeps the function's. moto 5.2 honours it on create only, refuses a bad value
with Python's list syntax and no length check, and ignores it on update-function-code, so a
function deployed with ARCH=arm64 kept reporting x86_64. Here both calls check it first, with
the messages AWS answers (LocalStack's recordings of AWS: test_create_lambda_exceptions'
multiple_architectures and uppercase_architecture), and the update stores it.

The endpoint runs a function on its own CPU, not in an emulator: arm64 code on an x86_64
machine, or the reverse, would run Python but fail to import the compiled wheels built for the
other architecture (`No module named 'orjson.orjson'`). So an invocation of a function whose
architecture is not the machine's is refused before anything runs, with what to do; AWS would
run it, so the refusal is this endpoint's own, and says so. The create or update that deploys
such a function is answered as AWS answers it (its answer has no field to say more), and the
endpoint's log says at once that invocations will be refused.
"""
import logging
import platform

from moto.awslambda import models
from moto.awslambda.exceptions import LambdaClientError

ARCHITECTURES = ('x86_64', 'arm64')
# Lambda's names for what platform.machine() calls the CPU (aarch64 on Linux, arm64 on macOS).
MACHINE = {'x86_64': 'x86_64', 'amd64': 'x86_64', 'aarch64': 'arm64',
           'arm64': 'arm64'}.get(platform.machine().lower(), platform.machine())

logger = logging.getLogger(__name__)


class ArchitectureMismatch(Exception):
    """A function built for another CPU than this machine's: refused before it runs."""


def install():
    """Check Architectures in moto's Lambda backend before create-function and
    update-function-code store anything, and store it on update."""
    backend = models.LambdaBackend
    if getattr(backend, '_architectures', False):
        return
    backend._architectures = True
    create, update_code = backend.create_function, backend.update_function_code
    set_code = models.LambdaFunction.update_function_code

    def create_function(self, spec):
        check(spec)
        function = create(self, spec)
        note_if_foreign(function)
        return function

    def update_function_code(self, function_name, qualifier, body):
        check(body)
        answer = update_code(self, function_name, qualifier, body)
        note_if_foreign(self.get_function(function_name, qualifier))
        return answer

    def update_function_code_with_architectures(function, body):
        if 'Architectures' in body:
            function.architectures = list(body['Architectures'])
        return set_code(function, body)

    backend.create_function = create_function
    backend.update_function_code = update_function_code
    models.LambdaFunction.update_function_code = update_function_code_with_architectures


def check(request):
    """Refuse a bad Architectures as Lambda does: ValidationException (400)."""
    if 'Architectures' not in request:
        return
    value = request['Architectures']
    if isinstance(value, list) and len(value) > 1:
        raise invalid(value, 'Member must have length less than or equal to 1')
    if value == []:
        raise invalid(value, 'Member must have length greater than or equal to 1')
    if not isinstance(value, list) or value[0] not in ARCHITECTURES:
        raise invalid(value, 'Member must satisfy constraint: [Member must satisfy enum value '
                             'set: [x86_64, arm64], Member must not be null]')


def invalid(value, constraint):
    """AWS shows the value as Java prints it: [x86_64, arm64], null."""
    return LambdaClientError('ValidationException',
                             f"1 validation error detected: Value '{shown(value)}' at "
                             f"'architectures' failed to satisfy constraint: {constraint}")


def shown(value):
    if isinstance(value, list):
        return '[' + ', '.join(shown(member) for member in value) + ']'
    return 'null' if value is None else str(value)


def of(function):
    """The architecture of a function in moto's backend (it always holds exactly one)."""
    return function.architectures[0]


def refusal(name, architecture, machine=MACHINE):
    """Why this machine cannot run a function built for `architecture`, or None if it can."""
    if architecture == machine:
        return None
    return (f'Function {name} is built for {architecture} (its Architectures) but this machine '
            f'is {machine}: the local endpoint runs functions on its own CPU, where compiled '
            f'packages built for {architecture} fail to import, so it does not invoke it. For '
            f'local runs, build and deploy it with ARCH={machine} (make update ARCH={machine}), '
            f'or run the endpoint on an {architecture} machine. (Local only: AWS runs it.)')


def note_if_foreign(function, machine=MACHINE):
    """Say at deploy time, in the endpoint's log, what an invocation would be answered."""
    message = refusal(function.function_name, of(function), machine)
    if message is not None:
        logger.warning('%s', message)
