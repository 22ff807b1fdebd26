"""What every partner adapter shares: its validated configuration file (``config``), its local
state of what it has sent (``state``), and the retry policy for transient failures (``retry``).
Adapters talk to the hub only through its published WSDLs (zeep), like any outside system: nothing
here imports the hub (pyproject.toml, the ``adapters`` contract)."""
