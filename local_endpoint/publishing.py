"""publish-version numbers versions and delete-function --qualifier guards them, as Lambda does.

moto numbers a new version len(versions) + 1, so once a version is deleted the next publish
reuses a number and two versions answer to `F:2`. It publishes after any update call, even one
that changed nothing (the same zip uploaded again). And it deletes a version an alias points at
(the alias then runs nothing), `$LATEST` alone, or the version behind an alias named as the
qualifier. Lambda (aws-releases.md 1.1, 1.4): a version number is never given twice, publishing
code and configuration identical to the last version's answers that version (201, its own
Description), and those deletions are refused. A CodeSha256 or RevisionId given to
publish-version that is not $LATEST's is refused too (test_publish_with_wrong_sha256,
test_publish_with_wrong_revisionid).
"""
import copy
import json
import re
import threading
from urllib.parse import unquote

from moto.awslambda.exceptions import LambdaClientError
from moto.awslambda.models import LambdaStorage
from moto.awslambda.responses import LambdaResponse

from local_endpoint import configurations, function_names, versions

NUMBER = re.compile(r'^[0-9]+$')
# Not configuration: they differ between a version and the $LATEST it was published from.
PER_VERSION = ('FunctionArn', 'Version', 'LastModified', 'State', 'LastUpdateStatus',
               'RevisionId')
HIGHEST = 'highest_published'  # kept in moto's entry for the function: gone with the function
publishing = threading.Lock()  # two publishes at once must not draw the same number


class InvalidParameterValue(LambdaClientError):
    def __init__(self, message):
        super().__init__('InvalidParameterValueException', message)


class ResourceConflict(LambdaClientError):
    code = 409

    def __init__(self, message):
        super().__init__('ResourceConflictException', message)


def install():
    """Once per process: moto's publish and delete go through here."""
    if getattr(LambdaStorage.publish_version, 'numbers_once', False):
        return
    original_delete = LambdaStorage.del_function

    def del_function(storage, name_or_arn, qualifier=None):
        function_names.check_region(name_or_arn, storage.region_name)
        qualifier = function_names.qualifier_of(name_or_arn, qualifier)
        name = function_names.split(name_or_arn)[0]
        check_deletable(storage, name, qualifier)
        if qualifier is not None and storage._get_version(name, qualifier) is None:
            return None  # a version that is not there is deleted already: Lambda answers 204
        return original_delete(storage, name, qualifier)

    original_response = LambdaResponse.publish_version

    def publish_version_response(response):
        """publish-version's CodeSha256 and RevisionId, which moto ignores: the code and the
        revision to publish must be those."""
        storage, name = response.backend._lambdas, unquote(response.path.split('/')[-2])
        expected = response._get_param('CodeSha256')
        if expected is not None:
            check_code_sha256(storage, name, expected)
        revision = response._get_param('RevisionId')
        if revision is not None:
            configurations.check_revision(
                storage.get_function_by_name_or_arn_forbid_qualifier(name), revision)
        return original_response(response)

    publish_version.numbers_once = True
    LambdaStorage.publish_version, LambdaStorage.del_function = publish_version, del_function
    LambdaResponse.publish_version = publish_version_response


def check_code_sha256(storage, name_or_arn, expected):
    """Refuse to publish other code than the caller meant (test_lambda_api.snapshot.json,
    test_publish_with_wrong_sha256, publish_wrong_sha256_exc)."""
    latest = storage.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
    if expected != latest.code_sha_256:
        raise InvalidParameterValue(
            f'CodeSHA256 ({expected}) is different from current CodeSHA256 in $LATEST '
            f'({latest.code_sha_256}). Please try again with the CodeSHA256 in $LATEST.')


def source_of(function):
    """The code and configuration publish-version compares, as one string (a version keeps
    the one it was published from: its own Description may have been given at publish)."""
    configuration = function.get_configuration()
    return json.dumps({key: value for key, value in configuration.items()
                       if key not in PER_VERSION}, sort_keys=True, default=str)


def publish_version(storage, name_or_arn, description=''):
    latest = storage.get_function_by_name_or_arn_forbid_qualifier(name_or_arn)
    entry = storage._functions[latest.function_name]
    published = entry['versions']
    source = source_of(latest)
    with publishing:
        if published and getattr(published[-1], 'published_from', None) == source:
            return published[-1]
        number = max([entry.get(HIGHEST, 0)] + [int(v.version) for v in published]) + 1
        entry[HIGHEST] = number
        version = copy.copy(latest)
        version.set_version(number)
        version.published_from = source
        version.revision_id = None  # a version has a RevisionId of its own (configurations)
        configurations.transition(latest)  # and publishing changes $LATEST's
        if description:
            version.description = description
        published.append(version)
        storage._arns[version.function_arn] = version
    return version


def check_deletable(storage, name, qualifier):
    """Lambda's refusals of delete-function with a qualifier, in its order: the qualifier's
    form first, then the function, then the aliases on the version (as primary, or as the
    additional version of their routing: deleting it would leave them routing to nothing)."""
    if qualifier is None:
        return
    if qualifier == versions.LATEST:
        raise InvalidParameterValue(
            '$LATEST version cannot be deleted without deleting the function.')
    if not NUMBER.match(qualifier):
        raise InvalidParameterValue('Deletion of aliases is not currently supported.')
    storage.get_function_by_name_or_arn_with_qualifier(name)  # moto's 404 for no function
    referencing = sorted(
        alias.name for alias in storage._get_function_aliases(name).values()
        if str(alias.function_version) == qualifier
        or qualifier in ((alias.routing_config or {}).get('AdditionalVersionWeights') or {}))
    if referencing:
        raise ResourceConflict('Unable to delete version because the following aliases '
                               f'reference it: [{", ".join(referencing)}]')
