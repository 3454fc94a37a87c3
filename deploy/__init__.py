"""Helpers behind the Makefiles: they compute and decide; the Makefiles call awscli."""
