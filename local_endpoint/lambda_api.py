"""The Lambda API's answers where moto's differ from AWS's, installed together: error bodies
(local_endpoint.lambda_errors), function names in every form Lambda takes
(local_endpoint.function_names), and the Runtime and Role checks (local_endpoint.validation)."""
from local_endpoint import function_names, lambda_errors, validation


def install():
    """Once per process, before the endpoint answers; the checks run before moto's own and
    after those installed later (Architectures, the code's limits)."""
    lambda_errors.install()
    function_names.install()
    validation.install()
