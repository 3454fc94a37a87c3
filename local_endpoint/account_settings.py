"""get-account-settings, which moto does not answer (its router finds no path: a 404 page).

Lambda answers the account's limits and usage (test_lambda_api.snapshot.json,
TestLambdaAccountSettings::test_account_settings, acc_settings_modded: AccountLimit's
CodeSizeUnzipped, CodeSizeZipped, ConcurrentExecutions, TotalCodeSize and
UnreservedConcurrentExecutions; AccountUsage's FunctionCount and TotalCodeSize). The limits are
Lambda's default quotas (Lambda developer guide, Lambda quotas), less what functions reserve;
the code counted is every version's and every layer version's.
"""
import json

from moto.awslambda import urls
from moto.awslambda.responses import LambdaResponse

from local_endpoint.code_limits import ZIPPED_LIMIT
from local_endpoint.unpack import UNZIPPED_LIMIT

PATH = r'{0}/(?P<api_version>[^/]+)/account-settings/?$'
TOTAL_CODE_SIZE = 80530636800  # 75 GB
CONCURRENT_EXECUTIONS = 1000


def get_account_settings(response):
    backend = response.backend
    entries = list(backend._lambdas._functions.values())
    versions = [function for entry in entries
                for function in [entry['latest'], *entry['versions']] if function is not None]
    layer_versions = [version for layer in backend._layers._layers.values()
                      for version in layer.layer_versions.values()]
    reserved = sum(int(entry['latest'].reserved_concurrency or 0) for entry in entries
                   if entry['latest'] is not None)
    return 200, {}, json.dumps({
        'AccountLimit': {'TotalCodeSize': TOTAL_CODE_SIZE, 'CodeSizeUnzipped': UNZIPPED_LIMIT,
                         'CodeSizeZipped': ZIPPED_LIMIT,
                         'ConcurrentExecutions': CONCURRENT_EXECUTIONS,
                         'UnreservedConcurrentExecutions': CONCURRENT_EXECUTIONS - reserved},
        'AccountUsage': {'TotalCodeSize': sum(function.code_size for function in versions)
                         + sum(version.code_size for version in layer_versions),
                         'FunctionCount': len(entries)}})


def install():
    LambdaResponse.get_account_settings = get_account_settings
    urls.url_paths[PATH] = LambdaResponse.dispatch
