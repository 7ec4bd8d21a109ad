"""Errors the user can fix. The CLI turns any of them into one message and exit code 2.

Everything else is a bug in the project and keeps its traceback.
"""
from __future__ import annotations


class UserError(Exception):
    """A problem with the user's input: a config, a data file, a run directory or a flag."""


class ConfigError(UserError):
    """The experiment config is wrong: bad key, bad type, bad override, Jsonnet error."""


class DataError(UserError):
    """A data file is missing or malformed. The message names the file and line."""


class RunDirError(UserError):
    """The run directory is in a state that forbids the requested action."""


class PluginError(UserError):
    """A component does not fit its kind: a taken name, a config without its tag, a missing method."""
