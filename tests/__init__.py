"""Every endpoint the tests start (dozens, each with a state folder of its own) installs each
Python runtime folder once for all of them (local_endpoint.runtimes, LOCAL_RUNTIME_SEED)."""
import os

from deploy.functions import ROOT

os.environ.setdefault('LOCAL_RUNTIME_SEED', os.path.join(ROOT, '.local', 'test-runtimes'))
