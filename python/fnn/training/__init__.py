"""Algorithm 4.1 around the engine: the settings of a fit (one TrainingSettings from every entry
point to the kernels), optimisers' state, learning-rate schedules, early stopping, the loop itself
(training_loop.fit_network, train) and the checks after a fit. Imports fnn.core.
"""
