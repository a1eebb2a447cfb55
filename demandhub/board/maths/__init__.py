"""Board maths for the monthly Business Coordination Board pack: pure functions, no I/O.

Modules: ``months`` (calendar and financial-year months), ``cells`` (numerator/denominator cells
and pooling), ``rules`` (versioned definitions), ``stats`` (Higher/Lower/Comparable tests),
``dashboard`` (the 12 columns), ``channels`` (the channel table), ``narrative`` (sentences with
their facts), ``format`` (board formatting), ``pack`` (everything together, as JSON), ``layout``
(the rows every format lays out) and ``workdays`` (the first working day a pack is due).
"""
