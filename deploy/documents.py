"""The JSON documents `make infra` hands to awscli: IAM policies and bucket configuration.

Each function gets its own role with only what its code calls, instead of the tutorial's
AmazonS3FullAccess. Two grants go beyond the obvious, both deliberate:
- s3:ListBucket: without it S3 answers a missing key with 403 instead of 404, and the
  functions could not tell "already resized" or "not uploaded yet" from "access denied";
- s3:GetObject on the resized bucket for image_resize: a redelivered event checks there
  whether its work is already done.

    python -m deploy.documents NAME --upload-bucket B --resized-bucket B ... > NAME.json
"""
import argparse
import json
import sys


def trust_policy():
    return _policy({'Effect': 'Allow', 'Principal': {'Service': 'lambda.amazonaws.com'},
                    'Action': 'sts:AssumeRole'})


def resize_policy(names):
    upload, resized = _bucket(names, names.upload_bucket), _bucket(names, names.resized_bucket)
    return _policy(
        {'Sid': 'ReadTagAndDeleteUploads', 'Effect': 'Allow',
         'Action': ['s3:GetObject', 's3:GetObjectVersion', 's3:DeleteObject',
                    's3:DeleteObjectVersion', 's3:GetObjectTagging', 's3:GetObjectVersionTagging',
                    's3:PutObjectTagging', 's3:PutObjectVersionTagging'],
         'Resource': f'{upload}/{names.upload_prefix}*'},
        {'Sid': 'WriteResized', 'Effect': 'Allow', 'Action': ['s3:PutObject', 's3:GetObject'],
         'Resource': f'{resized}/{names.upload_prefix}*'},
        {'Sid': 'TellMissingFromDenied', 'Effect': 'Allow', 'Action': 's3:ListBucket',
         'Resource': [upload, resized]},
        _logs_statement(names))


def list_policy(names):
    upload, resized = _bucket(names, names.upload_bucket), _bucket(names, names.resized_bucket)
    return _policy(
        {'Sid': 'ListAndShowResized', 'Effect': 'Allow', 'Action': 's3:GetObject',
         'Resource': f'{resized}/{names.upload_prefix}*'},
        {'Sid': 'SignUploadFormsAndReadStatus', 'Effect': 'Allow',
         'Action': ['s3:PutObject', 's3:GetObjectTagging'],
         'Resource': f'{upload}/{names.upload_prefix}*'},
        {'Sid': 'ListAndLocateBuckets', 'Effect': 'Allow',
         'Action': ['s3:ListBucket', 's3:GetBucketLocation'], 'Resource': [upload, resized]},
        _logs_statement(names))


def notification(names):
    """ObjectCreated under the upload prefix invokes image_resize."""
    return {'LambdaFunctionConfigurations': [{
        'Id': 'resize-uploads',
        'LambdaFunctionArn': names.function_arn,
        'Events': ['s3:ObjectCreated:*'],
        'Filter': {'Key': {'FilterRules': [{'Name': 'prefix', 'Value': names.upload_prefix}]}},
    }]}


def cors(names):
    """The gallery's page posts the upload form to the bucket from its own origin."""
    return {'CORSRules': [{'AllowedOrigins': [names.origin.rstrip('/')],
                           'AllowedMethods': ['POST'], 'AllowedHeaders': ['*'],
                           'ExposeHeaders': ['ETag'], 'MaxAgeSeconds': 3000}]}


def lifecycle(names):
    """Refused originals are kept for people to look at, then expire."""
    return {'Rules': [
        {'ID': 'expire-rejected-uploads', 'Status': 'Enabled',
         'Filter': {'Tag': {'Key': 'resize-status', 'Value': 'rejected'}},
         'Expiration': {'Days': names.rejected_days}},
        {'ID': 'abort-incomplete-multipart-uploads', 'Status': 'Enabled',
         'Filter': {'Prefix': ''},
         'AbortIncompleteMultipartUpload': {'DaysAfterInitiation': 1}},
    ]}


def _policy(*statements):
    return {'Version': '2012-10-17', 'Statement': list(statements)}


def _bucket(names, bucket):
    return f'arn:{names.partition}:s3:::{bucket}'


def _logs_statement(names):
    group = (f'arn:{names.partition}:logs:{names.region}:{names.account}:'
             f'log-group:/aws/lambda/{names.function}')
    return {'Sid': 'OwnLogGroup', 'Effect': 'Allow',
            'Action': ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
            'Resource': [group, f'{group}:*']}


DOCUMENTS = {'trust-policy': trust_policy, 'resize-policy': resize_policy,
             'list-policy': list_policy, 'notification': notification, 'cors': cors,
             'lifecycle': lifecycle}


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m deploy.documents')
    parser.add_argument('document', choices=sorted(DOCUMENTS))
    parser.add_argument('--upload-bucket')
    parser.add_argument('--resized-bucket')
    parser.add_argument('--upload-prefix', default='uploads/')
    parser.add_argument('--partition', default='aws')
    parser.add_argument('--region')
    parser.add_argument('--account')
    parser.add_argument('--function', help='function name, for its log group')
    parser.add_argument('--function-arn', help='for the notification')
    parser.add_argument('--origin', help="the gallery's origin, for CORS")
    parser.add_argument('--rejected-days', type=int, default=30)
    names = parser.parse_args(argv)
    document = DOCUMENTS[names.document]
    print(json.dumps(document() if document is trust_policy else document(names), indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
