"""Training beyond one process's memory or one machine: data-parallel training over MPI
(distributed), shards of files (shards) and streamed blocks (streaming). Imports fnn.network and below.
"""
