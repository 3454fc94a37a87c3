"""A function's configuration as Lambda answers it, in every call that returns one.

moto's lacks what AWS's has (LocalStack's recordings of AWS, test_lambda_api.snapshot.json,
TestLambdaFunction::test_function_lifecycle: create_response, get_function_response,
update_func_conf_response): a RevisionId that changes with each update (and each version has
its own), LoggingConfig, RuntimeVersionConfig; it says a function just created is Active where
Lambda says Pending ("The function is being created.", which waiters wait out), and an update
Successful where Lambda says InProgress; it lists "Layers": [] and null members AWS leaves out;
and it writes LastModified with nanoseconds and Z where AWS writes 2025-11-25T02:26:53.624+0000.
Each answer's RevisionId is the one AWS's would be (test_version_lifecycle): a create or update
answers one, and the change taking effect gives the function the next; a RevisionId given to an
update or a publish must be the current one (412 otherwise).
"""
import json
import uuid
from urllib.parse import unquote

from moto.awslambda.exceptions import PreconditionFailedException
from moto.awslambda.models import LambdaBackend, LambdaFunction
from moto.awslambda.responses import LambdaResponse

from local_endpoint import function_names
from local_endpoint.lambda_service import runtime_version

CREATING = 'The function is being created.'
WRONG_REVISION = ('The Revision Id provided does not match the latest Revision Id. Call the '
                  'GetFunction/GetAlias API to retrieve the latest Revision Id')
NOT_LISTED = ('State', 'LastUpdateStatus', 'RuntimeVersionConfig')


# Called when a read gives a function its RevisionId: the endpoint keeps it (state.py).
on_new_revision = None


def revision_of(function):
    """The function's (or version's) RevisionId, given on first sight."""
    if getattr(function, 'revision_id', None) is None:
        function.revision_id = str(uuid.uuid4())
        if on_new_revision is not None:
            on_new_revision()
    return function.revision_id


def check_revision(function, revision):
    """A call given a RevisionId changes only that revision (test_publish_with_wrong_revisionid,
    publish_wrong_revisionid_exc: 412)."""
    if revision is not None and revision != revision_of(function):
        raise PreconditionFailedException(WRONG_REVISION)


def transition(function):
    """Lambda gives a function a new RevisionId when a change it answered has taken effect
    (Pending to Active, InProgress to Successful): here at once, seen at the next read."""
    function.revision_id = None


def shaped(function, configuration, on_create=False):
    """moto's configuration of `function`, as AWS answers it."""
    shown = {key: value for key, value in configuration.items()
             if value is not None and not (key in ('Layers', 'VpcConfig') and not value)}
    shown['RevisionId'] = revision_of(function)
    shown['LoggingConfig'] = {'LogFormat': 'Text',
                              'LogGroup': f'/aws/lambda/{function.function_name}'}
    if shown.get('Runtime'):
        shown['RuntimeVersionConfig'] = {
            'RuntimeVersionArn': runtime_version(shown['Runtime'], function.region)[1]}
    if isinstance(shown.get('LastModified'), str) and shown['LastModified'].endswith('Z'):
        shown['LastModified'] = shown['LastModified'][:23] + '+0000'
    if on_create:
        shown.update(State='Pending', StateReason=CREATING, StateReasonCode='Creating')
        transition(function)
    return shown


def updating(configuration):
    """An update's answer: Lambda applies it after answering."""
    return {**configuration, 'LastUpdateStatus': 'InProgress',
            'LastUpdateStatusReason': CREATING, 'LastUpdateStatusReasonCode': 'Creating'}


def published(configuration):
    """update-function-code --publish answers the version it published, being created
    (test_publish_with_update, update_function_code_result)."""
    answer = {key: value for key, value in configuration.items()
              if not key.startswith('LastUpdateStatus')}
    answer.update(State='Pending', StateReason=CREATING, StateReasonCode='Creating')
    return answer


