"""Board maths for the monthly Business Coordination Board pack: pure functions, no I/O.

Modules: ``months`` (calendar and financial-year months), ``cells`` (numerator/denominator cells
and pooling), ``rules`` (versioned definitions), ``stats`` (Higher/Lower/Comparable tests),
``dashboard`` (the 12 columns), ``channels`` (the channel table), ``narrative`` (sentences with
their facts), ``format`` (board formatting) and ``pack`` (everything together, as JSON).
"""
