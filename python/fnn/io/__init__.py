"""Files: the pickle-free model format (model_file), tables and arrays read for the command line
(data_files) and the built-in data sets. Imports only fnn.core.
"""
