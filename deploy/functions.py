"""Import a function's modules the way Lambda does: its folder is the task root.

Both functions have a module called ``handler``, so each is loaded under its own name
(``image_resize_handler``, ``image_list_handler``) instead of colliding in sys.modules.
"""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository


def load(function, module='handler'):
    name = f'{function}_{module}'
    if name in sys.modules:
        return sys.modules[name]
    folder = os.path.join(ROOT, function)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # for the handler's own sibling imports (resize)
    spec = importlib.util.spec_from_file_location(name, os.path.join(folder, f'{module}.py'))
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[name] = loaded
    spec.loader.exec_module(loaded)
    return loaded
