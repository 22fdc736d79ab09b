"""The chapter's network, piece by piece (section 4.1-4.3): activations, output layers, initial
weights, the record of a fit; and what every layer above uses: input checks, per-model locks, the
CPUs a process may use. Imports nothing of fnn's but the engine modules (fnn._engine …).
"""
