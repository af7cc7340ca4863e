"""A fuzz harness for pextlab's readers and commands.

Every input is the real kernel files in ``data/real-kernel`` (or slices of
them, for the big page_owner dumps and stack lists) damaged by a few seeded
mutators (:mod:`.mutators`), fed to one target (:mod:`.targets`): a reader,
which must return or raise a :class:`~pextlab.errors.ParseError` naming the
file, the line and what was expected, or a command, which must exit with 0,
1 or 2 and never print a traceback.  :mod:`.runner` runs the inputs in a
worker process with a per-input watchdog (a hang is a failure) and prints a
summary table.

    python -m tests.fuzz --inputs 100000          # what `make fuzz` runs
    python -m tests.fuzz --replay page_owner 1234  # one input again, with its text

``tests/test_fuzz_readers.py`` runs a bounded budget of the same inputs in
``make test``.
"""
