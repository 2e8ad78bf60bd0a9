"""Development tools: the synthetic data generator and its phrase tables, the bench and the classifier's
evaluation. No production module imports this package (tests/unit/test_layers.py); the CLI's dev commands
(generate, bench, classify-eval, demo) reach it lazily."""
