"""scikit-learn's conventions: FNNClassifier, FNNRegressor (estimator_base), the columns of raw
tables (column_kinds, preprocessing) and fitted pipelines in model files (transformer_file).
Imports fnn.scale and below.
"""
