"""The one kind of error the command line answers with one line and exit code 2.

Every layer raises a subclass of `BadInput` for input the user must fix (a config, a run
directory, a journal, two runs with nothing in common); its message is meant for the user as
it is. Anything else is a bug and keeps its traceback.
"""


class BadInput(ValueError):
    """Input the user must fix; the message says what is wrong and how to fix it."""
