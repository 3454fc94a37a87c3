"""A local AWS endpoint that really runs the deployed functions: moto in server mode for the
control planes, plus a Lambda runtime executing each deployed zip through awslambdaric."""