def alias_arn(configuration, qualifier):
    """A configuration read through an alias names the alias in its FunctionArn, and the
    version in Version (test_alias_lifecycle, get_function_alias_1_1)."""
    unqualified = configuration['FunctionArn'].split(':function:', 1)
    name = unqualified[1].split(':', 1)[0]
    return {**configuration, 'FunctionArn': f'{unqualified[0]}:function:{name}:{qualifier}'}


def _naming_the_alias(handler, name_segment):
    """get-function or get-function-configuration, its FunctionArn the alias's when one was
    asked for (moto names the version)."""
    def answered(response):
        answer = handler(response)
        name = unquote(response.path.rstrip('/').split('/')[name_segment])
        qualifier = function_names.qualifier_of(name, response._get_param('Qualifier', None))
        if qualifier is None or qualifier == '$LATEST' or qualifier.isdigit():
            return answer
        document = json.loads(answer)
        if 'Configuration' in document:
            document['Configuration'] = alias_arn(document['Configuration'], qualifier)
        else:
            document = alias_arn(document, qualifier)
        return json.dumps(document)

    return answered


def listed(configuration):
    """A configuration in a list: without the state or runtime version (test_list_functions,
    list_default; test_version_lifecycle, list_versions_result)."""
    return {key: value for key, value in configuration.items()
            if not key.startswith(NOT_LISTED)}


def _listing(handler, key):
    def answered(response):
        version = (response.querystring.get('FunctionVersion') or [None])[0]
        if version not in (None, 'ALL'):  # test_list_functions, ..._invalid_functionversion
            raise function_names.InvalidParameters([
                f"Value '{version}' at 'functionVersion' failed to satisfy constraint: Member "
                f"must satisfy enum value set: [ALL]"])
        document = json.loads(handler(response))
        document[key] = [listed(configuration) for configuration in document[key]]
        return json.dumps(document)

    return answered


def install():
    """Once per process: moto's configurations answer through here."""
    if getattr(LambdaFunction.get_configuration, 'shaped', False):
        return
    backend_update_code = LambdaBackend.update_function_code
    backend_update_configuration = LambdaBackend.update_function_configuration

    def update_code_of_function(backend, function_name, qualifier, body):
        check_revision(backend.get_function(function_name, qualifier), body.get('RevisionId'))
        answer = backend_update_code(backend, function_name, qualifier, body)
        return published(answer) if body.get('Publish') else answer

    def update_configuration_of_function(backend, function_name, qualifier, body):
        check_revision(backend.get_function(function_name, qualifier), body.get('RevisionId'))
        return backend_update_configuration(backend, function_name, qualifier, body)

    LambdaBackend.update_function_code = update_code_of_function
    LambdaBackend.update_function_configuration = update_configuration_of_function
    for handler, key in (('list_functions', 'Functions'), ('list_versions_by_function',
                                                          'Versions')):
        setattr(LambdaResponse, handler, _listing(getattr(LambdaResponse, handler), key))
    for handler, name_segment in (('get_function', -1), ('get_function_configuration', -2)):
        setattr(LambdaResponse, handler,
                _naming_the_alias(getattr(LambdaResponse, handler), name_segment))
    original_configuration = LambdaFunction.get_configuration
    original_update, original_code = (LambdaFunction.update_configuration,
                                      LambdaFunction.update_function_code)

    def get_configuration(function, on_create=False):
        return shaped(function, original_configuration(function, on_create), on_create)

    def update_configuration(function, updates):
        transition(function)
        answer = updating(original_update(function, updates))
        transition(function)
        return answer

    def update_function_code(function, updated_spec):
        if updated_spec.get('DryRun'):
            return original_code(function, updated_spec)
        transition(function)
        answer = updating(original_code(function, updated_spec))
        transition(function)
        return answer

    get_configuration.shaped = True
    LambdaFunction.get_configuration = get_configuration
    LambdaFunction.update_configuration = update_configuration
    LambdaFunction.update_function_code = update_function_code
