"""`make demo`'s closing hints: each names a make target that exists, with the port it ran on."""
import os
import re
import shlex
import unittest

from deploy.functions import ROOT
from local_endpoint.demo import next_steps


def rules(folder):
    """The targets the Makefile in `folder` defines, its included lambda.mk's too."""
    texts = []
    for name in ('Makefile', 'lambda.mk' if folder == ROOT else '../lambda.mk'):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            with open(path) as handle:
                texts.append(handle.read())
    return {target for text in texts
            for line in re.findall(r'^([a-z][a-z -]*):(?!=)', text, re.M)
            for target in line.split()}


class NextStepsTest(unittest.TestCase):
    def commands(self, port):
        return [line.strip().split('  #')[0] for line in next_steps('/p/sample.jpg', port)[1:]]

    def test_every_hint_is_a_target_that_exists(self):
        for command in self.commands('4566'):
            words = shlex.split(command.replace('eval "$(', '').replace(')"', ''))
            self.assertEqual(words[0], 'make', command)
            folder = ROOT
            if words[1] == '-C':
                folder, words = os.path.join(ROOT, words[2]), words[:1] + words[3:]
            target = next(word for word in words[1:] if not word.startswith('-')
                          and '=' not in word)
            self.assertIn(target, rules(folder), command)

    def test_the_port_is_named_where_it_is_not_the_default(self):
        self.assertFalse(any('LOCAL_PORT' in command for command in self.commands('4566')))
        ported = [command for command in self.commands('4570') if 'LOCAL_PORT=4570' in command]
        self.assertEqual(len(ported), 3, ported)  # local-env, down, reset: the rest follow the env
