"""The monthly Business Coordination Board pack, in one package.

``maths`` (pure), ``catalogue`` (what is measured and how the pack is set), ``warehouse`` (reads and
writes the warehouse), ``render`` (the output formats); ``report`` assembles one pack and ``commands``
is the ``demandhub board`` command line.
"""
