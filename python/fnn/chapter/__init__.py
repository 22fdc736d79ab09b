"""The chapter for readers: gradient checking (4.5.1), automatic differentiation (4.5.3), the
experiments of `fnn experiment` and their figures. Imports fnn.network and below.
"""
