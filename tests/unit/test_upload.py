"""`make upload`'s wait: it follows the gallery's /status answers and stops at the outcome."""
import time
import unittest

from deploy.upload import not_resized, retry_line, wait_for_outcome

KEY = 'uploads/8236587190999-0a1b2c3d4e5f'
PENDING = {'key': KEY, 'state': 'pending'}
RESIZED = {'key': KEY, 'state': 'resized', 'url': 'http://127.0.0.1:4566/resized/' + KEY}
REJECTED = {'key': KEY, 'state': 'rejected', 'reason': 'unsupported-format',
            'detail': 'not a JPEG, PNG, GIF or WebP image'}
FAILED = {'key': KEY, 'state': 'failed', 'reason': 'function-stopped',
          'detail': 'the resize function stopped without finishing on its last attempt'}
MISSING = {'key': KEY, 'state': 'missing'}


def attempt(number, attempts=3):
    return {'key': KEY, 'state': 'pending', 'attempt': number, 'attempts': attempts}


class FakeTime:
    """A clock that moves only when slept on, so a 30 s wait takes no time."""

    def __init__(self):
        self.now = 0.0
        self.slept = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


class WaitForOutcomeTest(unittest.TestCase):
    def follow(self, answers, seconds=30, interval=0.25):
        """Run the wait over these answers (the last one repeats); returns (the answer it
        stopped at, how many times it asked, the retries it announced, the fake time)."""
        answers, asked, retries, fake = list(answers), [], [], FakeTime()

        def ask():
            asked.append(fake.now)
            return answers.pop(0) if len(answers) > 1 else answers[0]

        answer = wait_for_outcome(ask, seconds, retries.append, clock=fake.clock,
                                  sleep=fake.sleep, interval=interval)
        return answer, len(asked), retries, fake

    def test_a_rejection_stops_the_wait_at_once(self):
        answer, asked, _, fake = self.follow([PENDING, attempt(1), REJECTED])
        self.assertEqual(answer, REJECTED)
        self.assertEqual(asked, 3)
        self.assertEqual(fake.now, 0.5, 'two polls, not the 30 s of UPLOAD_WAIT')

    def test_a_failure_stops_the_wait_at_once(self):
        answer, asked, _, _ = self.follow([attempt(3), FAILED])
        self.assertEqual((answer, asked), (FAILED, 2))

    def test_resized_is_returned_when_seen(self):
        answer, asked, retries, _ = self.follow([PENDING, attempt(1), RESIZED])
        self.assertEqual((answer, asked, retries), (RESIZED, 3, []))

    def test_each_retry_is_announced_once(self):
        _, _, retries, _ = self.follow([attempt(1), attempt(2), attempt(2), attempt(2),
                                        attempt(3), RESIZED])
        self.assertEqual([retry_line(answer).split(':')[0] for answer in retries],
                         ['attempt 2 of 3', 'attempt 3 of 3'])

    def test_a_retry_first_seen_late_is_still_announced(self):
        _, _, retries, _ = self.follow([PENDING, attempt(3), FAILED])
        self.assertEqual(retries, [attempt(3)])

    def test_the_wait_is_capped_and_never_sleeps_past_it(self):
        answer, asked, _, fake = self.follow([attempt(1)], seconds=1.1)
        self.assertEqual(answer, attempt(1))
        self.assertEqual(fake.now, 1.1)
        self.assertEqual(fake.slept, [0.25] * 4 + [fake.slept[-1]])
        self.assertAlmostEqual(fake.slept[-1], 0.1)
        self.assertEqual(asked, 6, 'asked once more at the deadline')

    def test_missing_once_is_the_moment_between_copy_and_delete(self):
        answer, _, _, _ = self.follow([attempt(1), MISSING, RESIZED])
        self.assertEqual(answer, RESIZED)

    def test_missing_twice_in_a_row_means_the_upload_is_gone(self):
        answer, asked, _, _ = self.follow([attempt(1), MISSING, MISSING, PENDING])
        self.assertEqual((answer, asked), (MISSING, 3))

    def test_real_time_a_rejection_returns_in_milliseconds(self):
        answers = iter([PENDING, REJECTED])
        started = time.monotonic()
        answer = wait_for_outcome(lambda: next(answers), 30, self.fail, interval=0.001)
        self.assertEqual(answer, REJECTED)
        self.assertLess(time.monotonic() - started, 0.5)


class NotResizedTest(unittest.TestCase):
    LOCATION = f's3://image-service-uploads-123456789012-us-east-1/{KEY}'

    def test_a_rejection_says_why_and_where_the_original_is(self):
        message = not_resized(REJECTED, 30, self.LOCATION)
        self.assertTrue(message.startswith(
            'rejected: unsupported-format: not a JPEG, PNG, GIF or WebP image\n'), message)
        self.assertIn(self.LOCATION, message)
        self.assertNotIn('30 s', message)

    def test_a_failure_says_why(self):
        message = not_resized(FAILED, 30, self.LOCATION)
        self.assertTrue(message.startswith('failed: function-stopped: the resize function '
                                           'stopped without finishing'), message)

    def test_a_rejection_without_detail_has_no_dangling_colon(self):
        message = not_resized(dict(REJECTED, detail=''), 30, self.LOCATION)
        self.assertTrue(message.startswith('rejected: unsupported-format\n'), message)

    def test_still_pending_names_the_attempt_under_way(self):
        message = not_resized(attempt(2), 30, self.LOCATION)
        self.assertTrue(message.startswith('not resized after 30 s: attempt 2 of 3 is under way'),
                        message)
        self.assertIn('make -C image_resize logs', message)

    def test_never_started_says_so(self):
        message = not_resized(PENDING, 7.5, self.LOCATION)
        self.assertIn('not resized after 7.5 s: the resize function has not started on it',
                      message)

    def test_gone(self):
        self.assertIn('is gone and has no resized copy', not_resized(MISSING, 30, self.LOCATION))


if __name__ == '__main__':
    unittest.main()
