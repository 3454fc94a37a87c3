"""The Lambda API's answers where moto's differ from AWS's, installed together: error bodies
(local_endpoint.lambda_errors), function names in every form Lambda takes
(local_endpoint.function_names), the checks of a function's name and configuration
(local_endpoint.validation), resource policies (local_endpoint.permissions), reserved
concurrency (local_endpoint.concurrency), function URL configurations
(local_endpoint.url_configs), tags (local_endpoint.tags), layer versions
(local_endpoint.layers), the configuration every call answers
(local_endpoint.configurations), the account's settings (local_endpoint.account_settings),
and the JSON type of every answer (local_endpoint.json_content)."""
from local_endpoint import (account_settings, concurrency, configurations, function_names,
                            json_content, lambda_errors, layers, permissions, tags, url_configs,
                            validation)


def install():
    """Once per process, before the endpoint answers, after the code's limits and
    Architectures: these checks of the request come before theirs, as on AWS."""
    json_content.install()
    lambda_errors.install()
    function_names.install()
    validation.install()
    permissions.install()
    concurrency.install()
    url_configs.install()
    tags.install()
    layers.install()
    configurations.install()
    account_settings.install()
