"""IAM enforced by the local endpoint (make up's default): each function runs with exactly the
least-privilege role `make infra` gave it, and taking one permission away makes exactly the
call that needs it fail with AccessDenied, the way it would on AWS."""
import json
import re
import urllib.request

import boto3
from botocore.exceptions import ClientError

from tests import images
from tests.e2e.endpoint import (REGION, RESIZED_BUCKET, UPLOAD_BUCKET, EndpointTestCase,
                                fetch, post_form)

RESIZE_ROLE = 'image-service-ResizeImage-dev'
LIST_ROLE = 'image-service-ListImage-dev'


class IamEnforcementTest(EndpointTestCase):
    def role_policy(self, role):
        """The policy the deploy put (awscli answers it decoded)."""
        return self.client('iam').get_role_policy(RoleName=role, PolicyName=role)[
            'PolicyDocument']

    def without(self, role, action):
        """Take one action out of the role's policy until the test ends."""
        original = self.role_policy(role)
        policy = json.loads(json.dumps(original))
        for statement in policy['Statement']:
            actions = statement['Action'] if isinstance(statement['Action'], list) \
                else [statement['Action']]
            statement['Action'] = [name for name in actions if name != action]
        policy['Statement'] = [statement for statement in policy['Statement']
                               if statement['Action']]
        iam = self.client('iam')
        iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=json.dumps(policy))
        self.addCleanup(iam.put_role_policy, RoleName=role, PolicyName=role,
                        PolicyDocument=json.dumps(original))

    def log_records(self, function):
        return [json.loads(line) for line in self.log_messages(function) if line.startswith('{')]

    def test_the_endpoint_enforces_iam(self):
        with urllib.request.urlopen(f'{self.url}/_local/health') as response:
            self.assertEqual(json.load(response)['iam'], 'enforced')
        stranger = boto3.client('s3', endpoint_url=self.url, region_name=REGION,
                                aws_access_key_id='AKIAIOSFODNN7EXAMPLE',
                                aws_secret_access_key='not-a-key')
        with self.assertRaises(ClientError) as caught:
            stranger.list_objects_v2(Bucket=UPLOAD_BUCKET)
        self.assertEqual(caught.exception.response['Error']['Code'], 'InvalidAccessKeyId')
        status, body = fetch(f'{self.url}/{RESIZED_BUCKET}/uploads/anything')
        self.assertEqual(status, 403, 'an unsigned request is anonymous, and refused')
        self.assertIn(b'<Code>AccessDenied</Code>', body)

    def test_each_function_works_with_exactly_its_role(self):
        form = self.upload_form()  # signed by the gallery, with its role's session
        self.assertTrue(form['fields']['x-amz-credential'].startswith('ASIA'))
        self.assertIn('x-amz-security-token', form['fields'])
        self.assertEqual(post_form(form, images.jpeg(1200, 900))[0], 204)
        key = form['key']
        self.wait_for(lambda: self.exists(RESIZED_BUCKET, key), what='the resized image')
        self.wait_for(lambda: not self.exists(UPLOAD_BUCKET, key), what='the original deleted')
        status, page = fetch(self.gallery)
        self.assertEqual(status, 200)
        image_url = re.search(rf'src="([^"]*{re.escape(key)}[^"]*)"', page.decode())[1]
        status, body = fetch(image_url.replace('&amp;', '&'))
        self.assertEqual((status, body[:2]), (200, b'\xff\xd8'), 'the role-signed image URL')
        forged = image_url.replace('&amp;', '&').replace(key, key + 'x')
        self.assertEqual(fetch(forged)[0], 403, 'a presigned URL names exactly one object')
        with urllib.request.urlopen(f'{self.gallery}status?key={key}') as response:
            self.assertEqual(json.load(response)['state'], 'resized')
        self.assertFalse([record for record in self.log_records('ResizeImage-dev')
                          if record.get('event') == 'failed'])

    def resize_without(self, action):
        """Upload once with `action` taken from the resize role; the key and its failure."""
        self.without(RESIZE_ROLE, action)
        form = self.upload_form()
        self.assertEqual(post_form(form, images.jpeg(800, 600))[0], 204)
        failures = self.wait_for(lambda: [
            record for record in self.log_records('ResizeImage-dev')
            if record.get('event') == 'failed' and record.get('key') == form['key']],
            what=f'the resize failing without {action}')
        self.assertIn('AccessDenied', failures[0]['detail'])
        return form['key'], failures[0]

    def test_without_put_object_the_resize_fails_and_keeps_the_original(self):
        key, failure = self.resize_without('s3:PutObject')
        self.assertEqual(failure['operation'], 'PutObject')
        self.assertTrue(self.exists(UPLOAD_BUCKET, key), 'the original is kept')
        self.assertFalse(self.exists(RESIZED_BUCKET, key))

    def test_without_delete_object_the_copy_is_written_and_the_original_kept(self):
        key, failure = self.resize_without('s3:DeleteObject')
        self.assertEqual(failure['operation'], 'DeleteObject')
        self.assertTrue(self.exists(RESIZED_BUCKET, key))
        self.assertTrue(self.exists(UPLOAD_BUCKET, key), 'the original is kept')

    def test_without_list_bucket_the_gallery_reports_the_store_failing(self):
        self.without(LIST_ROLE, 's3:ListBucket')
        status, page = fetch(self.gallery)
        self.assertEqual(status, 502)
        self.assertIn(b'did not answer as expected', page)
        errors = [record for record in self.log_records('ListImage-dev')
                  if record.get('event') == 's3-error']
        self.assertEqual(errors[-1]['code'], 'AccessDenied')
        self.assertIn('ListObjectsV2', errors[-1]['detail'])

    def test_without_put_object_the_galleries_forms_are_refused(self):
        """A presigned POST carries its signer's permissions: S3 refuses the upload itself."""
        self.without(LIST_ROLE, 's3:PutObject')
        form = self.upload_form()
        status, body = post_form(form, images.jpeg(400, 300))
        self.assertEqual(status, 403)
        self.assertIn(b'<Code>AccessDenied</Code>', body)
        self.assertFalse(self.exists(UPLOAD_BUCKET, form['key']), 'nothing was stored')
